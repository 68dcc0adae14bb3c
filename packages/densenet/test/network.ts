import type { NetworkCase } from "@convnets/core/testing";
import { type DenseNetOptions, densenet, densenetSpec } from "../src/index.js";

/** The stem, each dense block and transition, and the final BatchNorm and ReLU: the book's table. */
const STAGES = [
  "stem_pool",
  "stage1_block4_concat",
  "stage1_transition_pool",
  "stage2_block4_concat",
  "stage2_transition_pool",
  "stage3_block4_concat",
  "stage3_transition_pool",
  "stage4_block4_concat",
  "head_bn",
  "head_relu",
];
const CHANNELS = [64, 192, 96, 224, 112, 240, 120, 248, 248, 248];
const table = (sides: number[]): [string, number[]][] =>
  STAGES.map((layer, i) => [layer, [sides[i]!, sides[i]!, CHANNELS[i]!]]);

/**
 * Channels each BatchNorm normalises: the stem's 64; in each dense block the input of each of its 4 conv
 * blocks (growing by 32); each transition's input; the final 248.
 */
const BATCH_NORM_CHANNELS = [
  64,
  ...[64, 96, 128, 160],
  192,
  ...[96, 128, 160, 192],
  224,
  ...[112, 144, 176, 208],
  240,
  ...[120, 152, 184, 216],
  248,
];

/** DenseNet's row of the checks every network runs (`@convnets/core/testing`), from the book's printed tables and recipe. */
export const DENSENET: NetworkCase<DenseNetOptions> = {
  spec: densenetSpec,
  build: densenet,
  reference: {
    title: "DenseNet",
    d2lSection: "8.7",
    recipe: { inputSize: 96, lr: 0.1, batchSize: 256, epochs: 10 },
    // Growth rate 32, blocks [4, 4, 4, 4].
    trainableParams: 758_226,
    // A moving mean and variance per channel of each of the 21 BatchNorms: state, not parameters.
    nonTrainableParams: 2 * BATCH_NORM_CHANNELS.reduce((a, b) => a + b, 0),
    // Three transitions, each needing 2 pixels to pool, after the stem's two stride-2 layers.
    minInputSize: 29,
  },
  walks: [
    {
      title: "the shape table at 96×96",
      layers: [...table([24, 24, 12, 12, 6, 6, 3, 3, 3, 3]), ["global_pool", [248]]],
    },
    {
      title: "the book's printed table at 224×224",
      options: { inputShape: [224, 224, 1] },
      layers: [...table([56, 56, 28, 28, 14, 14, 7, 7, 7, 7]), ["global_pool", [248]]],
    },
    {
      title: "60×60 with 3 classes: odd sizes round down in the transitions, like nn.AvgPool2d(2, 2)",
      options: { inputShape: [60, 60, 1], numClasses: 3 },
      // 60 → stem 30 → pool 15 → 7 → 3 → 1
      layers: [
        ["stem_pool", [15, 15, 64]],
        ["stage1_transition_pool", [7, 7, 96]],
        ["stage3_transition_pool", [1, 1, 120]],
      ],
    },
  ],
  dropout: [],
  batchNorms: { count: 21, watched: ["stem_bn", "stage2_block3_bn", "stage3_transition_bn", "head_bn"] },
  featureMap: { layer: "stage4_block4_concat", channels: 248 },
  colourInput: [48, 56],
  training: {
    inputSize: 32,
    lossFall: { kind: "epochs", images: 64, testImages: 32, epochs: 3, batchSize: 32, lr: 0.1, seed: 1, fallsBy: 0.1 },
  },
  // The geometries DenseNet trains with: the padded stride-2 stem, concatenations, 1×1 convolutions and average
  // pooling down to 1×1, and the book's BatchNorm. A conv bias right before a BatchNorm has a true gradient of 0.
  gradients: { inputSize: 32, compared: 40 },
};
