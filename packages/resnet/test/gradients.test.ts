import "@tensorflow/tfjs-backend-cpu";
import { type FashionMnist, loadFashionMnist, takeImages } from "@convnets/core";
import { compareGradients } from "@convnets/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { resnet18 } from "../src/index.js";

const INPUT_SIZE = 16;
let mnist: FashionMnist;

beforeAll(async () => {
  mnist = await loadFashionMnist();
});

describe("resnet18 gradients on wasm", () => {
  // Training on wasm runs kernels core adds or replaces (conv backprop, pooling gradients) and the
  // custom BatchNorm; this runs them together in the geometries ResNet uses (stride-2 convs after explicit
  // padding, the 1×1 projection, 1×1 feature maps) and compares with tfjs's reference cpu backend.
  it("equal the cpu backend's for every weight (max-norm relative error < 1e-3)", async () => {
    const build = () => resnet18({ inputShape: [INPUT_SIZE, INPUT_SIZE, 1] });
    // Gradients of the training loss on 4 real images with respect to every trainable weight, from the
    // same weights on both engines.
    const options = { inputSize: INPUT_SIZE, seed: 7, backend: "wasm", reference: "cpu" } as const;
    const { weights, referenceWeights, errors } = await compareGradients(build, takeImages(mnist.train, 4), options);
    expect(weights).toBe(referenceWeights);
    // A conv bias right before a BatchNorm has a true gradient of 0 (the mean cancels it): only noise.
    const compared = errors.filter((e) => e.scale >= 1e-4);
    for (const { weight, error } of compared) expect(error, `weight ${weight}`).toBeLessThan(1e-3);
    expect(compared.length).toBeGreaterThan(50);
  });
});
