import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConvnetsBatchNorm } from "@convnets/batchnorm";
import {
  batches,
  type EngineInfo,
  loadFashionMnist,
  loadModel,
  saveModel,
  setupEngine,
  type TrainData,
  takeImages,
  train,
} from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lenetBNSpec, lenetSpec } from "../src/index.js";

let engine: EngineInfo;
let data: TrainData;
let dir: string;

beforeAll(async () => {
  // The real engine: tfjs-node where installed, else wasm with convnets' training kernels.
  engine = await setupEngine();
  const fashion = await loadFashionMnist();
  data = { train: takeImages(fashion.train, 256), test: takeImages(fashion.test, 256) };
  dir = await mkdtemp(join(tmpdir(), "convnets-lenet-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function firstTestBatch(): tf.Tensor4D {
  const { xs, labels } = batches(data.test, { batchSize: 64 }).next().value!;
  labels.dispose();
  return xs;
}

describe.each([lenetSpec, lenetBNSpec].map((s) => [s.name, s] as const))("%s on real Fashion-MNIST", (name, spec) => {
  let trained: LayersModel;

  it("lowers the loss over 20 SGD steps on 256 training images with the seed's learning rate", async () => {
    const model = spec.build();
    const tensorsBefore = tf.memory().numTensors;
    // batch 256 on 256 images: each "epoch" is one step; epoch 1's loss is measured before any update
    const { history } = await train(model, data, { epochs: 20, lr: spec.defaults.lr, batchSize: 256, seed: 0 });
    const losses = history.map((h) => h.loss);
    console.log(`${name} on ${engine.description}: loss per step ${losses.map((l) => l.toFixed(3)).join(" ")}`);
    expect(losses).toHaveLength(20);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.1);
    // train() re-initialised the weights in place and left no tensor behind
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    trained = model;
  });

  it("saves as model.json + weights.bin and loads back predicting the same logits", async () => {
    expect(trained, "needs the model trained by the previous test").toBeDefined();
    const path = join(dir, name);
    await saveModel(trained, path);
    const loaded = await loadModel(path);
    const xs = firstTestBatch();
    const before = (trained.predict(xs) as tf.Tensor).dataSync();
    const after = (loaded.predict(xs) as tf.Tensor).dataSync();
    expect(Array.from(after)).toEqual(Array.from(before));
    expect(loaded.layers.map((l) => l.name)).toEqual(trained.layers.map((l) => l.name));

    const norms = loaded.layers.filter((l) => l instanceof ConvnetsBatchNorm);
    expect(norms).toHaveLength(name === "lenet-bn" ? 4 : 0);
    for (const norm of norms) {
      // the moving statistics came back from disk, trained away from their 0 / 1 start
      const [, , movingMean, movingVar] = norm.getWeights().map((w) => Array.from(w.dataSync()));
      const [, , savedMean] = trained.getLayer(norm.name).getWeights().map((w) => Array.from(w.dataSync()));
      expect(movingMean).toEqual(savedMean);
      expect(movingMean!.some((v) => Math.abs(v) > 1e-3)).toBe(true);
      expect(movingVar!.some((v) => Math.abs(v - 1) > 1e-3)).toBe(true);
    }
  });
});
