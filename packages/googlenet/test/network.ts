import type { NetworkCase } from "@convnets/core/testing";
import { type GoogLeNetOptions, googlenet, googlenetSpec } from "../src/index.js";

/** GoogLeNet's row of the checks every network runs (`@convnets/core/testing`), from the book's printed tables and recipe. */
export const GOOGLENET: NetworkCase<GoogLeNetOptions> = {
  spec: googlenetSpec,
  build: googlenet,
  reference: {
    title: "GoogLeNet",
    d2lSection: "8.4",
    recipe: { inputSize: 96, lr: 0.1, batchSize: 128, epochs: 10 },
    // With the 7×7 stem of the paper and the book (d2l §8.4); the second walk builds a 1×1 stem.
    trainableParams: 5_977_530,
    nonTrainableParams: 0,
    // Every stride-2 layer is padded (out = ceil(n/2)): any input leaves at least 1×1.
    minInputSize: 1,
  },
  walks: [
    {
      title: "the shape table at 96×96 with the 7×7 stem: 24, 12, 6, 3, 1024, 10",
      layers: [
        ["stem_conv1", [48, 48, 64]],
        ["stem_pool1", [24, 24, 64]],
        ["stem_pool2", [12, 12, 192]],
        ["stage1_pool", [6, 6, 480]],
        ["stage2_pool", [3, 3, 832]],
        ["global_pool", [1024]],
      ],
    },
    {
      title: "the shape table at 96×96 with a 1×1 stem (stemKernelSize 1): 26, 13, 7, 4; 5,974,458 parameters",
      options: { stemKernelSize: 1 },
      trainableParams: 5_974_458,
      layers: [
        ["stem_pool1", [26, 26, 64]],
        ["stem_pool2", [13, 13, 192]],
        ["stage1_pool", [7, 7, 480]],
        ["stage2_pool", [4, 4, 832]],
        ["global_pool", [1024]],
      ],
    },
    {
      title: "a non-square 64×80×3 input with 7 classes",
      options: { numClasses: 7, inputShape: [64, 80, 3] },
      layers: [["stem_pool1", [16, 20, 64]]],
    },
  ],
  dropout: [],
  batchNorms: { count: 0, watched: [] },
  featureMap: { layer: "stage2_pool", channels: 832 },
  colourInput: [64, 80],
  training: {
    inputSize: 32,
    // Without BatchNorm GoogLeNet leaves ln(10) ≈ 2.303 slowly (the book's first epochs are its worst):
    // 12 steps of 16 at the recipe's lr 0.1 take it to ≈ 2.28, a fall well beyond float noise.
    lossFall: { kind: "epochs", images: 64, testImages: 32, epochs: 3, batchSize: 16, lr: 0.1, seed: 1, fallsBy: 0.01 },
  },
  // The geometries GoogLeNet trains with: the padded stride-2 stem and pools, 1×1/3×3/5×5 'same' convolutions,
  // stride-1 max pooling, concatenations. Dead ReLUs leave some of its weights without gradient.
  gradients: { inputSize: 16, compared: 100 },
};
