"""PyTorch's side of bn-vs-pytorch.ts: loads ours' starting weights into torch_reference.py's lenet_bn, takes the
same steps on the same batches, and prints both sides' losses and moving statistics apart."""
import importlib.util, json, sys
import numpy as np
import torch
from torch import nn

ours_file, reference = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location('torch_reference', reference)
R = importlib.util.module_from_spec(spec); spec.loader.exec_module(R)
torch.set_num_threads(1)
d = json.load(open(ours_file))
W = {w['name']: np.array(w['data'], dtype=np.float32).reshape(w['shape']) for w in d['start']}
E = {w['name']: np.array(w['data'], dtype=np.float32).reshape(w['shape']) for w in d['end']}
net = R.lenet_bn()
conv, lin = {0: 'conv1', 4: 'conv2'}, {9: 'fc1', 12: 'fc2', 15: 'logits'}
bn = {1: 'conv1_bn', 5: 'conv2_bn', 10: 'fc1_bn', 13: 'fc2_bn'}
t = lambda a: torch.tensor(np.ascontiguousarray(a))
with torch.no_grad():
    for i, n in conv.items():  # ours [kh, kw, in, out] → PyTorch [out, in, kh, kw]
        net[i].weight.copy_(t(W[n + '/kernel'].transpose(3, 2, 0, 1))); net[i].bias.copy_(t(W[n + '/bias']))
    for i, n in lin.items():
        k = W[n + '/kernel']
        if n == 'fc1':  # ours flattens 4×4×16 as (h, w, c), PyTorch as (c, h, w)
            k = k.reshape(4, 4, 16, 120).transpose(2, 0, 1, 3).reshape(256, 120)
        net[i].weight.copy_(t(k.T)); net[i].bias.copy_(t(W[n + '/bias']))
    for i, n in bn.items():
        net[i].weight.copy_(t(W[n + '/gamma'])); net[i].bias.copy_(t(W[n + '/beta']))
        net[i].running_mean.copy_(t(W[n + '/moving_mean'])); net[i].running_var.copy_(t(W[n + '/moving_variance']))
K = len(d['losses'])
X, y = R.load_fmnist(K * 256, 28)
opt = torch.optim.SGD(net.parameters(), lr=1.0); loss = nn.CrossEntropyLoss()
losses = []
for s in range(K):
    xb, yb = X[s * 256:(s + 1) * 256], y[s * 256:(s + 1) * 256]
    opt.zero_grad(); l = loss(net(xb), yb); l.backward(); opt.step(); losses.append(l.item())
print(f'LeNet-BN, {K} SGD steps of 256 at lr 1.0 from the same weights: ours on {d["engine"]}, PyTorch {torch.__version__} on the CPU')
print('step  ours loss  PyTorch loss  |difference|')
for s in range(K):
    if s < 3 or (s + 1) % 10 == 0:
        print(f'{s + 1:4d}  {d["losses"][s]:9.5f}  {losses[s]:12.5f}  {abs(d["losses"][s] - losses[s]):.1e}')
rel = lambda a, b: np.max(np.abs(a - b)) / np.max(np.abs(b))
print('BatchNorm   moving mean apart  moving variance apart  variance PyTorch / ours (median)')
for i, n in bn.items():
    m, v = net[i].running_mean.numpy(), net[i].running_var.numpy()
    om, ov = E[n + '/moving_mean'].ravel(), E[n + '/moving_variance'].ravel()
    print(f'{n:10s}  {rel(om, m):17.1e}  {rel(ov, v):21.1e}  {np.median(v / ov):.5f}')
