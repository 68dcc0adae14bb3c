import type { NetworkCase } from "@convnets/core/testing";
import { type VggOptions, vgg11, vgg11Spec } from "../src/index.js";

const CLASSIFIER_WALK: [string, number[]][] = [
  ["Linear", [4096]],
  ["ReLU", [4096]],
  ["Dropout", [4096]],
  ["Linear", [4096]],
  ["ReLU", [4096]],
  ["Dropout", [4096]],
  ["Linear", [10]],
];

/**
 * The lines of the book's printed shape walk (d2l §8.2): one `Sequential` line per VGG block (the output of
 * its pool), then the classifier layers.
 */
const SEED_LINES = {
  keep: (l: { name: string }) => !l.name.startsWith("block") || l.name.endsWith("_pool"),
  rename: (l: { name: string }) => (l.name.startsWith("block") ? "Sequential" : undefined),
};

/** The book's conv_arch: convolutions per block. Each is `blockB_convI` and its `_relu`; each block ends in `blockB_pool`. */
const CONVS_PER_BLOCK = [1, 1, 2, 2, 2];
const BLOCK_NAMES = CONVS_PER_BLOCK.flatMap((convs, b) => [
  ...Array.from({ length: convs }, (_, i) => [`block${b + 1}_conv${i + 1}`, `block${b + 1}_conv${i + 1}_relu`]).flat(),
  `block${b + 1}_pool`,
]);

/** VGG-11's row of the checks every network runs (`@convnets/core/testing`), from the book's printed tables and recipe. */
export const VGG11: NetworkCase<VggOptions> = {
  spec: vgg11Spec,
  build: vgg11,
  reference: {
    title: "VGG-11 (channels ÷ 4)",
    d2lSection: "8.2",
    recipe: { inputSize: 224, lr: 0.05, batchSize: 128, epochs: 10 },
    trainableParams: 128_806_154,
    nonTrainableParams: 0,
    // The spec builds what the d2l book trains: every block's channels divided by 4.
    specTrainableParams: 43_093_322,
    minInputSize: 32,
  },
  walks: [
    {
      title: "the book's printed block shapes at 224×224 (d2l §8.2), block 3 layer by layer",
      book: {
        lines: SEED_LINES,
        rows: [
          ["Sequential", [64, 112, 112]],
          ["Sequential", [128, 56, 56]],
          ["Sequential", [256, 28, 28]],
          ["Sequential", [512, 14, 14]],
          ["Sequential", [512, 7, 7]],
          ["Flatten", [25088]],
          ...CLASSIFIER_WALK,
        ],
      },
      layers: [
        ["block3_conv1", [56, 56, 256]],
        ["block3_conv1_relu", [56, 56, 256]],
        ["block3_conv2", [56, 56, 256]],
        ["block3_conv2_relu", [56, 56, 256]],
        ["block3_pool", [28, 28, 256]],
      ],
    },
    {
      title: "the book's VGG-11 (widthDivisor 4): 43,093,322 parameters, quarter-width blocks",
      options: { widthDivisor: 4 },
      trainableParams: 43_093_322,
      book: {
        lines: SEED_LINES,
        rows: [
          ["Sequential", [16, 112, 112]],
          ["Sequential", [32, 56, 56]],
          ["Sequential", [64, 28, 28]],
          ["Sequential", [128, 14, 14]],
          ["Sequential", [128, 7, 7]],
          ["Flatten", [6272]],
          ...CLASSIFIER_WALK,
        ],
      },
    },
  ],
  layerNames: [...BLOCK_NAMES, "flatten", "fc1", "fc1_relu", "fc1_dropout", "fc2", "fc2_relu", "fc2_dropout", "logits"],
  dropout: [0.5, 0.5],
  batchNorms: { count: 0, watched: [] },
  // Channels 8, 16, 32, 64, 64: small enough to build and train in a unit test on two cores.
  small: { widthDivisor: 8 },
  // Five 2×2 pools: 32 leaves 1×1, and 50 → 25, 12, 6, 3, 1.
  featureMap: { layer: "block5_pool", channels: 64, sizes: [[50, 1]] },
  colourInput: [32, 40],
  training: {
    inputSize: 32,
    // Four times the recipe's lr (0.05), so that 4 steps on 16 images show the fall clearly; at the recipe's
    // lr it is as steady but about four times smaller. Seeded weights make the run repeatable.
    lossFall: { kind: "sgd-steps", images: 16, steps: 4, lr: 0.2, fallsBy: 0.03 },
  },
};
