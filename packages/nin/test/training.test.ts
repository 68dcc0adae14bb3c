import { type FashionMnist, initXavierUniform, loadFashionMnist, setupEngine } from "@convnets/core";
import { firstImages, lossBeforeAfterSgd, saveAndReload } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { NIN_MIN_INPUT_SIZE, nin, ninSpec } from "../src/index.js";

let data: FashionMnist;
let engine: string;

beforeAll(async () => {
  engine = (await setupEngine("wasm")).backend;
  data = await loadFashionMnist();
});

describe("nin on real Fashion-MNIST images", () => {
  it("runs on the wasm engine", () => {
    expect(engine).toBe("wasm");
  });

  it("gives 10 finite logits per image for a batch of 2 at 224×224", () => {
    const model = nin();
    const batch = firstImages(data.test, 2, ninSpec.defaults.inputSize);
    try {
      const logits = model.predict(batch.xs) as tf.Tensor;
      expect(logits.shape).toEqual([2, 10]);
      const values = Array.from(logits.dataSync());
      expect(values.every(Number.isFinite)).toBe(true);
      // Two different images (an ankle boot and a pullover) must not give the same logits.
      expect(values.slice(0, 10)).not.toEqual(values.slice(10));
      logits.dispose();
    } finally {
      tf.dispose([batch.xs, batch.labels]);
      model.dispose();
    }
  });

  it("lowers the loss in a few SGD steps at the smallest input size", () => {
    const model = nin({ inputShape: [NIN_MIN_INPUT_SIZE, NIN_MIN_INPUT_SIZE, 1] });
    const batch = firstImages(data.train, 8, NIN_MIN_INPUT_SIZE);
    initXavierUniform(model, 1);
    try {
      // Twice the recipe's lr (0.1) and 8 steps on 8 images: NiN's logits pass a ReLU, so at the start
      // few units carry a gradient and 4 steps on 16 images fall by as little as 0.01 with some seeds;
      // this setting falls by ~0.2 with every seed tried. Seeded weights make the run repeatable.
      const { before, after } = lossBeforeAfterSgd(model, batch, { lr: 0.2, steps: 8 });
      expect(before).toBeGreaterThan(2); // ≈ ln 10 for an untrained 10-way classifier
      expect(after).toBeLessThan(before - 0.05);
    } finally {
      tf.dispose([batch.xs, batch.labels]);
      model.dispose();
    }
  });
});

describe("saveModel / loadModel round trip", () => {
  it("reloads the same layers and weights, giving the same logits", async () => {
    const size = NIN_MIN_INPUT_SIZE;
    const model = nin({ inputShape: [size, size, 1] });
    const batch = firstImages(data.test, 4, size);
    try {
      const { loaded, expected, actual } = await saveAndReload(model, batch.xs);
      try {
        expect(loaded.name).toBe("nin");
        expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
        expect(loaded.countParams()).toBe(model.countParams());
        expect(Array.from(actual)).toEqual(Array.from(expected));
      } finally {
        loaded.dispose();
      }
    } finally {
      tf.dispose([batch.xs, batch.labels]);
      model.dispose();
    }
  });
});
