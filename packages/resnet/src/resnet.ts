import { batchNorm } from "@convnets/batchnorm";
import {
  activation,
  applyTo,
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

export interface ResidualArgs {
  /** Output channels of both 3×3 convolutions (d2l's `num_channels`). */
  filters: number;
  /** Stride of the first 3×3 convolution and of the projection. Default 1. */
  strides?: number;
  /**
   * Pass the shortcut through a 1×1 convolution with `strides` (d2l's `use_1x1conv`), needed
   * whenever the block changes the channel count or the spatial size. Default false.
   */
  useProjection?: boolean;
}

const relu = (x: SymbolicTensor, name: string) => activation(x, name, "relu");

/**
 * The residual block (d2l §8.6, `Residual`): 3×3 conv (stride `strides`) → BatchNorm → ReLU →
 * 3×3 conv → BatchNorm, added to the input (through a 1×1 conv with the same stride when
 * `useProjection`: the book's `conv3`), then ReLU. Layers: `${name}_conv1`, `_bn1`, `_relu1`, `_conv2`, `_bn2`,
 * `_shortcut_conv` (the projection), `_add`, `_relu2`.
 */
export function residual(x: SymbolicTensor, args: ResidualArgs, name: string): SymbolicTensor {
  const { filters, strides = 1, useProjection = false } = args;
  const inputChannels = x.shape[x.shape.length - 1];
  if (!useProjection && (strides !== 1 || inputChannels !== filters)) {
    throw new Error(
      `residual ${name}: the shortcut cannot be added without a projection (input has ${inputChannels} channels, the block outputs ${filters} with stride ${strides}); pass useProjection: true, or keep strides 1 and filters ${inputChannels}`,
    );
  }
  let y = conv(x, `${name}_conv1`, { filters, kernelSize: 3, strides, pad: 1, relu: false });
  y = relu(applyTo(batchNorm({ name: `${name}_bn1` }), y), `${name}_relu1`);
  y = conv(y, `${name}_conv2`, { filters, kernelSize: 3, pad: 1, relu: false });
  y = applyTo(batchNorm({ name: `${name}_bn2` }), y);
  const shortcut = useProjection
    ? conv(x, `${name}_shortcut_conv`, { filters, kernelSize: 1, strides, relu: false })
    : x;
  return relu(applyTo(tfl.layers.add({ name: `${name}_add` }), [y, shortcut]), `${name}_relu2`);
}

export interface ResNetBlockArgs {
  /** Output channels of every residual block of the stage. */
  filters: number;
  /** Number of residual blocks. */
  numResiduals: number;
  /**
   * The stage right after the stem: it keeps the size and channels (the stem's max pool already
   * halved the size), so no block needs a projection. Otherwise the first block halves the
   * size with stride 2 and projects the shortcut. Default false.
   */
  firstBlock?: boolean;
}

/**
 * A ResNet stage (d2l §8.6, `resnet_block`): `numResiduals` residual blocks named
 * `${name}_block1`, `${name}_block2`, …; unless `firstBlock`, the first one has stride 2 and a
 * 1×1 projection.
 */
export function resnetBlock(x: SymbolicTensor, args: ResNetBlockArgs, name: string): SymbolicTensor {
  const { filters, numResiduals, firstBlock = false } = args;
  if (!Number.isInteger(numResiduals) || numResiduals < 1) {
    throw new Error(`resnetBlock ${name}: numResiduals must be a positive integer, got ${numResiduals}`);
  }
  let y = x;
  for (let i = 0; i < numResiduals; i++) {
    const downsample = i === 0 && !firstBlock;
    y = residual(y, { filters, strides: downsample ? 2 : 1, useProjection: downsample }, `${name}_block${i + 1}`);
  }
  return y;
}

const DEFAULT_INPUT_SIZE = 96;

/**
 * Smallest input side: every stride-2 layer (stem conv, stem pool, first conv of stages 3–5) is
 * padded, so its output side is ceil(n / 2), at least 1 for any n ≥ 1; the 1×1 projection also
 * gives ceil(n / 2), so the addition always lines up.
 */
const RESNET_MIN_INPUT_SIZE = 1;

export interface ResNetOptions extends BuildOptions {
  /** Model name. Default `resnet<depth>`, depth = 2 × (residual blocks) + 2 (stem conv and dense). */
  name?: string;
}

/**
 * A ResNet as d2l §8.6 builds it (He et al., "Deep Residual Learning for Image Recognition",
 * 2016): the stem (the book's b1: 7×7 conv stride 2 → BatchNorm → ReLU → 3×3 max pool stride 2), then
 * one stage per entry of `stages` (the book's b2…b5: that many residual blocks, 64, 128, 256, 512, … channels,
 * every stage after the first halving the size), global average pooling and a dense layer to the logits.
 * Layers are named `stem_conv`, `stem_bn`, `stage1_block1_conv1`, `stage2_block1_add`, `global_pool`, `logits`.
 */
export function resnet(stages: readonly number[], options?: ResNetOptions): LayersModel {
  if (stages.length === 0 || stages.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(
      `resnet: stages must list how many residual blocks each stage has (positive integers, e.g. [2, 2, 2, 2] for ResNet-18), got ${JSON.stringify(stages)}`,
    );
  }
  const depth = 2 * stages.reduce((a, b) => a + b, 0) + 2;
  const modelName = options?.name ?? `resnet${depth}`;
  const inputShape = resolveInputShape(modelName, options, DEFAULT_INPUT_SIZE, RESNET_MIN_INPUT_SIZE);
  const numClasses = resolveNumClasses(modelName, options);

  const input = imageInput(inputShape);
  let x = conv(input, "stem_conv", { filters: 64, kernelSize: 7, strides: 2, pad: 3, relu: false });
  x = relu(applyTo(batchNorm({ name: "stem_bn" }), x), "stem_relu");
  x = maxPool(x, "stem_pool", { poolSize: 3, strides: 2, pad: 1 });
  stages.forEach((numResiduals, i) => {
    x = resnetBlock(x, { filters: 64 * 2 ** i, numResiduals, firstBlock: i === 0 }, `stage${i + 1}`);
  });
  // nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten() and nn.Linear(…, numClasses).
  const logits = globalAvgPoolClassifier(x, numClasses);
  return tfl.model({ inputs: input, outputs: logits, name: modelName });
}

/** ResNet-18, the network d2l §8.6 trains: stages of 2, 2, 2, 2 residual blocks (11,178,378 parameters). */
export function resnet18(options?: BuildOptions): LayersModel {
  return resnet([2, 2, 2, 2], { ...options, name: "resnet18" });
}

/** ResNet-34: the same residual blocks in stages of 3, 4, 6, 3 (He et al., Table 1). */
export function resnet34(options?: BuildOptions): LayersModel {
  return resnet([3, 4, 6, 3], { ...options, name: "resnet34" });
}

const PAPER = "He et al., Deep Residual Learning for Image Recognition, CVPR 2016";

/** ResNet-18 with d2l §8.6's recipe: lr 0.05, batch 256, 96×96, 10 epochs. */
export const resnet18Spec: ModelSpec = {
  name: "resnet18",
  title: "ResNet-18",
  paper: PAPER,
  d2lSection: "8.6",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.05, batchSize: 256, epochs: 10 },
  minInputSize: RESNET_MIN_INPUT_SIZE,
  build: resnet18,
};

/** ResNet-34 with ResNet-18's recipe (the book trains only ResNet-18). */
export const resnet34Spec: ModelSpec = {
  name: "resnet34",
  title: "ResNet-34",
  paper: PAPER,
  d2lSection: "8.6",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.05, batchSize: 256, epochs: 10 },
  minInputSize: RESNET_MIN_INPUT_SIZE,
  build: resnet34,
};
