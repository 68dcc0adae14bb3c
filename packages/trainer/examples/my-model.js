// my-model.js: your own network, trained by `convnets train ./my-model.js`.
import * as tfl from "@tensorflow/tfjs-layers";

/** A ModelSpec: a name, the recipe convnets trains it with, and a builder. */
export const smallCnn = {
  name: "small-cnn",
  title: "Two conv blocks and a linear classifier",
  paper: "none: an example",
  defaults: { inputSize: 28, lr: 0.1, batchSize: 128, epochs: 5 },
  minInputSize: 4, // two 2×2 poolings: 4 → 2 → 1
  build({ inputShape = [28, 28, 1], numClasses = 10 } = {}) {
    return tfl.sequential({
      name: "small_cnn",
      layers: [
        tfl.layers.conv2d({ inputShape, filters: 8, kernelSize: 3, padding: "same", activation: "relu" }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: "same", activation: "relu" }),
        tfl.layers.maxPooling2d({ poolSize: 2 }),
        tfl.layers.flatten(),
        tfl.layers.dense({ units: numClasses }), // logits: convnets applies softmax cross-entropy
      ],
    });
  },
};
