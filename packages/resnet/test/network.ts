import type { NetworkCase } from "@convnets/core/testing";
import { type ResNetOptions, resnet18, resnet18Spec } from "../src/index.js";

/** The output of the stem and of each stage: the rows of the book's table. */
const STAGES = [
  "stem_pool",
  "stage1_block2_relu2",
  "stage2_block2_relu2",
  "stage3_block2_relu2",
  "stage4_block2_relu2",
];
const table = (sides: number[]): [string, number[]][] =>
  STAGES.map((layer, i) => [layer, [sides[i]!, sides[i]!, [64, 64, 128, 256, 512][i]!]]);

/** ResNet-18's row of the checks every network runs (`@convnets/core/testing`), from the book's printed tables and recipe. */
export const RESNET18: NetworkCase<ResNetOptions> = {
  spec: resnet18Spec,
  build: resnet18,
  reference: {
    title: "ResNet-18",
    d2lSection: "8.6",
    recipe: { inputSize: 96, lr: 0.05, batchSize: 256, epochs: 10 },
    trainableParams: 11_178_378,
    // 17 BatchNorms (stem + 2 per residual block × 8), a moving mean and variance per channel each.
    nonTrainableParams: 2 * (64 + 2 * (2 * 64 + 2 * 128 + 2 * 256 + 2 * 512)),
    // Every stride-2 layer is padded (out = ceil(n/2)): any input leaves at least 1×1.
    minInputSize: 1,
  },
  walks: [
    {
      title: "the shape table at 96×96: 24, 24, 12, 6, 3, global avg 512, dense 10",
      layers: [...table([24, 24, 12, 6, 3]), ["global_pool", [512]]],
    },
    {
      title: "the book's printed table at 224×224: 56, 56, 28, 14, 7",
      options: { inputShape: [224, 224, 1] },
      layers: table([56, 56, 28, 14, 7]),
    },
    {
      title: "a 40×40×3 input with 4 classes",
      options: { numClasses: 4, inputShape: [40, 40, 3] },
      layers: [["stage4_block2_relu2", [2, 2, 512]]],
    },
  ],
  dropout: [],
  batchNorms: { count: 17, watched: ["stem_bn", "stage2_block1_bn1", "stage4_block2_bn2"] },
  featureMap: { layer: "stage4_block2_relu2", channels: 512 },
  colourInput: [40, 40],
  training: {
    inputSize: 32,
    // lr 0.01, not the recipe's 0.05: at 32×32 the last stage is 1×1 and, on batches of 32 instead of 256,
    // 0.05 makes the first steps' loss jump around (it still trains, but not monotonically).
    lossFall: { kind: "epochs", images: 64, testImages: 32, epochs: 3, batchSize: 32, lr: 0.01, seed: 1, fallsBy: 0.1 },
  },
  // The geometries ResNet trains with: stride-2 convolutions after explicit padding, the 1×1 projection, 1×1
  // feature maps, and the book's BatchNorm. A conv bias right before a BatchNorm has a true gradient of 0.
  gradients: { inputSize: 16, compared: 50 },
};
