"""Our PyTorch peer: the eight networks of convnets in PyTorch, with the same layer names as ours, and d2l's train_ch6.

The other side of every comparison in the README (bench:compare, bench:fidelity, the LeNet-BN and NiN
step-for-step scripts). It follows "Dive into Deep Learning" (d2l.ai, the English edition, PyTorch): LeNet §7.6,
AlexNet §8.1, VGG §8.2, NiN §8.3, GoogLeNet §8.4, batch normalization §8.5, ResNet §8.6, DenseNet §8.7; training
loop train_ch6 (§7.6). Needs Debian's PyTorch (apt-get install python3-torch; it lives in /usr/bin/python3).

  python3 peer.py params NETWORK [NETWORK …] [--input-size S]   one JSON line each: {"network", "inputSize", "params"}
  python3 peer.py recipes                                       the book's recipes, as JSON
  python3 peer.py weights NETWORK [NETWORK …] [--input-size S]  one JSON line each: {"network", "inputSize", "weights":
                                                                {our weight name: its shape in our layout}}
  python3 peer.py shapes NETWORK [--input-size S]               each top-level layer's output shape
  python3 peer.py bench NETWORK [--examples N] [--input-size S] [--batch-size B] [--threads T] [--runs R]
  python3 peer.py train NETWORK [--examples N] [--input-size S] [--batch-size B] [--lr X] [--epochs E] [--seed K]
                                [--threads T] [--json] [--data DIR]

NETWORK: lenet lenet-bn alexnet vgg11 nin googlenet resnet18 densenet (vgg11 is the book's VGG-11 with a quarter
of the channels, as our vgg11 builds it by default). Input size, learning rate, batch size and epochs default to
the book's recipe (RECIPES). Fashion-MNIST is read from --data, else $FASHION_MNIST_DIR, else convnets' cache
($XDG_CACHE_HOME or ~/.cache, then convnets/fashion-mnist), else /usr/share/datasets/fashion-mnist (Debian's
dataset-fashion-mnist), as ours looks for it.

bench trains on the first N training images (default 4,096) for R timed passes after one warm-up pass and prints
the median examples/sec and the process's peak resident memory. train is d2l's train_ch6: Xavier-uniform weights
(PyTorch's default biases), SGD on softmax cross-entropy, the training set (the first N images; default all
60,000) reshuffled every epoch, test accuracy on all 10,000 test images after each epoch; it prints d2l's lines
(with --json, one JSON object per epoch and a final one instead).

Layer names: a parameter `stage2.block1.conv1.weight` belongs to our layer `stage2_block1_conv1` (the module path
joined by "_"); weight_names() and load_ours()/to_ours() move weights between the two layouts.
"""
import gzip
import json
import os
import statistics
import sys
import time
from collections import OrderedDict

import torch
from torch import nn
from torch.nn import functional as F

NETWORKS = ('lenet', 'lenet-bn', 'alexnet', 'vgg11', 'nin', 'googlenet', 'resnet18', 'densenet')

# The book's recipes (d2l.ai; the same numbers as our specs' `defaults`).
RECIPES = {
    'lenet': dict(input_size=28, lr=0.9, batch_size=256, epochs=10),
    'lenet-bn': dict(input_size=28, lr=1.0, batch_size=256, epochs=10),
    'alexnet': dict(input_size=224, lr=0.01, batch_size=128, epochs=10),
    'vgg11': dict(input_size=224, lr=0.05, batch_size=128, epochs=10),
    'nin': dict(input_size=224, lr=0.1, batch_size=128, epochs=10),
    'googlenet': dict(input_size=96, lr=0.1, batch_size=128, epochs=10),
    'resnet18': dict(input_size=96, lr=0.05, batch_size=256, epochs=10),
    'densenet': dict(input_size=96, lr=0.1, batch_size=256, epochs=10),
}


def seq(*named):
    """nn.Sequential from (name, module) pairs: the names are our layer names, less the parent's prefix."""
    return nn.Sequential(OrderedDict(named))


def _classifier(name, features, dense, input_size):
    """LeNet, AlexNet, VGG: `features` ((name, module) pairs ending in a flatten) are run once on a zero image to
    size the first dense layer, as our TensorFlow.js builders do (AlexNet's takes 6400 features at 224, 256 at
    96); dense(in_features) gives the dense (name, module) pairs."""
    probe = nn.Sequential(OrderedDict(features)).eval()
    with torch.no_grad():
        try:
            shape = tuple(probe(torch.zeros(1, 1, input_size, input_size)).shape)
        except RuntimeError as err:
            raise ValueError(f'{name}: input {input_size}×{input_size} is too small ({err})') from None
    if shape[1] == 0:
        raise ValueError(f'{name}: input {input_size}×{input_size} is too small (no features left)')
    head = dense(shape[1])
    net = seq(*features, *head)
    # Before the flatten, as (channels, height, width): where ours (channels-last) orders the same features
    # height, width, channels. load_ours()/to_ours() reorder the first dense layer's weights by it.
    with torch.no_grad():
        before = nn.Sequential(OrderedDict(features[:-1])).eval()(torch.zeros(1, 1, input_size, input_size))
    net.flattened = tuple(before.shape[1:])
    net.first_dense = head[0][0]
    return net


def lenet(input_size=28, num_classes=10, batch_norm=False):
    """LeNet-5 as d2l §7.6 simplifies it (LeCun et al. 1998); with batch_norm, d2l §8.5's LeNet with batch
    normalization after every convolution and dense layer but the last (its first convolution unpadded)."""
    name = 'lenet-bn' if batch_norm else 'lenet'

    def norm(layer, channels, dims):
        if not batch_norm:
            return []
        return [(f'{layer}_bn', nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels))]

    features = [
        ('conv1', nn.Conv2d(1, 6, 5, padding=0 if batch_norm else 2)), *norm('conv1', 6, 2), ('conv1_sigmoid', nn.Sigmoid()),
        ('pool1', nn.AvgPool2d(2, 2)),
        ('conv2', nn.Conv2d(6, 16, 5)), *norm('conv2', 16, 2), ('conv2_sigmoid', nn.Sigmoid()),
        ('pool2', nn.AvgPool2d(2, 2)),
        ('flatten', nn.Flatten()),
    ]

    def dense(n):
        return [('fc1', nn.Linear(n, 120)), *norm('fc1', 120, 1), ('fc1_sigmoid', nn.Sigmoid()),
                ('fc2', nn.Linear(120, 84)), *norm('fc2', 84, 1), ('fc2_sigmoid', nn.Sigmoid()),
                ('logits', nn.Linear(84, num_classes))]
    return _classifier(name, features, dense, input_size)


def _conv_relu(name, cin, cout, k, stride=1, padding=0):
    return [(name, nn.Conv2d(cin, cout, k, stride, padding)), (f'{name}_relu', nn.ReLU())]


def _dense_head(num_classes):
    """AlexNet's and VGG's dense layers: fc1 and fc2 of 4096 (each ReLU and dropout 0.5), then the logits."""
    def dense(n):
        return [('fc1', nn.Linear(n, 4096)), ('fc1_relu', nn.ReLU()), ('fc1_dropout', nn.Dropout(0.5)),
                ('fc2', nn.Linear(4096, 4096)), ('fc2_relu', nn.ReLU()), ('fc2_dropout', nn.Dropout(0.5)),
                ('logits', nn.Linear(4096, num_classes))]
    return dense


def alexnet(input_size=224, num_classes=10):
    """AlexNet as d2l §8.1 builds it for Fashion-MNIST (Krizhevsky et al. 2012)."""
    features = [
        *_conv_relu('conv1', 1, 96, 11, 4, 1), ('pool1', nn.MaxPool2d(3, 2)),
        *_conv_relu('conv2', 96, 256, 5, padding=2), ('pool2', nn.MaxPool2d(3, 2)),
        *_conv_relu('conv3', 256, 384, 3, padding=1), *_conv_relu('conv4', 384, 384, 3, padding=1),
        *_conv_relu('conv5', 384, 256, 3, padding=1), ('pool3', nn.MaxPool2d(3, 2)),
        ('flatten', nn.Flatten()),
    ]
    return _classifier('alexnet', features, _dense_head(num_classes), input_size)


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg(input_size=224, num_classes=10, conv_arch=VGG11, width_divisor=4, name='vgg11'):
    """VGG (Simonyan & Zisserman 2015) as d2l §8.2 builds it: one block per (convolutions, channels) of conv_arch,
    each 3×3 convolutions with ReLU and a 2×2 max-pool (`block1_conv1`, …, `block1_pool`). width_divisor 4 is the
    network the book trains (ratio = 4) and our vgg11's default; 1 gives the paper's widths (128,806,154
    parameters at 224)."""
    blocks, cin = [], 1
    for i, (n, channels) in enumerate(conv_arch):
        cout, layers = channels // width_divisor, []
        for j in range(n):
            layers += _conv_relu(f'conv{j + 1}', cin, cout, 3, padding=1)
            cin = cout
        layers.append(('pool', nn.MaxPool2d(2, 2)))
        blocks.append((f'block{i + 1}', seq(*layers)))
    return _classifier(name, [*blocks, ('flatten', nn.Flatten())], _dense_head(num_classes), input_size)


class GlobalAvgPool(nn.Module):
    """Global average pooling to (batch, channels): nn.AdaptiveAvgPool2d((1, 1)) and a flatten, ours' one
    GlobalAveragePooling2D layer (`global_pool`; NiN's `logits`)."""

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def _nin_block(cin, cout, k, stride, padding, pool=True):
    """d2l §8.3's NiN block (a k×k convolution, then two 1×1, each with ReLU), with the 3×3 max-pool that follows
    it (`block1_pool`) where one does."""
    return seq(*_conv_relu('conv1', cin, cout, k, stride, padding), *_conv_relu('conv2', cout, cout, 1),
               *_conv_relu('conv3', cout, cout, 1), *([('pool', nn.MaxPool2d(3, 2))] if pool else []))


def nin(input_size=224, num_classes=10):
    """Network in Network (Lin et al. 2014) as d2l §8.3 builds it: four NiN blocks, the last with one channel per
    class, global average pooling to the logits; no dense layer."""
    net = seq(('block1', _nin_block(1, 96, 11, 4, 0)), ('block2', _nin_block(96, 256, 5, 1, 2)),
              ('block3', _nin_block(256, 384, 3, 1, 1)), ('dropout', nn.Dropout(0.5)),
              ('block4', _nin_block(384, num_classes, 3, 1, 1, pool=False)), ('logits', GlobalAvgPool()))
    _check_size('nin', net, input_size)
    return net


class Inception(nn.Module):
    """d2l §8.4's Inception block: four branches (1×1; 1×1 then 3×3; 1×1 then 5×5; 3×3 max-pool then 1×1), each
    convolution followed by ReLU, concatenated on the channels. Our layers: `{block}_branch2_conv2` and so on."""

    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.branch1_conv = nn.Conv2d(cin, c1, 1)
        self.branch2_conv1 = nn.Conv2d(cin, c2[0], 1)
        self.branch2_conv2 = nn.Conv2d(c2[0], c2[1], 3, padding=1)
        self.branch3_conv1 = nn.Conv2d(cin, c3[0], 1)
        self.branch3_conv2 = nn.Conv2d(c3[0], c3[1], 5, padding=2)
        self.branch4_pool = nn.MaxPool2d(3, 1, 1)
        self.branch4_conv = nn.Conv2d(cin, c4, 1)

    def forward(self, x):
        b1 = F.relu(self.branch1_conv(x))
        b2 = F.relu(self.branch2_conv2(F.relu(self.branch2_conv1(x))))
        b3 = F.relu(self.branch3_conv2(F.relu(self.branch3_conv1(x))))
        b4 = F.relu(self.branch4_conv(self.branch4_pool(x)))
        return torch.cat((b1, b2, b3, b4), 1)


def googlenet(input_size=96, num_classes=10, stem_kernel_size=7):
    """GoogLeNet (Szegedy et al. 2015) as d2l §8.4 builds it for Fashion-MNIST: the book's b1 and b2 (our stem),
    its b3, b4 and b5 (our stages 1–3, the first two ending in a max-pool), global average pooling, one dense
    layer. 5,977,530 parameters with the 7×7 stem."""
    k = stem_kernel_size
    stages = [[(192, 64, (96, 128), (16, 32), 32), (256, 128, (128, 192), (32, 96), 64)],
              [(480, 192, (96, 208), (16, 48), 64), (512, 160, (112, 224), (24, 64), 64),
               (512, 128, (128, 256), (24, 64), 64), (512, 112, (144, 288), (32, 64), 64),
               (528, 256, (160, 320), (32, 128), 128)],
              [(832, 256, (160, 320), (32, 128), 128), (832, 384, (192, 384), (48, 128), 128)]]
    layers = [('stem', seq(*_conv_relu('conv1', 1, 64, k, 2, 3), ('pool1', nn.MaxPool2d(3, 2, 1)),
                           *_conv_relu('conv2', 64, 64, 1), *_conv_relu('conv3', 64, 192, 3, padding=1),
                           ('pool2', nn.MaxPool2d(3, 2, 1))))]
    for i, rows in enumerate(stages):
        blocks = [(f'block{j + 1}', Inception(*row)) for j, row in enumerate(rows)]
        if i != len(stages) - 1:
            blocks.append(('pool', nn.MaxPool2d(3, 2, 1)))
        layers.append((f'stage{i + 1}', seq(*blocks)))
    net = seq(*layers, ('global_pool', GlobalAvgPool()), ('logits', nn.Linear(1024, num_classes)))
    _check_size('googlenet', net, input_size)
    return net


class Residual(nn.Module):
    """d2l §8.6's residual block: 3×3 conv, BN, ReLU, 3×3 conv, BN, plus the input (through a strided 1×1
    convolution, `shortcut_conv`, where the block changes channels or size), then ReLU."""

    def __init__(self, cin, channels, stride=1, projection=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, channels, 3, stride, 1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut_conv = nn.Conv2d(cin, channels, 1, stride) if projection else None

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (self.shortcut_conv(x) if self.shortcut_conv is not None else x))


def _stem(channels=64):
    """ResNet's and DenseNet's first stage (the book's b1): 7×7 convolution of stride 2, BN, ReLU, 3×3 max-pool
    of stride 2."""
    return seq(('conv', nn.Conv2d(1, channels, 7, 2, 3)), ('bn', nn.BatchNorm2d(channels)), ('relu', nn.ReLU()),
               ('pool', nn.MaxPool2d(3, 2, 1)))


def resnet18(input_size=96, num_classes=10, stages=(2, 2, 2, 2)):
    """ResNet-18 (He et al. 2016) as d2l §8.6 builds it: a 7×7 stem with BN and max-pool, four stages of two
    residual blocks (64, 128, 256, 512 channels; each stage after the first halves the size), global average
    pooling, one dense layer."""
    layers, cin = [('stem', _stem(64))], 64
    for i, n in enumerate(stages):
        channels, blocks = 64 * 2 ** i, []
        for j in range(n):
            down = j == 0 and i > 0
            blocks.append((f'block{j + 1}', Residual(cin, channels, 2 if down else 1, down)))
            cin = channels
        layers.append((f'stage{i + 1}', seq(*blocks)))
    net = seq(*layers, ('global_pool', GlobalAvgPool()), ('logits', nn.Linear(cin, num_classes)))
    _check_size('resnet18', net, input_size)
    return net


def _bn_relu(channels):
    return [('bn', nn.BatchNorm2d(channels)), ('relu', nn.ReLU())]


class DenseStage(nn.Module):
    """d2l §8.7's dense block, and the transition block after it where there is one. Each conv block (BN, ReLU,
    3×3 conv to `growth` channels; `stage1_block1_bn`, …) has its output concatenated to its input; the
    transition (BN, ReLU, 1×1 conv halving the channels, 2×2 average pool) is `stage1_transition_bn`, …"""

    def __init__(self, n, cin, growth, transition):
        super().__init__()
        for j in range(n):
            c = cin + j * growth
            self.add_module(f'block{j + 1}', seq(*_bn_relu(c), ('conv', nn.Conv2d(c, growth, 3, padding=1))))
        c = cin + n * growth
        if transition:
            self.transition = seq(*_bn_relu(c), ('conv', nn.Conv2d(c, c // 2, 1)), ('pool', nn.AvgPool2d(2, 2)))

    def forward(self, x):
        for name, block in self.named_children():
            x = block(x) if name == 'transition' else torch.cat((x, block(x)), 1)
        return x


def densenet(input_size=96, num_classes=10, growth_rate=32, blocks=(4, 4, 4, 4)):
    """DenseNet (Huang et al. 2017) as d2l §8.7 builds it: ResNet's stem, dense blocks (our stages) with transition
    blocks between them, BN, ReLU, global average pooling, one dense layer."""
    layers, channels = [('stem', _stem(64))], 64
    for i, n in enumerate(blocks):
        last = i == len(blocks) - 1
        layers.append((f'stage{i + 1}', DenseStage(n, channels, growth_rate, transition=not last)))
        channels += n * growth_rate
        if not last:
            channels //= 2
    net = seq(*layers, ('head', seq(*_bn_relu(channels))), ('global_pool', GlobalAvgPool()),
              ('logits', nn.Linear(channels, num_classes)))
    _check_size('densenet', net, input_size)
    return net


def _check_size(name, net, input_size):
    """Refuses an input too small for the network, naming the size (a dry run on a zero image)."""
    with torch.no_grad():
        try:
            net.eval()(torch.zeros(1, 1, input_size, input_size))
        except RuntimeError as err:
            raise ValueError(f'{name}: input {input_size}×{input_size} is too small ({err})') from None
        finally:
            net.train()


def build(name: str, input_size: int, num_classes: int = 10) -> nn.Module:
    """One of our networks by our name, for inputs of input_size × input_size × 1, with PyTorch's default
    initialization (init_weights() gives d2l's)."""
    builders = {'lenet': lenet, 'lenet-bn': lambda s, c: lenet(s, c, batch_norm=True), 'alexnet': alexnet, 'vgg11': vgg,
                'nin': nin, 'googlenet': googlenet, 'resnet18': resnet18, 'densenet': densenet}
    if name not in builders:
        raise ValueError(f'unknown network "{name}"; use one of {", ".join(NETWORKS)}')
    net = builders[name](input_size, num_classes)
    net.train()
    return net


def init_weights(module):
    """d2l's init_weights: Xavier-uniform weights for every Linear and Conv2d; biases keep PyTorch's default.
    Use as net.apply(init_weights)."""
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


def count_params(net):
    """Trainable parameters (BatchNorm's running statistics are buffers, not parameters)."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


# ---- weights in ours' layout ------------------------------------------------------------------------------

_BN_NAMES = dict(weight='gamma', bias='beta', running_mean='moving_mean', running_var='moving_variance')


def weight_names(net):
    """(our weight name, PyTorch state_dict key, module) for every parameter and BatchNorm statistic of net:
    `stage2.block1.conv1.weight` is our `stage2_block1_conv1/kernel`."""
    modules = dict(net.named_modules())
    out = []
    for key in net.state_dict():
        path, kind = key.rsplit('.', 1)
        module = modules[path]
        if kind == 'num_batches_tracked':
            continue
        layer = path.replace('.', '_')
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            ours = _BN_NAMES[kind]
        else:
            ours = 'kernel' if kind == 'weight' else kind
        out.append((f'{layer}/{ours}', key, module))
    return out


def _flatten_order(net, layer):
    """(channels, height, width) of the map flattened into `layer`, when that is the first dense layer."""
    return net.flattened if getattr(net, 'first_dense', None) == layer else None


def load_ours(net, weights):
    """Copies our weights (our name → numpy array in TensorFlow.js's layout: conv [kh, kw, in, out], dense
    [in, out]) into net. Every weight of net must be there."""
    import numpy as np
    state = net.state_dict()
    missing = [name for name, _, _ in weight_names(net) if name not in weights]
    if missing:
        raise ValueError(f'our weights lack {", ".join(missing[:5])}{" …" if len(missing) > 5 else ""}')
    with torch.no_grad():
        for name, key, module in weight_names(net):
            a = np.asarray(weights[name], dtype=np.float32)
            if name.endswith('/kernel') and isinstance(module, nn.Conv2d):
                a = a.transpose(3, 2, 0, 1)
            elif name.endswith('/kernel') and isinstance(module, nn.Linear):
                chw = _flatten_order(net, name.split('/')[0])
                if chw:  # ours flattens (h, w, c), PyTorch (c, h, w)
                    c, h, w = chw
                    a = a.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1)
                a = a.T
            state[key].copy_(torch.from_numpy(np.ascontiguousarray(a)).reshape(state[key].shape))


def to_ours(net):
    """net's weights as our name → numpy array in TensorFlow.js's layout (the inverse of load_ours)."""
    out = {}
    state = net.state_dict()
    for name, key, module in weight_names(net):
        a = state[key].detach().cpu().numpy()
        if name.endswith('/kernel') and isinstance(module, nn.Conv2d):
            a = a.transpose(2, 3, 1, 0)
        elif name.endswith('/kernel') and isinstance(module, nn.Linear):
            a = a.T
            chw = _flatten_order(net, name.split('/')[0])
            if chw:
                c, h, w = chw
                a = a.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(c * h * w, -1)
        out[name] = a.copy()
    return out


# ---- data -------------------------------------------------------------------------------------------------

DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'
_FILES = dict(train=('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
              test=('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'))


def _candidates(directory):
    if directory:
        return [directory]
    cache = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'convnets', 'fashion-mnist')
    return [d for d in (os.environ.get('FASHION_MNIST_DIR'), cache, DEBIAN_DIR) if d]


def _read_idx(directory, name, magic):
    for path, opener in ((os.path.join(directory, name + '.gz'), gzip.open), (os.path.join(directory, name), open)):
        if os.path.exists(path):
            with opener(path, 'rb') as f:
                data = f.read()
            if int.from_bytes(data[:4], 'big') != magic:
                raise ValueError(f'{path}: not an IDX file of magic {magic}')
            return data
    return None


def load_fashion_mnist(directory=None, split='train', limit=None, input_size=28):
    """Fashion-MNIST's `split` ('train' or 'test'; 't10k' too) as (images float32 [n, 1, s, s] in [0, 1], labels
    int64 [n]): the first `limit` images (all when None), resized bilinearly to input_size. Looked for where ours
    looks: directory, else $FASHION_MNIST_DIR, else convnets' cache, else Debian's dataset-fashion-mnist."""
    images_name, labels_name = _FILES['test' if split in ('test', 't10k') else 'train']
    for d in _candidates(directory):
        images = _read_idx(d, images_name, 2051)
        labels = _read_idx(d, labels_name, 2049)
        if images is not None and labels is not None:
            break
    else:
        raise FileNotFoundError(f'Fashion-MNIST not found in {", ".join(_candidates(directory))}: apt-get install '
                                f'dataset-fashion-mnist, or set FASHION_MNIST_DIR to a directory with the four .gz files')
    n = int.from_bytes(labels[4:8], 'big') if limit is None else min(limit, int.from_bytes(labels[4:8], 'big'))
    x = torch.frombuffer(bytearray(images[16:16 + n * 784]), dtype=torch.uint8).float().div(255).reshape(n, 1, 28, 28)
    if input_size != 28:
        x = F.interpolate(x, size=(input_size, input_size), mode='bilinear', align_corners=False)
    y = torch.frombuffer(bytearray(labels[8:8 + n]), dtype=torch.uint8).long()
    return x, y


# ---- training ---------------------------------------------------------------------------------------------

def evaluate(net, x, y, batch_size):
    """Accuracy of net on (x, y), in eval mode, batch by batch."""
    net.eval()
    with torch.no_grad():
        correct = sum((net(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item() for i in range(0, len(y), batch_size))
    return correct / len(y)


def train(net, train_data, test_data, epochs, lr, batch_size, on_epoch=None):
    """d2l's train_ch6: SGD at lr on softmax cross-entropy, the training set reshuffled every epoch
    (torch.randperm, so torch.manual_seed decides it), test accuracy after each epoch. The data are tensors
    (x, y) on net's device. Returns one dict per epoch: epoch, loss, trainAcc, testAcc, examplesPerSec (training
    batches only), seconds; on_epoch(row) is called with each."""
    x, y = train_data
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, epochs + 1):
        net.train()
        perm = torch.randperm(len(y)).to(y.device)
        loss_sum = torch.zeros((), device=y.device)
        correct = torch.zeros((), device=y.device)
        t0 = time.perf_counter()
        for i in range(0, len(y), batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            opt.zero_grad()
            out = net(xb)
            l = loss(out, yb)
            l.backward()
            opt.step()
            loss_sum += l.detach() * len(yb)
            correct += (out.argmax(1) == yb).sum()
        seconds = time.perf_counter() - t0
        row = dict(epoch=epoch, loss=loss_sum.item() / len(y), trainAcc=correct.item() / len(y),
                   testAcc=evaluate(net, *test_data, batch_size), examplesPerSec=len(y) / seconds, seconds=seconds)
        history.append(row)
        if on_epoch:
            on_epoch(row)
    return history


def bench(net, x, y, lr, batch_size, runs):
    """Training steps over (x, y) in order: one warm-up pass, then `runs` timed ones; examples/sec of each."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    rates = []
    net.train()
    for run in range(runs + 1):
        t0 = time.perf_counter()
        for i in range(0, len(y), batch_size):
            opt.zero_grad()
            loss(net(x[i:i + batch_size]), y[i:i + batch_size]).backward()
            opt.step()
        if run:
            rates.append(len(y) / (time.perf_counter() - t0))
    return rates


def main(argv):
    import argparse
    import resource
    ap = argparse.ArgumentParser(prog='peer.py', description='Our PyTorch peer of the convnets networks.')
    ap.add_argument('cmd', choices=['params', 'recipes', 'weights', 'shapes', 'bench', 'train'])
    ap.add_argument('networks', nargs='*', metavar='NETWORK', help=' '.join(NETWORKS))
    ap.add_argument('--input-size', type=int)
    ap.add_argument('--examples', type=int, help='training images used (bench: 4096, train: all 60000)')
    ap.add_argument('--batch-size', type=int)
    ap.add_argument('--lr', type=float)
    ap.add_argument('--epochs', type=int)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--data', help='directory with the Fashion-MNIST files')
    ap.add_argument('--json', action='store_true')
    a = ap.parse_args(argv)
    if a.cmd == 'recipes':
        print(json.dumps(RECIPES))
        return 0
    if not a.networks:
        ap.error(f'{a.cmd}: name a network ({" ".join(NETWORKS)})')
    for name in a.networks:
        if name not in RECIPES:
            ap.error(f'unknown network "{name}"; use one of {", ".join(NETWORKS)}')
    if a.cmd in ('params', 'weights'):
        for name in a.networks:
            size = a.input_size or RECIPES[name]['input_size']
            net = build(name, size)
            if a.cmd == 'params':
                print(json.dumps(dict(network=name, inputSize=size, params=count_params(net))), flush=True)
            else:
                print(json.dumps(dict(network=name, inputSize=size, weights={k: list(v.shape) for k, v in to_ours(net).items()})), flush=True)
        return 0
    if len(a.networks) != 1:
        ap.error(f'{a.cmd} takes one network')
    name = a.networks[0]
    recipe = RECIPES[name]
    size = a.input_size or recipe['input_size']
    lr, batch_size, epochs = a.lr or recipe['lr'], a.batch_size or recipe['batch_size'], a.epochs or recipe['epochs']
    if a.cmd == 'shapes':
        net = build(name, size).eval()
        x = torch.zeros(1, 1, size, size)
        with torch.no_grad():
            for layer, module in net.named_children():
                x = module(x)
                print(layer, tuple(x.shape))
        return 0
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = build(name, size)
    net.apply(init_weights)
    if a.cmd == 'bench':
        x, y = load_fashion_mnist(a.data, 'train', a.examples or 4096, size)
        rates = bench(net, x, y, lr, batch_size, a.runs)
        print(f'{name} input {size} batch {batch_size} threads {torch.get_num_threads()}: '
              f'{statistics.median(rates):.1f} examples/sec (median of {a.runs}; torch {torch.__version__})')
        print(f'peak_rss_bytes {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}')
        return 0
    x, y = load_fashion_mnist(a.data, 'train', a.examples, size)
    test = load_fashion_mnist(a.data, 'test', None, size)

    def show(row):
        print(json.dumps(row) if a.json else
              f'epoch {row["epoch"]}  loss {row["loss"]:.3f}, train acc {row["trainAcc"]:.3f}, test acc {row["testAcc"]:.3f}  '
              f'{row["examplesPerSec"]:.1f} examples/sec', flush=True)
    history = train(net, (x, y), test, epochs, lr, batch_size, on_epoch=show)
    last = history[-1]
    final = dict(model=name, seed=a.seed, lr=lr, batchSize=batch_size, inputSize=size, examples=len(y), epochs=epochs,
                 loss=last['loss'], trainAcc=last['trainAcc'], testAcc=last['testAcc'],
                 examplesPerSec=len(y) * epochs / sum(r['seconds'] for r in history), threads=torch.get_num_threads(),
                 torch=torch.__version__)
    if a.json:
        print(json.dumps(final))
    else:
        print(f'loss {final["loss"]:.3f}, train acc {final["trainAcc"]:.3f}, test acc {final["testAcc"]:.3f}')
        print(f'{final["examplesPerSec"]:.1f} examples/sec on cpu ({final["threads"]} threads, torch {torch.__version__})')
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main(sys.argv[1:]))
    except (ValueError, FileNotFoundError) as err:
        print(f'peer.py: {err}', file=sys.stderr)
        sys.exit(2)
