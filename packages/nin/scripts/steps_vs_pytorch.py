"""PyTorch's side of steps-vs-pytorch.ts: loads ours' starting weights into our PyTorch peer's nin (by layer name;
dropout off), takes the same SGD steps on the same input tensors, and prints both sides' losses and updates apart.

  /usr/bin/python3 steps_vs_pytorch.py OURS.json PATH/TO/peer.py   (inputs.f32 and labels.i32 beside OURS.json)"""
import importlib.util, json, os, sys
import numpy as np
import torch
from torch import nn

ours_file, peer_path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('peer', peer_path)
peer = importlib.util.module_from_spec(spec); spec.loader.exec_module(peer)
torch.set_num_threads(1)
d = json.load(open(ours_file))
here = os.path.dirname(ours_file)
S, B, K = d['inputSize'], d['batchSize'], len(d['losses'])
X = torch.from_numpy(np.fromfile(os.path.join(here, 'inputs.f32'), dtype=np.float32).reshape(K * B, S, S, 1)).permute(0, 3, 1, 2).contiguous()
y = torch.from_numpy(np.fromfile(os.path.join(here, 'labels.i32'), dtype=np.int32).astype(np.int64))
net = peer.build('nin', S)
for m in net.modules():
    if isinstance(m, nn.Dropout): m.p = 0.0
weights = lambda ws: {w['name']: np.array(w['data'], dtype=np.float32).reshape(w['shape']) for w in ws}
start, end = weights(d['start']), weights(d['end'])
peer.load_ours(net, start)
opt = torch.optim.SGD(net.parameters(), lr=d['lr']); loss = nn.CrossEntropyLoss()
net.train()
losses = []
for s in range(K):
    opt.zero_grad(); l = loss(net(X[s * B:(s + 1) * B]), y[s * B:(s + 1) * B]); l.backward(); opt.step(); losses.append(l.item())
print(f'NiN at {S}×{S}, {K} SGD steps of {B} at lr {d["lr"]} from the same weights, dropout off: ours on {d["engine"]}, '
      f'PyTorch {torch.__version__} on the CPU')
print('step  ours loss  PyTorch loss  |difference|')
for s in range(K):
    if s < 3 or (s + 1) % 10 == 0 or s == K - 1:
        print(f'{s + 1:4d}  {d["losses"][s]:9.5f}  {losses[s]:12.5f}  {abs(d["losses"][s] - losses[s]):.1e}')
print('layer           weights apart  update apart  (max |ours − PyTorch| over max |PyTorch|; update = end − start)')
worst = 0.0
theirs_all = peer.to_ours(net)
for name in (n for n in start if n.endswith('/kernel')):
    w0, ours, theirs = start[name], end[name], theirs_all[name]
    apart = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
    update = np.max(np.abs((ours - w0) - (theirs - w0))) / max(np.max(np.abs(theirs - w0)), 1e-30)
    worst = max(worst, update)
    print(f'{name.split("/")[0]:16s}  {apart:12.1e}  {update:12.1e}')
print(f'largest update apart: {worst:.1e}')
