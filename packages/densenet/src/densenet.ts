import { batchNorm } from "@convnets/batchnorm";
import {
  activation,
  applyTo,
  avgPool,
  type BuildOptions,
  conv,
  globalAvgPoolClassifier,
  imageInput,
  type ModelSpec,
  maxPool,
  resolveInputShape,
  resolveNumClasses,
} from "@convnets/model";
import type { LayersModel, SymbolicTensor } from "@tensorflow/tfjs-layers";
import * as tfl from "@tensorflow/tfjs-layers";

/** BatchNorm → ReLU, the pre-activation every DenseNet convolution starts with. */
function bnRelu(x: SymbolicTensor, name: string): SymbolicTensor {
  return activation(applyTo(batchNorm({ name: `${name}_bn` }), x), `${name}_relu`, "relu");
}

/**
 * The conv block (d2l §8.7, `conv_block`): BatchNorm → ReLU → 3×3 conv (padding 1) to `filters`
 * channels. Layers: `${name}_bn`, `${name}_relu`, `${name}_conv`.
 */
export function convBlock(x: SymbolicTensor, filters: number, name: string): SymbolicTensor {
  return conv(bnRelu(x, name), `${name}_conv`, { filters, kernelSize: 3, pad: 1, relu: false });
}

export interface DenseBlockArgs {
  /** Number of conv blocks (d2l's `num_convs`). */
  numConvs: number;
  /** Channels each conv block adds (d2l's `num_channels`, the growth rate). */
  growthRate: number;
}

/**
 * The dense block (d2l §8.7, `DenseBlock`): `numConvs` conv blocks, each one's output
 * concatenated on the channel axis to its input, so the block adds `numConvs × growthRate`
 * channels and keeps the size. Layers: `${name}_block1_bn`, `${name}_block1_relu`, `${name}_block1_conv`,
 * `${name}_block1_concat`, `${name}_block2_bn`, ….
 */
export function denseBlock(x: SymbolicTensor, args: DenseBlockArgs, name: string): SymbolicTensor {
  const { numConvs, growthRate } = args;
  let y = x;
  for (let i = 1; i <= numConvs; i++) {
    const grown = convBlock(y, growthRate, `${name}_block${i}`);
    y = applyTo(tfl.layers.concatenate({ axis: -1, name: `${name}_block${i}_concat` }), [y, grown]);
  }
  return y;
}

/**
 * The transition block (d2l §8.7, `transition_block`): BatchNorm → ReLU → 1×1 conv to `filters`
 * channels → 2×2 average pooling with stride 2 (halves the size, rounding down). Layers:
 * `${name}_bn`, `${name}_relu`, `${name}_conv`, `${name}_pool`.
 */
export function transitionBlock(x: SymbolicTensor, filters: number, name: string): SymbolicTensor {
  const reduced = conv(bnRelu(x, name), `${name}_conv`, { filters, kernelSize: 1, relu: false });
  return avgPool(reduced, `${name}_pool`, { poolSize: 2, strides: 2 });
}

export interface DenseNetOptions extends BuildOptions {
  /** Channels each conv block adds. Default 32. */
  growthRate?: number;
  /** Conv blocks per dense block (d2l's `num_convs_in_dense_blocks`). Default [4, 4, 4, 4]. */
  blocks?: readonly number[];
}

const DEFAULT_INPUT_SIZE = 96;
const DEFAULT_GROWTH_RATE = 32;
const DEFAULT_BLOCKS: readonly number[] = [4, 4, 4, 4];

/**
 * Smallest input side for `numDenseBlocks` dense blocks. The padded stem gives ceil(n / 4); each of
 * the `numDenseBlocks − 1` transitions halves it rounding down and needs at least 2 to pool, so the
 * stem must give 2^(numDenseBlocks − 1): n ≥ 4 · 2^(numDenseBlocks − 1) − 3 (29 for four blocks, so
 * Fashion-MNIST's own 28×28 is one pixel too small).
 */
function densenetMinInputSize(numDenseBlocks = DEFAULT_BLOCKS.length): number {
  return 4 * 2 ** (numDenseBlocks - 1) - 3;
}

function resolveArchitecture(options: DenseNetOptions | undefined): { growthRate: number; blocks: readonly number[] } {
  const growthRate = options?.growthRate ?? DEFAULT_GROWTH_RATE;
  if (!Number.isInteger(growthRate) || growthRate < 1) {
    throw new Error(`densenet: growthRate must be a positive integer (d2l §8.7 uses 32), got ${growthRate}`);
  }
  const blocks = options?.blocks ?? DEFAULT_BLOCKS;
  if (blocks.length === 0 || blocks.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(
      `densenet: blocks must list how many conv blocks each dense block has (positive integers; d2l §8.7 uses [4, 4, 4, 4]), got ${JSON.stringify(blocks)}`,
    );
  }
  return { growthRate, blocks };
}

/**
 * DenseNet as d2l §8.7 builds it (Huang et al., "Densely Connected Convolutional Networks", 2017):
 * ResNet's stem (7×7 conv stride 2 → BatchNorm → ReLU → 3×3 max pool stride 2), one stage per dense
 * block with a transition block halving channels and size after each but the last, then BatchNorm →
 * ReLU → global average pooling → dense layer to the logits. Layers are named `stem_conv`,
 * `stage1_block1_bn`, `stage1_block4_concat`, `stage1_transition_conv`, `head_bn`, `global_pool`, `logits`.
 */
export function densenet(options?: DenseNetOptions): LayersModel {
  const { growthRate, blocks } = resolveArchitecture(options);
  const inputShape = resolveInputShape("densenet", options, DEFAULT_INPUT_SIZE, densenetMinInputSize(blocks.length));
  const numClasses = resolveNumClasses("densenet", options);

  const input = imageInput(inputShape);
  let x = conv(input, "stem_conv", { filters: 64, kernelSize: 7, strides: 2, pad: 3, relu: false });
  x = bnRelu(x, "stem");
  x = maxPool(x, "stem_pool", { poolSize: 3, strides: 2, pad: 1 });

  let channels = 64;
  blocks.forEach((numConvs, i) => {
    x = denseBlock(x, { numConvs, growthRate }, `stage${i + 1}`);
    channels += numConvs * growthRate;
    if (i !== blocks.length - 1) {
      // Halve the channels (rounding down, as d2l's `num_channels // 2`) and the size.
      channels = Math.floor(channels / 2);
      x = transitionBlock(x, channels, `stage${i + 1}_transition`);
    }
  });
  x = bnRelu(x, "head");
  // nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten() and nn.Linear(…, numClasses).
  const logits = globalAvgPoolClassifier(x, numClasses);
  return tfl.model({ inputs: input, outputs: logits, name: "densenet" });
}

/** DenseNet with d2l §8.7's recipe: lr 0.1, batch 256, 96×96, 10 epochs. */
export const densenetSpec: ModelSpec<DenseNetOptions> = {
  name: "densenet",
  title: "DenseNet",
  paper: "Huang et al., Densely Connected Convolutional Networks, CVPR 2017",
  d2lSection: "8.7",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.1, batchSize: 256, epochs: 10 },
  minInputSize: densenetMinInputSize(DEFAULT_BLOCKS.length),
  build: densenet,
};
