"""Runs torch_reference.py (the PyTorch peer of compare.ts) unchanged, with two additions:

  /usr/bin/python3 torch_peer.py PATH/TO/torch_reference.py bench MODEL [its options]

1. At an input size other than the seed's, a Sequential whose Flatten feeds a Linear gets that Linear's
   in_features from a dry run of the layers before it (what nn.LazyLinear would do). torch_reference.py
   sizes AlexNet's and VGG's first dense layer for 224x224 (6400 and 128*7*7 inputs); at 96x96 they get
   256 and 128*3*3, as the TensorFlow.js builders do. Every other line of the recipe is torch_reference.py's.
2. Prints the process's peak resident memory afterwards: `peak_rss_bytes N`.
"""
import resource
import runpy
import sys

import torch
from torch import nn

script, args = sys.argv[1], sys.argv[2:]
input_size = int(args[args.index('--input-size') + 1]) if '--input-size' in args else None
original_init = nn.Sequential.__init__


def sized_init(self, *modules):
    original_init(self, *modules)
    layers = list(self)
    for i, layer in enumerate(layers[:-1]):
        after = layers[i + 1]
        if isinstance(layer, nn.Flatten) and type(after) is nn.Linear:
            was = self.training
            self.eval()
            with torch.no_grad():
                features = nn.Sequential(*layers[:i + 1])(torch.zeros(1, 1, input_size, input_size)).shape[1]
            self.train(was)
            if features != after.in_features:
                self[i + 1] = nn.Linear(features, after.out_features)


if input_size is not None:
    nn.Sequential.__init__ = sized_init
sys.argv = [script] + args
runpy.run_path(script, run_name='__main__')
print(f'peak_rss_bytes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}')
