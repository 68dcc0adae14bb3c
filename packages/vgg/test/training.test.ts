import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Batch,
  batches,
  initXavierUniform,
  type FashionMnist,
  loadFashionMnist,
  loadModel,
  saveModel,
  setupEngine,
  takeImages,
} from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vgg11, vgg11Spec } from "../src/index.js";

/** Channels 8, 16, 32, 64, 64: small enough to train in a unit test on two cores. */
const SMALL_WIDTH_DIVISOR = 8;

let data: FashionMnist;
let engine: string;

beforeAll(async () => {
  engine = (await setupEngine("wasm")).backend;
  data = await loadFashionMnist();
});

/** The first `count` Fashion-MNIST images of a set, resized to `inputSize`, as one batch. */
function firstImages(set: FashionMnist["train"], count: number, inputSize: number): Batch {
  return batches(takeImages(set, count), { batchSize: count, inputSize }).next().value!;
}

/** Mean softmax cross-entropy of the logits, d2l's `nn.CrossEntropyLoss`. */
function loss(model: LayersModel, batch: Batch, training: boolean): tf.Scalar {
  const logits = model.apply(batch.xs, { training }) as tf.Tensor;
  return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.labels, logits.shape[1]!), logits) as tf.Scalar;
}

describe("vgg11 on real Fashion-MNIST images", () => {
  it("runs on the wasm engine", () => {
    expect(engine).toBe("wasm");
  });

  it("gives 10 finite logits per image for a batch of 2 at 224×224, full width", () => {
    const model = vgg11();
    const batch = firstImages(data.test, 2, vgg11Spec.defaults.inputSize);
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

  it("lowers the loss in a few SGD steps at the smallest input size, narrowed", () => {
    const size = vgg11Spec.minInputSize;
    const model = vgg11({ inputShape: [size, size, 1], widthDivisor: SMALL_WIDTH_DIVISOR });
    const batch = firstImages(data.train, 16, size);
    // Four times the recipe's lr (0.05), so that 4 steps on 16 images show the fall clearly; at the
    // recipe's lr it is as steady but about four times smaller. Seeded weights make the run repeatable.
    const optimizer = tf.train.sgd(0.2);
    initXavierUniform(model, 1);
    try {
      // Measured without dropout, so the comparison sees the weights, not the dropout mask.
      const before = tf.tidy(() => loss(model, batch, false).dataSync()[0]!);
      for (let step = 0; step < 4; step++) {
        tf.tidy(() => {
          optimizer.minimize(() => loss(model, batch, true));
        });
      }
      const after = tf.tidy(() => loss(model, batch, false).dataSync()[0]!);
      expect(before).toBeGreaterThan(2); // ≈ ln 10 for an untrained 10-way classifier
      expect(after).toBeLessThan(before - 0.03);
    } finally {
      tf.dispose([batch.xs, batch.labels]);
      optimizer.dispose();
      model.dispose();
    }
  });
});

describe("saveModel / loadModel round trip", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "convnets-vgg-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reloads the same layers and weights, giving the same logits", async () => {
    const size = vgg11Spec.minInputSize;
    const model = vgg11({ inputShape: [size, size, 1], widthDivisor: SMALL_WIDTH_DIVISOR });
    const batch = firstImages(data.test, 4, size);
    const path = join(dir, "model");
    try {
      await saveModel(model, path);
      const loaded = await loadModel(path);
      try {
        expect(loaded.name).toBe("vgg11");
        expect(loaded.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
        expect(loaded.countParams()).toBe(model.countParams());
        const expected = model.predict(batch.xs) as tf.Tensor;
        const actual = loaded.predict(batch.xs) as tf.Tensor;
        expect(Array.from(actual.dataSync())).toEqual(Array.from(expected.dataSync()));
        tf.dispose([expected, actual]);
      } finally {
        loaded.dispose();
      }
    } finally {
      tf.dispose([batch.xs, batch.labels]);
      model.dispose();
    }
  });
});
