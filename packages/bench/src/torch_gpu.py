"""The PyTorch side of bench:fidelity on a GPU: our peer's (../python/peer.py) networks and d2l's train_ch6
(Xavier-uniform weights, PyTorch's default biases, SGD, the first N training images reshuffled every epoch, test
accuracy on all 10,000 test images after each epoch), with the network and the data on CUDA. Several runs share
the GPU at once (--workers processes, each with --threads CPU threads; without CUDA they run on the CPU, where
--workers × --threads should not exceed the cores). Prints one JSON line per run, which
`bench:fidelity --torch-runs FILE` reads in place of running PyTorch on this machine's CPU.

  python3 torch_gpu.py --seeds 0,1,2 --recipe alexnet:65:8000:3:0.1:32 [--recipe NETWORK:INPUT:EXAMPLES:EPOCHS:LR:BATCH …]
      [--workers 8] [--threads 2] [--data DIR]

NETWORK is our name (lenet lenet-bn alexnet vgg11 nin googlenet resnet18 densenet). Fashion-MNIST is read from
--data, else where the peer looks for it (FASHION_MNIST_DIR, convnets' cache, /usr/share/datasets/fashion-mnist).
A GPU machine without internet needs only this repository and the four .gz files.
"""
import argparse, json, os, sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'python'))
import peer  # noqa: E402


def run(job):
    threads, data, network, size, n, epochs, lr, bs, seed = job
    torch.set_num_threads(threads)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.manual_seed(seed)
    net = peer.build(network, size)
    net.apply(peer.init_weights)
    net.to(dev)
    x, y = (t.to(dev) for t in peer.load_fashion_mnist(data, 'train', n, size))
    xt, yt = (t.to(dev) for t in peer.load_fashion_mnist(data, 'test', None, size))
    history = peer.train(net, (x, y), (xt, yt), epochs, lr, bs)
    return dict(model=network, inputSize=size, examples=len(y), epochs=epochs, lr=lr, batchSize=bs, seed=seed,
                history=[{k: v for k, v in row.items() if k != 'seconds'} for row in history],
                torch=torch.__version__, device=torch.cuda.get_device_name(0) if dev == 'cuda' else 'cpu')


def recipe(text):
    try:
        network, size, n, epochs, lr, bs = text.split(':')
        if network not in peer.RECIPES:
            raise ValueError
        return network, int(size), int(n), int(epochs), float(lr), int(bs)
    except ValueError:
        raise argparse.ArgumentTypeError(f'--recipe {text}: expected NETWORK:INPUT:EXAMPLES:EPOCHS:LR:BATCH with NETWORK one of '
                                         f'{" ".join(peer.NETWORKS)}, e.g. alexnet:65:8000:3:0.1:32')


if __name__ == '__main__':
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    ap = argparse.ArgumentParser()
    ap.add_argument('--recipe', type=recipe, action='append', required=True)
    ap.add_argument('--seeds', default='0,1,2')
    ap.add_argument('--workers', type=int, default=8)
    ap.add_argument('--threads', type=int, default=2, help='torch.set_num_threads per run (matters on a CPU)')
    ap.add_argument('--data', help='directory with the Fashion-MNIST files')
    a = ap.parse_args()
    multiprocessing.set_start_method('spawn')
    seeds = [int(s) for s in a.seeds.split(',')]
    jobs = [(a.threads, a.data, *r, s) for r in a.recipe for s in seeds]
    with ProcessPoolExecutor(a.workers) as pool:
        for result in pool.map(run, jobs):
            print(json.dumps(result), flush=True)
