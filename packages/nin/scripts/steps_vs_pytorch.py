"""PyTorch's side of steps-vs-pytorch.ts: loads ours' starting weights into torch_reference.py's nin (dropout off),
takes the same SGD steps on the same input tensors, and prints both sides' losses and updates apart."""
import importlib.util, json, os, sys
import numpy as np
import torch
from torch import nn

ours_file, reference = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('torch_reference', reference)
R = importlib.util.module_from_spec(spec); spec.loader.exec_module(R)
torch.set_num_threads(1)
d = json.load(open(ours_file))
here = os.path.dirname(ours_file)
S, B, K = d['inputSize'], d['batchSize'], len(d['losses'])
X = torch.from_numpy(np.fromfile(os.path.join(here, 'inputs.f32'), dtype=np.float32).reshape(K * B, 1, S, S))
y = torch.from_numpy(np.fromfile(os.path.join(here, 'labels.i32'), dtype=np.int32).astype(np.int64))
net = R.nin()
for m in net.modules():
    if isinstance(m, nn.Dropout): m.p = 0.0
convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
pairs = lambda ws: [(ws[i], ws[i + 1]) for i in range(0, len(ws), 2)]  # (kernel, bias) per convolution, in order
start, end = pairs(d['start']), pairs(d['end'])
assert len(start) == len(convs), f'ours has {len(start)} convolutions, PyTorch {len(convs)}'
arr = lambda w: np.array(w['data'], dtype=np.float32).reshape(w['shape'])
t = lambda a: torch.tensor(np.ascontiguousarray(a))
with torch.no_grad():
    for conv, (k, b) in zip(convs, start):  # ours [kh, kw, in, out] → PyTorch [out, in, kh, kw]
        conv.weight.copy_(t(arr(k).transpose(3, 2, 0, 1))); conv.bias.copy_(t(arr(b)))
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
for conv, (k0, b0), (k1, _) in zip(convs, start, end):
    w0, ours = arr(k0).transpose(3, 2, 0, 1), arr(k1).transpose(3, 2, 0, 1)
    theirs = conv.weight.detach().numpy()
    apart = np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs))
    update = np.max(np.abs((ours - w0) - (theirs - w0))) / max(np.max(np.abs(theirs - w0)), 1e-30)
    worst = max(worst, update)
    print(f'{k0["name"].split("/")[0]:16s}  {apart:12.1e}  {update:12.1e}')
print(f'largest update apart: {worst:.1e}')
