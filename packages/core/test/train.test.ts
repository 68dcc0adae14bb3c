import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  DivergedError,
  divergenceBound,
  type EpochMetrics,
  type FashionMnist,
  loadFashionMnist,
  setupEngine,
  type TrainData,
  TrainStep,
  takeImages,
  train,
} from "../src/index.js";
import { firstImages } from "../src/testing.js";
import { REAL_DIR } from "./helpers.js";

let full: FashionMnist;
let data: TrainData;
beforeAll(async () => {
  await setupEngine("wasm");
  full = await loadFashionMnist({ dir: REAL_DIR });
  data = { train: takeImages(full.train, 3000), test: takeImages(full.test, 500) };
});

/** A small conv net: LeNet-sized, ReLU so that lr 0.1 learns within one epoch; with `dropout`, as AlexNet's head. */
function smallConvNet({ dropout = false } = {}) {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 64, activation: "relu" }),
      ...(dropout ? [tfl.layers.dropout({ rate: 0.5 })] : []),
      tfl.layers.dense({ units: 10 }),
    ],
  });
}

describe("train (d2l train_ch6) on real Fashion-MNIST, wasm engine", () => {
  it("the loss falls within one epoch of 3,000 images, and test accuracy beats chance", async () => {
    const losses: number[] = [];
    const { history } = await train(smallConvNet(), data, {
      epochs: 1,
      lr: 0.1,
      batchSize: 64,
      onBatch: (p) => {
        losses.push(p.loss);
      },
    });
    expect(losses.length).toBe(Math.ceil(3000 / 64));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-8))).toBeLessThan(0.8 * mean(losses.slice(0, 8)));
    const [epoch] = history;
    expect(epoch!.epoch).toBe(1);
    expect(epoch!.testAcc).toBeGreaterThan(0.3);
    expect(epoch!.examplesPerSec).toBeGreaterThan(0);
    expect(epoch!.seconds).toBeGreaterThan(0);
  });

  it("leaks no tensors: the count after epoch 1 equals the count after epoch 2", async () => {
    const counts: number[] = [];
    const small = { train: takeImages(full.train, 512), test: takeImages(full.test, 128) };
    await train(smallConvNet(), small, {
      epochs: 3,
      lr: 0.1,
      batchSize: 100,
      onEpoch: () => {
        counts.push(tf.memory().numTensors);
      },
    });
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
  });

  it("resuming from epoch 1 gives the same epoch 2 as an uninterrupted run", async () => {
    const small = { train: takeImages(full.train, 512), test: takeImages(full.test, 128) };
    const options = { lr: 0.1, batchSize: 64, seed: 11 };
    const straight = await train(smallConvNet(), small, { ...options, epochs: 2 });
    const model = smallConvNet();
    await train(model, small, { ...options, epochs: 1 });
    const resumed = await train(model, small, { ...options, epochs: 2, initialEpoch: 1 });
    const strip = ({ loss, trainAcc, testAcc }: EpochMetrics) => ({ loss, trainAcc, testAcc });
    expect(resumed.history.map(strip)).toEqual([strip(straight.history[1]!)]);
  });

  it("with dropout too: the masks come from the seed and the step, so a resumed run repeats the uninterrupted one", async () => {
    const small = { train: takeImages(full.train, 512), test: takeImages(full.test, 128) };
    const options = { lr: 0.1, batchSize: 64, seed: 5 };
    const strip = ({ loss, trainAcc, testAcc }: EpochMetrics) => ({ loss, trainAcc, testAcc });
    const straight = await train(smallConvNet({ dropout: true }), small, { ...options, epochs: 2 });
    const again = await train(smallConvNet({ dropout: true }), small, { ...options, epochs: 2 });
    expect(again.history.map(strip)).toEqual(straight.history.map(strip));
    const model = smallConvNet({ dropout: true });
    await train(model, small, { ...options, epochs: 1 });
    const resumed = await train(model, small, { ...options, epochs: 2, initialEpoch: 1 });
    expect(resumed.history.map(strip)).toEqual([strip(straight.history[1]!)]);
    // Another seed draws other masks (and other weights): another history.
    const other = await train(smallConvNet({ dropout: true }), small, { ...options, seed: 6, epochs: 1 });
    expect(strip(other.history[0]!)).not.toEqual(strip(straight.history[0]!));
  });

  it("a NaN or infinite loss stops with an error naming the epoch and batch and suggesting a smaller lr", async () => {
    const error = await train(smallConvNet(), data, { epochs: 1, lr: 1e12, batchSize: 64 }).catch((e) => e);
    expect(error).toBeInstanceOf(DivergedError);
    expect(error.message).toMatch(
      /^training diverged: loss is (NaN|Infinity) at epoch 1, batch \d+ \(lr 1000000000000\); try a smaller learning rate$/,
    );
  });

  it("a finite loss that explodes past 10 × max(first loss, ln 10) stops the run too, naming the bound", async () => {
    const losses: number[] = [];
    const error = await train(smallConvNet(), data, {
      epochs: 1,
      lr: 50,
      batchSize: 64,
      divergence: 10,
      onBatch: (p) => {
        losses.push(p.loss);
      },
    }).catch((e) => e);
    expect(error).toBeInstanceOf(DivergedError);
    const bound = divergenceBound(losses[0]!, 10);
    expect(bound).toBeCloseTo(10 * Math.max(losses[0]!, Math.log(10)), 10);
    if (Number.isFinite(error.loss)) {
      expect(error.loss).toBeGreaterThan(bound);
      expect(error.bound).toBe(bound);
      expect(error.message).toMatch(/above [\d.]+ \(10 × max\(first loss, ln classes\)\) \(lr 50\)/);
    }
    // Every batch before the one that stopped the run was inside the bound.
    expect(losses.every((l) => l <= bound)).toBe(true);
    expect(error.batch).toBe(losses.length + 1);
  });

  it("the default bound never stops a healthy run, and divergence: false stops only on NaN", async () => {
    const small = { train: takeImages(full.train, 512), test: takeImages(full.test, 128) };
    const { history } = await train(smallConvNet(), small, { epochs: 1, lr: 0.1, batchSize: 64 });
    expect(history).toHaveLength(1);
    expect(divergenceBound(0.3, 10)).toBeCloseTo(10 * Math.log(10), 10);
    expect(divergenceBound(5, 10)).toBe(50);
  });

  it("an AbortSignal stops after the current batch and discards the unfinished epoch", async () => {
    const controller = new AbortController();
    let batchesSeen = 0;
    const result = await train(smallConvNet(), data, {
      epochs: 2,
      lr: 0.1,
      batchSize: 64,
      signal: controller.signal,
      onBatch: (p) => {
        batchesSeen = p.batch;
        if (p.batch === 3) controller.abort();
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.history).toEqual([]);
    expect(batchesSeen).toBe(3);
  });

  it("refuses impossible options before any work", async () => {
    const model = smallConvNet();
    await expect(train(model, data, { epochs: 1, lr: -0.1, batchSize: 64 })).rejects.toThrow(
      "lr must be a positive number, got -0.1",
    );
    await expect(train(model, data, { epochs: 1, lr: 0.1, batchSize: 0 })).rejects.toThrow(
      "batchSize must be a positive integer, got 0",
    );
    await expect(train(model, data, { epochs: 0, lr: 0.1, batchSize: 8 })).rejects.toThrow(
      "epochs must be a positive integer, got 0",
    );
  });
});

describe("TrainStep.gradients: the step without its update", () => {
  it("gives the gradients run() applies: SGD on them reaches run()'s weights, dropout masks included", async () => {
    await setupEngine("wasm");
    const [a, b] = [smallConvNet({ dropout: true }), smallConvNet({ dropout: true })];
    b.setWeights(a.getWeights());
    const batch = firstImages(full.train, 64, 28);
    const [stepA, stepB] = [new TrainStep(a, 0.1, { seed: 5 }), new TrainStep(b, 0.1, { seed: 5 })];
    const ran = stepA.run(batch.xs, batch.labels, 3);
    const { loss, correct, grads } = stepB.gradients(batch.xs, batch.labels, 3);
    expect(Object.keys(grads)).toHaveLength(b.trainableWeights.length);
    expect(await loss.data()).toEqual(await ran.loss.data());
    expect(await correct.data()).toEqual(await ran.correct.data());
    const updated = b.trainableWeights.map((w) =>
      tf.sub(w.read(), tf.mul(0.1, grads[(w.read() as tf.Variable).name]!)),
    );
    const expected = await Promise.all(a.trainableWeights.map((w) => w.read().data()));
    for (const [i, u] of updated.entries()) expect(Array.from(await u.data())).toEqual(Array.from(expected[i]!));
    tf.dispose([ran.loss, ran.correct, loss, correct, ...Object.values(grads), ...updated, batch.xs, batch.labels]);
    stepA.dispose();
    stepB.dispose();
  });
});
