"""PyTorch side of conv-rate.ts: one convolution's forward, and forward + dx + dW, on one thread.

  /usr/bin/python3 conv_rate.py '[[batch, size, in_channels, out_channels, kernel, stride], ...]' RUNS

Prints one JSON line per case: {"forwardMs": median, "trainMs": median} (NCHW, padding kernel // 2, no bias).
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)
cases, runs = json.loads(sys.argv[1]), int(sys.argv[2])


def median_ms(f):
    f()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        f()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[len(times) // 2]


for n, size, cin, cout, k, s in cases:
    x = torch.randn(n, cin, size, size, requires_grad=True)
    conv = torch.nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, bias=False)
    with torch.no_grad():
        forward = median_ms(lambda: conv(x))
    y = conv(x)
    dy = torch.randn_like(y)
    train = median_ms(lambda: torch.autograd.grad(conv(x), [x, conv.weight], dy))
    print(json.dumps({"forwardMs": forward, "trainMs": train, "torch": torch.__version__}), flush=True)
