import {
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

/** Output channels of an Inception block's four branches, as d2l §8.4's `Inception(in, c1, c2, c3, c4)`. */
export interface InceptionChannels {
  /** Branch 1: 1×1 convolution. */
  c1: number;
  /** Branch 2: 1×1 convolution to `c2[0]`, then 3×3 convolution to `c2[1]`. */
  c2: readonly [number, number];
  /** Branch 3: 1×1 convolution to `c3[0]`, then 5×5 convolution to `c3[1]`. */
  c3: readonly [number, number];
  /** Branch 4: 3×3 max pooling (stride 1), then 1×1 convolution to `c4`. */
  c4: number;
}

/**
 * The Inception block (d2l §8.4): four parallel branches over the same input, every convolution
 * followed by a ReLU, concatenated on the channel axis. Spatial size is kept; the output has
 * `c1 + c2[1] + c3[1] + c4` channels. Layers are named by branch and order: `${name}_branch1_conv`,
 * `${name}_branch2_conv1` (1×1), `${name}_branch2_conv2` (3×3), `${name}_branch3_conv1`, `${name}_branch3_conv2`
 * (5×5), `${name}_branch4_pool`, `${name}_branch4_conv`, `${name}_concat`.
 */
export function inception(x: SymbolicTensor, channels: InceptionChannels, name: string): SymbolicTensor {
  const { c1, c2, c3, c4 } = channels;
  const p1 = conv(x, `${name}_branch1_conv`, { filters: c1, kernelSize: 1 });
  const p2 = conv(conv(x, `${name}_branch2_conv1`, { filters: c2[0], kernelSize: 1 }), `${name}_branch2_conv2`, {
    filters: c2[1],
    kernelSize: 3,
    pad: 1,
  });
  const p3 = conv(conv(x, `${name}_branch3_conv1`, { filters: c3[0], kernelSize: 1 }), `${name}_branch3_conv2`, {
    filters: c3[1],
    kernelSize: 5,
    pad: 2,
  });
  const pooled = maxPool(x, `${name}_branch4_pool`, { poolSize: 3, strides: 1, pad: 1 });
  const p4 = conv(pooled, `${name}_branch4_conv`, { filters: c4, kernelSize: 1 });
  return applyTo(tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }), [p1, p2, p3, p4]);
}

/** The Inception blocks of d2l's b3, b4 and b5 (stages 1, 2 and 3 after the stem), in the book's order. */
const INCEPTION_STAGES: ReadonlyArray<{ stage: string; blocks: InceptionChannels[] }> = [
  {
    stage: "stage1",
    blocks: [
      { c1: 64, c2: [96, 128], c3: [16, 32], c4: 32 },
      { c1: 128, c2: [128, 192], c3: [32, 96], c4: 64 },
    ],
  },
  {
    stage: "stage2",
    blocks: [
      { c1: 192, c2: [96, 208], c3: [16, 48], c4: 64 },
      { c1: 160, c2: [112, 224], c3: [24, 64], c4: 64 },
      { c1: 128, c2: [128, 256], c3: [24, 64], c4: 64 },
      { c1: 112, c2: [144, 288], c3: [32, 64], c4: 64 },
      { c1: 256, c2: [160, 320], c3: [32, 128], c4: 128 },
    ],
  },
  {
    stage: "stage3",
    blocks: [
      { c1: 256, c2: [160, 320], c3: [32, 128], c4: 128 },
      { c1: 384, c2: [192, 384], c3: [48, 128], c4: 128 },
    ],
  },
];

export interface GoogLeNetOptions extends BuildOptions {
  /**
   * Kernel side of the first convolution (stride 2, padding 3). Default 7, as the original GoogLeNet
   * and d2l §8.4 have it; 1 gives 5,974,458 parameters instead of 5,977,530 and feature maps
   * 26/13/7/4 instead of 24/12/6/3.
   */
  stemKernelSize?: number;
}

const DEFAULT_INPUT_SIZE = 96;
const STEM_PADDING = 3;

/**
 * Smallest input side for a stem kernel: the padded stem (n + 6) must hold one kernel window.
 * Every later stride-2 layer is padded, so its output side is ceil(n / 2) ≥ 1 for any n ≥ 1.
 */
function googlenetMinInputSize(stemKernelSize = 7): number {
  return Math.max(1, stemKernelSize - 2 * STEM_PADDING);
}

function resolveStemKernelSize(options: GoogLeNetOptions | undefined): number {
  const k = options?.stemKernelSize ?? 7;
  if (!Number.isInteger(k) || k < 1) {
    throw new Error(`googlenet: stemKernelSize must be a positive integer (7 as in the paper and d2l §8.4), got ${k}`);
  }
  return k;
}

/**
 * GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", 2015) as d2l §8.4 builds it for
 * Fashion-MNIST: the stem, the book's b1 and b2 (7×7 conv, max pool; 1×1 and 3×3 convs, max pool: `stem_conv1`,
 * `stem_pool1`, `stem_conv2`, `stem_conv3`, `stem_pool2`), then stage1 (the book's b3: 2 Inception blocks, max pool),
 * stage2 (b4: 5 Inception blocks, max pool), stage3 (b5: 2 Inception blocks), global average pooling and a dense
 * layer to the logits. 96×96×1 input by default.
 */
export function googlenet(options?: GoogLeNetOptions): LayersModel {
  const stemKernelSize = resolveStemKernelSize(options);
  const inputShape = resolveInputShape("googlenet", options, DEFAULT_INPUT_SIZE, googlenetMinInputSize(stemKernelSize));
  const numClasses = resolveNumClasses("googlenet", options);

  const input = imageInput(inputShape);
  let x = conv(input, "stem_conv1", { filters: 64, kernelSize: stemKernelSize, strides: 2, pad: STEM_PADDING });
  x = maxPool(x, "stem_pool1", { poolSize: 3, strides: 2, pad: 1 });
  x = conv(x, "stem_conv2", { filters: 64, kernelSize: 1 });
  x = conv(x, "stem_conv3", { filters: 192, kernelSize: 3, pad: 1 });
  x = maxPool(x, "stem_pool2", { poolSize: 3, strides: 2, pad: 1 });

  INCEPTION_STAGES.forEach(({ stage, blocks }, i) => {
    blocks.forEach((channels, j) => {
      x = inception(x, channels, `${stage}_block${j + 1}`);
    });
    if (i < INCEPTION_STAGES.length - 1) x = maxPool(x, `${stage}_pool`, { poolSize: 3, strides: 2, pad: 1 });
  });
  // nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten() and nn.Linear(…, numClasses).
  const logits = globalAvgPoolClassifier(x, numClasses);
  return tfl.model({ inputs: input, outputs: logits, name: "googlenet" });
}

/** GoogLeNet with d2l §8.4's recipe: lr 0.1, batch 128, 96×96, 10 epochs. */
export const googlenetSpec: ModelSpec<GoogLeNetOptions> = {
  name: "googlenet",
  title: "GoogLeNet",
  paper: "Szegedy et al., Going Deeper with Convolutions, CVPR 2015",
  d2lSection: "8.4",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.1, batchSize: 128, epochs: 10 },
  minInputSize: googlenetMinInputSize(7),
  build: googlenet,
};
