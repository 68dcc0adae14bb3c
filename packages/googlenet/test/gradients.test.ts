import "@tensorflow/tfjs-backend-cpu";
import { type FashionMnist, loadFashionMnist, takeImages } from "@convnets/core";
import { compareGradients } from "@convnets/core/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { googlenet } from "../src/index.js";

const INPUT_SIZE = 16;
let mnist: FashionMnist;

beforeAll(async () => {
  mnist = await loadFashionMnist();
});

describe("googlenet gradients on wasm", () => {
  // Training on wasm runs kernels core adds or replaces (conv backprop, pooling gradients); this runs
  // them together in the geometries GoogLeNet uses (the padded stride-2 stem and pools, 1×1/3×3/5×5 'same'
  // convs, stride-1 max pooling, concatenations) and compares with tfjs's reference cpu backend.
  it("equal the cpu backend's for every weight (max-norm relative error < 1e-3)", async () => {
    const build = () => googlenet({ inputShape: [INPUT_SIZE, INPUT_SIZE, 1] });
    // Gradients of the training loss on 4 real images with respect to every trainable weight, from the
    // same weights on both engines.
    const options = { inputSize: INPUT_SIZE, seed: 7, backend: "wasm", reference: "cpu" } as const;
    const { weights, referenceWeights, errors } = await compareGradients(build, takeImages(mnist.train, 4), options);
    expect(weights).toBe(referenceWeights);
    // Dead ReLUs leave some weights without gradient; relative error means nothing there.
    const compared = errors.filter((e) => e.scale >= 1e-4);
    for (const { weight, error } of compared) expect(error, `weight ${weight}`).toBeLessThan(1e-3);
    expect(compared.length).toBeGreaterThan(100);
  });
});
