import { kernelNames } from "@convnets/model";
import { expect, it } from "vitest";
import { BATCH_NORM_TRAINING_BACKWARD, BATCH_NORM_TRAINING_FORWARD, RELU_GRAD } from "../src/index.js";

// @convnets/webgpu keeps its own copy of the custom kernel names (it imports nothing of convnets, so a tfjs user can
// take it alone); @convnets/model is their home, and @convnets/batchnorm and @convnets/wasm register the same names.
it("registers the custom kernels under the model package's names", () => {
  expect(BATCH_NORM_TRAINING_FORWARD).toBe(kernelNames.BatchNormTrainingForward);
  expect(BATCH_NORM_TRAINING_BACKWARD).toBe(kernelNames.BatchNormTrainingBackward);
  expect(RELU_GRAD).toBe(kernelNames.ReluGrad);
});
