import { type BuildOptions, type ModelSpec, resolveInputShape, resolveNumClasses, applyTo, conv, globalAvgPoolClassifier, maxPool } from "@convnets/model";
import * as tfl from "@tensorflow/tfjs-layers";
import type { LayersModel, SymbolicTensor } from "@tensorflow/tfjs-layers";

/** Output channels of an Inception block's four paths, as the seed's `Inception(in, c1, c2, c3, c4)`. */
export interface InceptionChannels {
  /** Path 1: 1×1 convolution. */
  c1: number;
  /** Path 2: 1×1 convolution to `c2[0]`, then 3×3 convolution to `c2[1]`. */
  c2: readonly [number, number];
  /** Path 3: 1×1 convolution to `c3[0]`, then 5×5 convolution to `c3[1]`. */
  c3: readonly [number, number];
  /** Path 4: 3×3 max pooling (stride 1), then 1×1 convolution to `c4`. */
  c4: number;
}

/**
 * The Inception block (seed §3.4): four parallel paths over the same input, every convolution
 * followed by a ReLU, concatenated on the channel axis. Spatial size is kept; the output has
 * `c1 + c2[1] + c3[1] + c4` channels. Layers are named `${name}_p2_conv3x3` and so on.
 */
export function inception(x: SymbolicTensor, channels: InceptionChannels, name: string): SymbolicTensor {
  const { c1, c2, c3, c4 } = channels;
  const p1 = conv(x, `${name}_p1_conv1x1`, { filters: c1, kernelSize: 1 });
  const p2 = conv(conv(x, `${name}_p2_conv1x1`, { filters: c2[0], kernelSize: 1 }), `${name}_p2_conv3x3`, {
    filters: c2[1],
    kernelSize: 3,
    pad: 1,
  });
  const p3 = conv(conv(x, `${name}_p3_conv1x1`, { filters: c3[0], kernelSize: 1 }), `${name}_p3_conv5x5`, {
    filters: c3[1],
    kernelSize: 5,
    pad: 2,
  });
  const pooled = maxPool(x, `${name}_p4_pool3x3`, { poolSize: 3, strides: 1, pad: 1 });
  const p4 = conv(pooled, `${name}_p4_conv1x1`, { filters: c4, kernelSize: 1 });
  return applyTo(tfl.layers.concatenate({ axis: -1, name: `${name}_concat` }), [p1, p2, p3, p4]);
}

/** The Inception blocks of stages b3, b4 and b5, in the seed's order. */
const INCEPTION_STAGES: ReadonlyArray<{ stage: string; blocks: InceptionChannels[] }> = [
  {
    stage: "b3",
    blocks: [
      { c1: 64, c2: [96, 128], c3: [16, 32], c4: 32 },
      { c1: 128, c2: [128, 192], c3: [32, 96], c4: 64 },
    ],
  },
  {
    stage: "b4",
    blocks: [
      { c1: 192, c2: [96, 208], c3: [16, 48], c4: 64 },
      { c1: 160, c2: [112, 224], c3: [24, 64], c4: 64 },
      { c1: 128, c2: [128, 256], c3: [24, 64], c4: 64 },
      { c1: 112, c2: [144, 288], c3: [32, 64], c4: 64 },
      { c1: 256, c2: [160, 320], c3: [32, 128], c4: 128 },
    ],
  },
  {
    stage: "b5",
    blocks: [
      { c1: 256, c2: [160, 320], c3: [32, 128], c4: 128 },
      { c1: 384, c2: [192, 384], c3: [48, 128], c4: 128 },
    ],
  },
];

export interface GoogLeNetOptions extends BuildOptions {
  /**
   * Kernel side of the first convolution (stride 2, padding 3). Default 7, as the seed's text,
   * the original GoogLeNet and the d2l book have it; the seed's code writes 1 (a slip), which
   * gives 5,974,458 parameters instead of 5,977,530 and feature maps 26/13/7/4 instead of 24/12/6/3.
   */
  stemKernelSize?: number;
}

const DEFAULT_INPUT_SIZE = 96;
const STEM_PADDING = 3;

/**
 * Smallest input side for a stem kernel: the padded stem (n + 6) must hold one kernel window.
 * Every later stride-2 layer is padded, so its output side is ceil(n / 2) ≥ 1 for any n ≥ 1.
 */
export function googlenetMinInputSize(stemKernelSize = 7): number {
  return Math.max(1, stemKernelSize - 2 * STEM_PADDING);
}

function resolveStemKernelSize(options: GoogLeNetOptions | undefined): number {
  const k = options?.stemKernelSize ?? 7;
  if (!Number.isInteger(k) || k < 1) {
    throw new Error(`googlenet: stemKernelSize must be a positive integer (7 as in the paper, 1 as in the seed's code), got ${k}`);
  }
  return k;
}

/**
 * GoogLeNet (Szegedy et al., "Going Deeper with Convolutions", 2015) as the seed builds it for
 * Fashion-MNIST (seed §3.4): stem b1 (7×7 conv, max pool), b2 (1×1 and 3×3 convs, max pool),
 * b3 (2 Inception blocks, max pool), b4 (5 Inception blocks, max pool), b5 (2 Inception blocks,
 * global average pooling), then a dense layer to the logits. 96×96×1 input by default.
 */
export function googlenet(options?: GoogLeNetOptions): LayersModel {
  const stemKernelSize = resolveStemKernelSize(options);
  const inputShape = resolveInputShape(
    "googlenet",
    options,
    DEFAULT_INPUT_SIZE,
    googlenetMinInputSize(stemKernelSize),
  );
  const numClasses = resolveNumClasses("googlenet", options);

  const input = tfl.input({ shape: inputShape, name: "input" });
  const k = stemKernelSize;
  let x = conv(input, `b1_conv${k}x${k}`, { filters: 64, kernelSize: k, strides: 2, pad: STEM_PADDING });
  x = maxPool(x, "b1_pool", { poolSize: 3, strides: 2, pad: 1 });

  x = conv(x, "b2_conv1x1", { filters: 64, kernelSize: 1 });
  x = conv(x, "b2_conv3x3", { filters: 192, kernelSize: 3, pad: 1 });
  x = maxPool(x, "b2_pool", { poolSize: 3, strides: 2, pad: 1 });

  for (const { stage, blocks } of INCEPTION_STAGES) {
    blocks.forEach((channels, i) => {
      x = inception(x, channels, `${stage}_inception${i + 1}`);
    });
    if (stage !== "b5") x = maxPool(x, `${stage}_pool`, { poolSize: 3, strides: 2, pad: 1 });
  }
  // nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten() and nn.Linear(…, numClasses).
  const logits = globalAvgPoolClassifier(x, numClasses, "b5_global_avg");
  return tfl.model({ inputs: input, outputs: logits, name: "googlenet" });
}

/** GoogLeNet with the seed's recipe: lr 0.1, batch 128, 96×96, 10 epochs. */
export const googlenetSpec: ModelSpec<GoogLeNetOptions> = {
  name: "googlenet",
  title: "GoogLeNet",
  paper: "Szegedy et al., Going Deeper with Convolutions, CVPR 2015",
  seedSection: "3.4",
  defaults: { inputSize: DEFAULT_INPUT_SIZE, lr: 0.1, batchSize: 128, epochs: 10 },
  minInputSize: googlenetMinInputSize(7),
  build: googlenet,
};
