"""Training steps per second of our PyTorch peer (peer.py), the other side of `bench:gpu`: one network at one
input size and batch, on CUDA or on the CPU at a thread count; one JSON line.

  python3 step_rate.py NETWORK[,NETWORK…] [--device cuda|cpu] [--threads T[,T…]] [--precision fp32|default[,…]]
                       [--input-size S] [--batch-size B] [--steps N] [--warmup W] [--data DIR]

One line per network × precision × thread count, in that order, all in one process (PyTorch starts once).

A step is what d2l's train_ch6 (and ours) does per batch: forward, softmax cross-entropy, backward, SGD update,
and the loss read back to the host (`loss.item()`, which waits for the GPU), timed with a host clock from the
step's start to that read; the median of N steps after W warm-up steps (cuDNN's algorithm search and CUDA's
lazy start-up stay out). The batch is the first B Fashion-MNIST training images at S×S (peer.load_fashion_mnist),
or uniform random images where the dataset is not found (said in the JSON's "data").

--precision fp32: float32 everywhere (cuDNN's and cuBLAS's TF32 off); default: PyTorch's defaults as they are
(convolutions in TF32 on Ampere and later, matrix products in float32). The JSON records the flags read back.
"""
import argparse
import json
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer  # noqa: E402


def precision_flags():
    return dict(cudnn_allow_tf32=torch.backends.cudnn.allow_tf32, matmul_allow_tf32=torch.backends.cuda.matmul.allow_tf32,
                matmul_precision=torch.get_float32_matmul_precision())


DEFAULTS = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())


def set_precision(precision):
    # fp32: TF32 off for cuDNN and cuBLAS; default: PyTorch's own settings, as they were at start.
    cudnn, matmul, matmul_precision = (False, False, 'highest') if precision == 'fp32' else DEFAULTS
    torch.backends.cudnn.allow_tf32 = cudnn
    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.set_float32_matmul_precision(matmul_precision)


def batch(name, input_size, batch_size, data_dir):
    try:
        x, y = peer.load_fashion_mnist(data_dir, 'train', batch_size, input_size)
        if len(y) == batch_size:
            return x, y, 'fashion-mnist'
    except (FileNotFoundError, AttributeError):
        pass
    g = torch.Generator().manual_seed(0)
    return torch.rand(batch_size, 1, input_size, input_size, generator=g), torch.randint(0, 10, (batch_size,), generator=g), 'random'


def csv(choices=None, kind=str):
    def parse(text):
        items = [kind(t) for t in text.split(',') if t]
        bad = [t for t in items if choices and t not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(f'{text}: use one or more of {", ".join(map(str, choices or ["…"]))}, comma-separated')
        return items
    return parse


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('networks', type=csv(peer.NETWORKS))
    ap.add_argument('--device', choices=('cuda', 'cpu'), default='cuda')
    ap.add_argument('--threads', type=csv(kind=int), default=[None], help='torch.set_num_threads (CPU; default: PyTorch\'s own)')
    ap.add_argument('--precision', type=csv(('fp32', 'default')), default=['fp32'])
    ap.add_argument('--input-size', type=int)
    ap.add_argument('--batch-size', type=int)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--data')
    a = ap.parse_args(argv)
    if a.device == 'cuda' and not torch.cuda.is_available():
        for network in a.networks:
            print(json.dumps(dict(side='pytorch', network=network, device='cuda', error='CUDA is not available to PyTorch')), flush=True)
        return 1
    status = 0
    for network in a.networks:
        for precision in a.precision:
            for threads in a.threads:
                status |= measure(a, network, precision, threads)
    return status


def measure(a, network, precision, threads):
    a = argparse.Namespace(**{**vars(a), 'network': network, 'precision': precision, 'threads': threads})
    recipe = peer.RECIPES[a.network]
    input_size = a.input_size or recipe['input_size']
    batch_size = a.batch_size or recipe['batch_size']
    if a.threads:
        torch.set_num_threads(a.threads)
    set_precision(a.precision)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    net = peer.build(a.network, input_size)
    net.apply(peer.init_weights)
    net.to(dev)
    x, y, data = batch(a.network, input_size, batch_size, a.data)
    x, y = x.to(dev), y.to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=recipe['lr'])
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    try:
        for _ in range(a.warmup):
            step()
        times = []
        for _ in range(a.steps):
            start = time.perf_counter()
            step()
            times.append((time.perf_counter() - start) * 1000)
    except RuntimeError as err:  # CUDA out of memory, above all
        print(json.dumps(dict(side='pytorch', network=a.network, device=a.device, precision=a.precision,
                              error=str(err).split('\n')[0])), flush=True)
        return 1
    finally:
        del net, opt
        if a.device == 'cuda':
            torch.cuda.empty_cache()
    median = sorted(times)[len(times) // 2]
    out = dict(side='pytorch', network=a.network, device=a.device, precision=a.precision,
               threads=torch.get_num_threads(), inputSize=input_size, batchSize=batch_size, data=data, steps=a.steps,
               warmup=a.warmup, stepMs=times, medianStepMs=median, examplesPerSec=batch_size * 1000 / median,
               torch=torch.__version__, flags=precision_flags())
    if a.device == 'cuda':
        out['gpu'] = torch.cuda.get_device_name(0)
        out['peakBytes'] = torch.cuda.max_memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    print(json.dumps(out), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
