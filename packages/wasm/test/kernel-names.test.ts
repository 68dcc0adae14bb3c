import { CONVNETS_KERNEL_NAMES, kernelNames } from "@convnets/model";
import { describe, expect, it } from "vitest";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  CUSTOM_KERNEL_NAMES,
  RELU_GRAD,
} from "../src/index.js";

// @convnets/wasm keeps its own copy of the names (it imports nothing of convnets); @convnets/model is their home.
describe("custom kernel names", () => {
  it("are the model package's, one for one", () => {
    expect([...CUSTOM_KERNEL_NAMES].sort()).toEqual([...CONVNETS_KERNEL_NAMES].sort());
    expect(BATCH_NORM_TRAINING_FORWARD).toBe(kernelNames.BatchNormTrainingForward);
    expect(BATCH_NORM_TRAINING_BACKWARD).toBe(kernelNames.BatchNormTrainingBackward);
    expect(RELU_GRAD).toBe(kernelNames.ReluGrad);
  });
});
