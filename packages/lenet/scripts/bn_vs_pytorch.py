"""PyTorch's side of bn-vs-pytorch.ts: loads ours' starting weights into our PyTorch peer's lenet-bn (by layer name),
takes the same steps on the same batches, and prints both sides' losses and moving statistics apart.

  /usr/bin/python3 bn_vs_pytorch.py OURS.json PATH/TO/peer.py"""
import importlib.util, json, sys
import numpy as np
import torch
from torch import nn

ours_file, peer_path = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('peer', peer_path)
peer = importlib.util.module_from_spec(spec); spec.loader.exec_module(peer)
torch.set_num_threads(1)
d = json.load(open(ours_file))
weights = lambda ws: {w['name']: np.array(w['data'], dtype=np.float32).reshape(w['shape']) for w in ws}
E = weights(d['end'])
net = peer.build('lenet-bn', 28)
peer.load_ours(net, weights(d['start']))
K = len(d['losses'])
X, y = peer.load_fashion_mnist(None, 'train', K * 256, 28)
opt = torch.optim.SGD(net.parameters(), lr=1.0); loss = nn.CrossEntropyLoss()
losses = []
net.train()
for s in range(K):
    xb, yb = X[s * 256:(s + 1) * 256], y[s * 256:(s + 1) * 256]
    opt.zero_grad(); l = loss(net(xb), yb); l.backward(); opt.step(); losses.append(l.item())
print(f'LeNet-BN, {K} SGD steps of 256 at lr 1.0 from the same weights: ours on {d["engine"]}, PyTorch {torch.__version__} on the CPU')
print('step  ours loss  PyTorch loss  |difference|')
for s in range(K):
    if s < 3 or (s + 1) % 10 == 0:
        print(f'{s + 1:4d}  {d["losses"][s]:9.5f}  {losses[s]:12.5f}  {abs(d["losses"][s] - losses[s]):.1e}')
rel = lambda a, b: np.max(np.abs(a - b)) / np.max(np.abs(b))
theirs = peer.to_ours(net)
print('BatchNorm   moving mean apart  moving variance apart  variance PyTorch / ours (median)')
for n in ('conv1_bn', 'conv2_bn', 'fc1_bn', 'fc2_bn'):
    m, v = theirs[n + '/moving_mean'], theirs[n + '/moving_variance']
    om, ov = E[n + '/moving_mean'].ravel(), E[n + '/moving_variance'].ravel()
    print(f'{n:10s}  {rel(om, m):17.1e}  {rel(ov, v):21.1e}  {np.median(v / ov):.5f}')
