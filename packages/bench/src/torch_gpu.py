"""The PyTorch side of bench:fidelity on a GPU: torch_reference.py's `train` (d2l's train_ch6: Xavier-uniform
weights, PyTorch's default biases, SGD, the first N training images reshuffled every epoch, test accuracy on all
10,000 test images after each epoch), the same networks and data, with the network and the data on CUDA.
Several runs share the GPU at once (--workers processes, each with --threads CPU threads; without CUDA they
run on the CPU, where --workers × --threads should not exceed the cores). Prints one JSON line per run, which
`bench:fidelity --torch-runs FILE` reads in place of running PyTorch on this machine's CPU.

  python3 torch_gpu.py --torch-reference PATH/torch_reference.py --seeds 0,1,2 \\
      --recipe alexnet:65:8000:3:0.1:32 [--recipe MODEL:INPUT:EXAMPLES:EPOCHS:LR:BATCH …] [--workers 8] [--threads 2]

MODEL is torch_reference.py's name (lenet lenet_bn alexnet vgg_small nin googlenet resnet densenet). It reads
Fashion-MNIST where torch_reference.py does (/usr/share/datasets/fashion-mnist). Made for issue 15 on an H200 (no
internet there: carry the .gz files and torch_reference.py along).
"""
import argparse, importlib.util, json, os, time
from concurrent.futures import ProcessPoolExecutor

import torch
from torch import nn


def load_reference(path):
    spec = importlib.util.spec_from_file_location('torch_reference', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(job):
    reference, threads, model, size, n, epochs, lr, bs, seed = job
    R = load_reference(reference)
    torch.set_num_threads(threads)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    build, _ = R.MODELS[model]
    torch.manual_seed(seed)
    net = R.fit_to_input(build(), size)

    def init(m):  # d2l's init_weights: the weights only; the biases keep PyTorch's default
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
    net.apply(init)
    net.to(dev)
    X, y = R.load_fmnist(n, size)
    Xt, yt = R.load_fmnist(10000, size, 't10k')
    X, y, Xt, yt = X.to(dev), y.to(dev), Xt.to(dev), yt.to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(y)).to(dev)
        lsum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev)
        m = 0
        t0 = time.perf_counter()
        for i in range(0, len(y), bs):
            idx = perm[i:i + bs]
            xb, yb = X[idx], y[idx]
            opt.zero_grad()
            out = net(xb)
            l = loss(out, yb)
            l.backward()
            opt.step()
            lsum += l.detach() * len(yb)
            correct += (out.argmax(1) == yb).sum()
            m += len(yb)
        seconds = time.perf_counter() - t0
        net.eval()
        with torch.no_grad():
            test = sum((net(Xt[j:j + bs]).argmax(1) == yt[j:j + bs]).sum().item() for j in range(0, len(yt), bs)) / len(yt)
        history.append(dict(epoch=epoch, loss=lsum.item() / m, trainAcc=correct.item() / m, testAcc=test, examplesPerSec=m / seconds))
    return dict(model=model, inputSize=size, examples=len(y), epochs=epochs, lr=lr, batchSize=bs, seed=seed, history=history,
                torch=torch.__version__, device=torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu')


def recipe(text):
    try:
        model, size, n, epochs, lr, bs = text.split(':')
        return model, int(size), int(n), int(epochs), float(lr), int(bs)
    except ValueError:
        raise argparse.ArgumentTypeError(f'--recipe {text}: expected MODEL:INPUT:EXAMPLES:EPOCHS:LR:BATCH, e.g. alexnet:65:8000:3:0.1:32')


if __name__ == '__main__':
    import multiprocessing
    ap = argparse.ArgumentParser()
    ap.add_argument('--torch-reference', required=True)
    ap.add_argument('--recipe', type=recipe, action='append', required=True)
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--workers', type=int, default=8)
    ap.add_argument('--threads', type=int, default=2, help='torch.set_num_threads per run (matters on a CPU)')
    a = ap.parse_args()
    if not os.path.exists(a.torch_reference):
        ap.error(f'--torch-reference {a.torch_reference}: no such file')
    multiprocessing.set_start_method('spawn')
    seeds = [int(s) for s in a.seeds.split(',')]
    jobs = [(os.path.abspath(a.torch_reference), a.threads, *r, s) for r in a.recipe for s in seeds]
    with ProcessPoolExecutor(a.workers) as pool:
        for result in pool.map(run, jobs):
            print(json.dumps(result), flush=True)
