import type { NetworkCase } from "@convnets/core/testing";
import { type AlexNetOptions, alexnet, alexnetSpec } from "../src/index.js";

/** AlexNet's row of the checks every network runs (`@convnets/core/testing`), from the book's printed tables and recipe. */
export const ALEXNET: NetworkCase<AlexNetOptions> = {
  spec: alexnetSpec,
  build: alexnet,
  reference: {
    title: "AlexNet",
    d2lSection: "8.1",
    recipe: { inputSize: 224, lr: 0.01, batchSize: 128, epochs: 10 },
    trainableParams: 46_764_746,
    nonTrainableParams: 0,
    minInputSize: 65,
  },
  walks: [
    {
      title: "the book's printed layer shapes at 224×224 (d2l §8.1)",
      // Every layer but the explicit zero padding, which is PyTorch's Conv2d(padding=1) and prints no line.
      book: {
        lines: { keep: (l) => l.type !== "ZeroPadding2D" },
        rows: [
          ["Conv2d", [96, 54, 54]],
          ["ReLU", [96, 54, 54]],
          ["MaxPool2d", [96, 26, 26]],
          ["Conv2d", [256, 26, 26]],
          ["ReLU", [256, 26, 26]],
          ["MaxPool2d", [256, 12, 12]],
          ["Conv2d", [384, 12, 12]],
          ["ReLU", [384, 12, 12]],
          ["Conv2d", [384, 12, 12]],
          ["ReLU", [384, 12, 12]],
          ["Conv2d", [256, 12, 12]],
          ["ReLU", [256, 12, 12]],
          ["MaxPool2d", [256, 5, 5]],
          ["Flatten", [6400]],
          ["Linear", [4096]],
          ["ReLU", [4096]],
          ["Dropout", [4096]],
          ["Linear", [4096]],
          ["ReLU", [4096]],
          ["Dropout", [4096]],
          ["Linear", [10]],
        ],
      },
    },
    {
      title: "the smallest input, 65×65: a 1×1 map, 256 features into fc1",
      options: { inputShape: [65, 65, 1] },
      layers: [
        ["pool3", [1, 1, 256]],
        ["flatten", [256]],
      ],
    },
    {
      title: "100×100: conv1 23, pool1 11, conv2 11, pool2 5, conv3–5 5, pool3 2",
      options: { inputShape: [100, 100, 1] },
      layers: [
        ["pool3", [2, 2, 256]],
        ["flatten", [1024]],
      ],
    },
  ],
  layerNames: [
    "conv1_pad",
    "conv1",
    "conv1_relu",
    "pool1",
    "conv2",
    "conv2_relu",
    "pool2",
    "conv3",
    "conv3_relu",
    "conv4",
    "conv4_relu",
    "conv5",
    "conv5_relu",
    "pool3",
    "flatten",
    "fc1",
    "fc1_relu",
    "fc1_dropout",
    "fc2",
    "fc2_relu",
    "fc2_dropout",
    "logits",
  ],
  dropout: [0.5, 0.5],
  batchNorms: { count: 0, watched: [] },
  // 65 leaves a 1×1 map (the walks above check 65 and 100 layer by layer).
  featureMap: { layer: "pool3", channels: 256 },
  colourInput: [96, 96],
  training: {
    inputSize: 65,
    // Ten times the recipe's lr (0.01), so that 4 steps on 16 images show the fall clearly; at the recipe's
    // lr it is as steady but about ten times smaller. Seeded weights make the run repeatable.
    lossFall: { kind: "sgd-steps", images: 16, steps: 4, lr: 0.1, fallsBy: 0.03 },
  },
};
