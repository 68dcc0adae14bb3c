import { batchNorm } from "@convnets/batchnorm";
import { type BuildOptions, type ModelSpec, resolveInputShape, resolveNumClasses, applyTo, conv, globalAvgPoolClassifier, maxPool } from "@convnets/model";
import * as tfl from "@tensorflow/tfjs-layers";
import type { LayersModel, SymbolicTensor } from "@tensorflow/tfjs-layers";

/** BatchNorm → ReLU, the pre-activation every DenseNet convolution starts with. */
function bnRelu(x: SymbolicTensor, name: string): SymbolicTensor {
  const normalized = applyTo(batchNorm({ name: `${name}_bn` }), x);
  return applyTo(tfl.layers.reLU({ name: `${name}_relu` }), normalized);
}

/**
 * The conv block (seed §3.7, `conv_block`): BatchNorm → ReLU → 3×3 conv (padding 1) to `filters`
 * channels. Layers: `${name}_bn`, `${name}_relu`, `${name}_conv3x3`.
 */
export function convBlock(x: SymbolicTensor, filters: number, name: string): SymbolicTensor {
  return conv(bnRelu(x, name), `${name}_conv3x3`, { filters, kernelSize: 3, pad: 1, relu: false });
}

export interface DenseBlockArgs {
  /** Number of conv blocks (the seed's `num_convs`). */
  numConvs: number;
  /** Channels each conv block adds (the seed's `num_channels`, the growth rate). */
  growthRate: number;
}

/**
 * The dense block (seed §3.7, `DenseBlock`): `numConvs` conv blocks, each one's output
 * concatenated on the channel axis to its input, so the block adds `numConvs × growthRate`
 * channels and keeps the size. Layers: `${name}_layer1_bn`, `${name}_layer1_relu`, `${name}_layer1_conv3x3`, `${name}_concat1`, ….
 */
export function denseBlock(x: SymbolicTensor, args: DenseBlockArgs, name: string): SymbolicTensor {
  const { numConvs, growthRate } = args;
  let y = x;
  for (let i = 1; i <= numConvs; i++) {
    const grown = convBlock(y, growthRate, `${name}_layer${i}`);
    y = applyTo(tfl.layers.concatenate({ axis: -1, name: `${name}_concat${i}` }), [y, grown]);
  }
  return y;
}

/**
 * The transition block (seed §3.7, `transition_block`): BatchNorm → ReLU → 1×1 conv to `filters`
 * channels → 2×2 average pooling with stride 2 (halves the size, rounding down). Layers:
 * `${name}_bn`, `${name}_relu`, `${name}_conv1x1`, `${name}_pool`.
 */
export function transitionBlock(x: SymbolicTensor, filters: number, name: string): SymbolicTensor {
  const reduced = conv(bnRelu(x, name), `${name}_conv1x1`, { filters, kernelSize: 1, relu: false });
  return applyTo(tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: "valid", name: `${name}_pool` }), reduced);
}

export interface DenseNetOptions extends BuildOptions {
  /** Channels each conv block adds. Default 32. */
  growthRate?: number;
  /** Conv blocks per dense block (the seed's `num_convs_in_dense_blocks`). Default [4, 4, 4, 4]. */
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
export function densenetMinInputSize(numDenseBlocks = DEFAULT_BLOCKS.length): number {
  return 4 * 2 ** (numDenseBlocks - 1) - 3;
}

function resolveArchitecture(options: DenseNetOptions | undefined): { growthRate: number; blocks: readonly number[] } {
  const growthRate = options?.growthRate ?? DEFAULT_GROWTH_RATE;
  if (!Number.isInteger(growthRate) || growthRate < 1) {
    throw new Error(`densenet: growthRate must be a positive integer (the seed uses 32), got ${growthRate}`);
  }
  const blocks = options?.blocks ?? DEFAULT_BLOCKS;
  if (blocks.length === 0 || blocks.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(
      `densenet: blocks must list how many conv blocks each dense block has (positive integers; the seed uses [4, 4, 4, 4]), got ${JSON.stringify(blocks)}`,
    );
  }
  return { growthRate, blocks };
}

/**
 * DenseNet as the seed builds it (Huang et al., "Densely Connected Convolutional Networks", 2017;
 * seed §3.7): ResNet's stem (7×7 conv stride 2 → BatchNorm → ReLU → 3×3 max pool stride 2), dense
 * blocks with a transition block halving channels and size between each two, then BatchNorm →
 * ReLU → global average pooling → dense layer to the logits. Layers are named `b1_conv7x7`,
 * `dense1_layer1_bn`, `dense1_concat4`, `transition1_conv1x1`, `final_bn`, `global_avg`, `fc`.
 */
export function densenet(options?: DenseNetOptions): LayersModel {
  const { growthRate, blocks } = resolveArchitecture(options);
  const inputShape = resolveInputShape("densenet", options, DEFAULT_INPUT_SIZE, densenetMinInputSize(blocks.length));
  const numClasses = resolveNumClasses("densenet", options);

  const input = tfl.input({ shape: inputShape, name: "input" });
  let x = conv(input, "b1_conv7x7", { filters: 64, kernelSize: 7, strides: 2, pad: 3, relu: false });
  x = applyTo(tfl.layers.reLU({ name: "b1_relu" }), applyTo(batchNorm({ name: "b1_bn" }), x));
  x = maxPool(x, "b1_pool", { poolSize: 3, strides: 2, pad: 1 });

  let channels = 64;
  blocks.forEach((numConvs, i) => {
    x = denseBlock(x, { numConvs, growthRate }, `dense${i + 1}`);
    channels += numConvs * growthRate;
    if (i !== blocks.length - 1) {
      // Halve the channels (rounding down, as the seed's `num_channels // 2`) and the size.
      channels = Math.floor(channels / 2);
      x = transitionBlock(x, channels, `transition${i + 1}`);
    }
  });
  x = bnRelu(x, "final");
  // nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten() and nn.Linear(…, numClasses).
  const logits = globalAvgPoolClassifier(x, numClasses, "global_avg");
  return tfl.model({ inputs: input, outputs: logits, name: "densenet" });
}

/** DenseNet with the seed's recipe: lr 0.1, batch 256, 96×96, 10 epochs. */
export const densenetSpec: ModelSpec<DenseNetOptions> = {
  name: "densenet",
  title: "DenseNet",
  paper: "Huang et al., Densely Connected Convolutional Networks, CVPR 2017",
  seedSection: "3.7",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.1, batchSize: 256, epochs: 10 },
  minInputSize: densenetMinInputSize(DEFAULT_BLOCKS.length),
  build: densenet,
};
