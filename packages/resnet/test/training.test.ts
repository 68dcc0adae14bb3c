import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type EngineInfo, type FashionMnist, loadFashionMnist, setupEngine, takeImages, train } from "@convnets/core";
import { firstImages, maxAbsDifference, saveAndReload } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resnet18 } from "../src/index.js";

// Real engine (wasm, with core's training kernels) on real Fashion-MNIST images.
let engine: EngineInfo;
let mnist: FashionMnist;
let scratch: string;

beforeAll(async () => {
  engine = await setupEngine("wasm");
  mnist = await loadFashionMnist();
  scratch = await mkdtemp(join(tmpdir(), "convnets-resnet-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** [moving mean, moving variance] of a ConvnetsBatchNorm layer, copied out. */
function movingStatistics(model: LayersModel, layer: string): Float32Array[] {
  const weights = model.getLayer(layer).getWeights();
  expect(weights.map((w) => w.shape)).toHaveLength(4); // gamma, beta, moving mean, moving variance
  return weights.slice(2).map((w) => w.dataSync() as Float32Array);
}

describe("resnet18 on the wasm engine", () => {
  it("runs on wasm", () => {
    expect(engine.backend).toBe("wasm");
  });

  it("predicts logits for a batch of 2 at the default 96×96", () => {
    const model = resnet18();
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

    it("lowers the loss and updates the BatchNorm moving statistics", async () => {
      model = resnet18({ inputShape: [inputSize, inputSize, 1] });
      const layers = ["stage1_bn", "stage3_block1_bn1", "stage5_block2_bn2"];
      const before = layers.map((l) => movingStatistics(model, l));
      const data = { train: takeImages(mnist.train, 64), test: takeImages(mnist.test, 32) };
      // lr 0.01, not the recipe's 0.05: at 32×32 the last stage is 1×1 and, on batches of 32 instead of
      // 256, 0.05 makes the first steps' loss jump around (it still trains, but not monotonically).
      const { history } = await train(model, data, { epochs: 3, lr: 0.01, batchSize: 32, inputSize, seed: 1 });
      expect(history).toHaveLength(3);
      expect(history.every((e) => Number.isFinite(e.loss))).toBe(true);
      expect(history[2]!.loss).toBeLessThan(history[0]!.loss - 0.1);

      layers.forEach((layer, i) => {
        const [meanBefore, varianceBefore] = before[i]!;
        const [meanAfter, varianceAfter] = movingStatistics(model, layer);
        // Fresh statistics are mean 0, variance 1; six training steps must have moved both.
        expect(meanBefore!.every((v) => v === 0)).toBe(true);
        expect(varianceBefore!.every((v) => v === 1)).toBe(true);
        expect(maxAbsDifference(meanBefore!, meanAfter!)).toBeGreaterThan(1e-4);
        expect(maxAbsDifference(varianceBefore!, varianceAfter!)).toBeGreaterThan(1e-4);
      });
    });

    it("predicts the same numbers after saveModel and a fresh tf.loadLayersModel", async () => {
      const dir = join(scratch, "resnet18");
      const { xs, labels } = firstImages(mnist.test, 4, inputSize);
      const { loaded, expected, actual } = await saveAndReload(model, xs, dir);
      const topology = JSON.parse(await readFile(join(dir, "model.json"), "utf8")).modelTopology;
      expect(JSON.stringify(topology)).toContain('"class_name":"ConvnetsBatchNorm"');

      expect(loaded).not.toBe(model);
      expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
      // The moving statistics are saved with the model, not re-initialised on load.
      const [mean, variance] = movingStatistics(loaded, "stage5_block2_bn2");
      const [savedMean, savedVariance] = movingStatistics(model, "stage5_block2_bn2");
      expect(mean).toEqual(savedMean);
      expect(variance).toEqual(savedVariance);

      expect(actual).toHaveLength(40);
      expect(maxAbsDifference(actual, expected)).toBeLessThan(1e-6);
      tf.dispose([xs, labels]);
      loaded.dispose();
      model.dispose();
    });
  });
});
