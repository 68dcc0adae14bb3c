import type { NetworkCase } from "@convnets/core/testing";
import { type LenetOptions, lenet, lenetBN, lenetBNSpec, lenetSpec } from "../src/index.js";

/**
 * The book's printed shape walks (the book's printed tables), channels-last: PyTorch's 6×28×28 is [28, 28, 6].
 * Every layer, in order, with its output shape.
 */
const LENET_SHAPES: [string, number[]][] = [
  ["conv1", [28, 28, 6]],
  ["conv1_sigmoid", [28, 28, 6]],
  ["pool1", [14, 14, 6]],
  ["conv2", [10, 10, 16]],
  ["conv2_sigmoid", [10, 10, 16]],
  ["pool2", [5, 5, 16]],
  ["flatten", [400]],
  ["fc1", [120]],
  ["fc1_sigmoid", [120]],
  ["fc2", [84]],
  ["fc2_sigmoid", [84]],
  ["logits", [10]],
];

const LENET_BN_SHAPES: [string, number[]][] = [
  ["conv1", [24, 24, 6]],
  ["conv1_bn", [24, 24, 6]],
  ["conv1_sigmoid", [24, 24, 6]],
  ["pool1", [12, 12, 6]],
  ["conv2", [8, 8, 16]],
  ["conv2_bn", [8, 8, 16]],
  ["conv2_sigmoid", [8, 8, 16]],
  ["pool2", [4, 4, 16]],
  ["flatten", [256]],
  ["fc1", [120]],
  ["fc1_bn", [120]],
  ["fc1_sigmoid", [120]],
  ["fc2", [84]],
  ["fc2_bn", [84]],
  ["fc2_sigmoid", [84]],
  ["logits", [10]],
];

/**
 * How both LeNets train in the checks: 20 steps of the book's recipe (batch 256 on the first 256 training images,
 * so each "epoch" is one step and epoch 1's loss is measured before any update), on the real engine: tfjs-node
 * where installed, else wasm with convnets' training kernels.
 */
const twentySteps = (lr: number) =>
  ({ kind: "epochs", images: 256, testImages: 256, epochs: 20, batchSize: 256, lr, seed: 0, fallsBy: 0.1 }) as const;

/** LeNet's row of the checks every network runs (`@convnets/core/testing`), from the book's printed tables and recipe. */
export const LENET: NetworkCase<LenetOptions> = {
  spec: lenetSpec,
  build: lenet,
  reference: {
    title: "LeNet-5",
    d2lSection: "7.6",
    recipe: { inputSize: 28, lr: 0.9, batchSize: 256, epochs: 10 },
    trainableParams: 61_706,
    nonTrainableParams: 0,
    // conv1 keeps the size, pool1 halves it, conv2 takes 4, pool2 halves it: ⌊(⌊s/2⌋ − 4)/2⌋ ≥ 1.
    minInputSize: 12,
  },
  walks: [
    { title: "the book's layer shape table at 28×28, every layer", layers: LENET_SHAPES, complete: true },
    {
      title: "a 32×36×3 input with 3 classes: 32×36 → 16×18 → 12×14 → 6×7",
      options: { numClasses: 3, inputShape: [32, 36, 3] },
      layers: [["flatten", [16 * 6 * 7]]],
    },
  ],
  dropout: [],
  batchNorms: { count: 0, watched: [] },
  featureMap: { layer: "pool2", channels: 16 },
  colourInput: [32, 36],
  training: { inputSize: 28, lossFall: twentySteps(0.9) },
  engine: "auto",
};

/** LeNet-BN's row: LeNet with the book's BatchNorm after every convolution and dense layer but the last. */
export const LENET_BN: NetworkCase<LenetOptions> = {
  spec: lenetBNSpec,
  build: lenetBN,
  reference: {
    title: "LeNet with batch normalization",
    d2lSection: "8.5",
    recipe: { inputSize: 28, lr: 1.0, batchSize: 256, epochs: 10 },
    trainableParams: 44_878,
    // Moving mean and variance of each BatchNorm: 2 × (6 + 16 + 120 + 84).
    nonTrainableParams: 452,
    // conv1 is not padded and takes 4 more than LeNet's: s − 4 ≥ 12.
    minInputSize: 16,
  },
  walks: [
    { title: "the book's layer shape table at 28×28, every layer", layers: LENET_BN_SHAPES, complete: true },
    {
      title: "a 32×36×3 input with 3 classes: 28×32 → 14×16 → 10×12 → 5×6",
      options: { numClasses: 3, inputShape: [32, 36, 3] },
      layers: [["flatten", [16 * 5 * 6]]],
    },
  ],
  dropout: [],
  batchNorms: { count: 4, watched: ["conv1_bn", "conv2_bn", "fc1_bn", "fc2_bn"] },
  featureMap: { layer: "pool2", channels: 16 },
  colourInput: [32, 36],
  training: { inputSize: 28, lossFall: twentySteps(1.0) },
  engine: "auto",
};

export const LENETS = [LENET, LENET_BN];
