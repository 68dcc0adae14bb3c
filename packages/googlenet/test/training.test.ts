import { type EngineInfo, type FashionMnist, loadFashionMnist, setupEngine, takeImages, train } from "@convnets/core";
import { firstImages, maxAbsDifference, saveAndReload } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { googlenet } from "../src/index.js";

// Real engine (wasm, with core's training kernels) on real Fashion-MNIST images.
let engine: EngineInfo;
let mnist: FashionMnist;

beforeAll(async () => {
  engine = await setupEngine("wasm");
  mnist = await loadFashionMnist();
});

describe("googlenet on the wasm engine", () => {
  it("runs on wasm", () => {
    expect(engine.backend).toBe("wasm");
  });

  it("predicts logits for a batch of 2 at the default 96×96", () => {
    const model = googlenet();
    const { xs, labels } = firstImages(mnist.test, 2, 96);
    const logits = model.predict(xs) as tf.Tensor;
    expect(logits.shape).toEqual([2, 10]);
    const values = logits.dataSync();
    expect(values.every(Number.isFinite)).toBe(true);
    // Two different images give different logits.
    expect(maxAbsDifference(values.slice(0, 10), values.slice(10))).toBeGreaterThan(1e-6);
    tf.dispose([xs, labels, logits]);
    model.dispose();
  });

  describe("trained a few steps at 32×32, then saved and loaded", () => {
    const inputSize = 32;
    let model: LayersModel;

    it("lowers the loss", async () => {
      model = googlenet({ inputShape: [inputSize, inputSize, 1] });
      const data = { train: takeImages(mnist.train, 64), test: takeImages(mnist.test, 32) };
      // Without BatchNorm GoogLeNet leaves ln(10) ≈ 2.303 slowly (the book's first epochs are its worst):
      // 12 steps of 16 at the recipe's lr 0.1 take it to ≈ 2.28, a fall well beyond float noise.
      const { history } = await train(model, data, { epochs: 3, lr: 0.1, batchSize: 16, inputSize, seed: 1 });
      expect(history).toHaveLength(3);
      expect(history.every((e) => Number.isFinite(e.loss))).toBe(true);
      expect(history[2]!.loss).toBeLessThan(history[0]!.loss - 0.01);
    });

    it("predicts the same numbers after saveModel and a fresh tf.loadLayersModel", async () => {
      const { xs, labels } = firstImages(mnist.test, 4, inputSize);
      const { loaded, expected, actual } = await saveAndReload(model, xs);
      expect(loaded).not.toBe(model);
      expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
      expect(actual).toHaveLength(40);
      expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-6);
      tf.dispose([xs, labels]);
      loaded.dispose();
      model.dispose();
    });
  });
});
