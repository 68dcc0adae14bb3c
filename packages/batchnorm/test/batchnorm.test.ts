import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { serialization } from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchNorm, ConvnetsBatchNorm } from "../src/index.js";
import { loadFromDir, saveToDir } from "./file-io.js";
import { batchStatistics, maxAbsDiff, movingUpdate, normalise, randomArray } from "./reference.js";

const MOMENTUM = 0.9;
const EPS = 1e-5;

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** tfjs's own layer configured to the book's math (d2l §8.5): same momentum convention, eps 1e-5, biased variance. */
function builtin(): tfl.layers.Layer {
  return tfl.layers.batchNormalization({ momentum: MOMENTUM, epsilon: EPS });
}

/** Input whose per-feature means and spreads differ, so a wrong axis cannot pass by accident. */
function input(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const features = shape[shape.length - 1]!;
  const raw = randomArray(n, seed, 1.5);
  for (let i = 0; i < n; i++) raw[i] = raw[i]! * (1 + (i % features)) + 2 * (i % features) - 1;
  return tf.tensor(raw, shape);
}

/** Builds `layer` for `shape` and gives it gamma and beta different from their 1/0 start. */
function prepare(layer: tfl.layers.Layer, shape: number[]): void {
  layer.build(shape);
  const features = shape[shape.length - 1]!;
  const gamma = tf.tensor1d(randomArray(features, 7, 0.5, 1));
  const beta = tf.tensor1d(randomArray(features, 8, 0.5));
  const [movingMean, movingVar] = layer.getWeights().slice(2);
  layer.setWeights([gamma, beta, movingMean!, movingVar!]);
}

function trainingOutput(layer: tfl.layers.Layer, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync() as Float32Array);
}

const SHAPES: Record<string, number[]> = {
  "dense [batch, features]": [6, 5],
  "image [batch, h, w, channels]": [4, 5, 3, 6],
};

describe.each(Object.entries(SHAPES))("ConvnetsBatchNorm on %s", (_label, shape) => {
  const features = shape[shape.length - 1]!;

  it("normalises with the batch statistics in training, like tfjs's layer and the book's formula", () => {
    const mine = batchNorm();
    const theirs = builtin();
    prepare(mine, shape);
    prepare(theirs, shape);
    const x = input(shape, 1);
    const ours = trainingOutput(mine, x);
    expect(maxAbsDiff(ours, trainingOutput(theirs, x))).toBeLessThanOrEqual(1e-5);

    const [gamma, beta] = mine.getWeights().map((w) => Array.from(w.dataSync()));
    const xs = x.dataSync();
    const expected = normalise(xs, batchStatistics(xs, features), gamma!, beta!, EPS);
    expect(maxAbsDiff(ours, expected)).toBeLessThanOrEqual(1e-5);
    // normalised per feature: mean beta, (biased) std ≈ gamma
    const stats = batchStatistics(ours, features);
    expect(maxAbsDiff(stats.mean, beta!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(stats.variance.map(Math.sqrt), gamma!.map(Math.abs))).toBeLessThan(1e-3);
  });

  it("adds eps to the variance inside the square root (a nearly constant feature shows it)", () => {
    const layer = batchNorm();
    prepare(layer, shape);
    // feature 0 varies by ±1e-3 (variance ~1e-7, well below eps), so eps decides its scale
    const xs = input(shape, 2).dataSync() as Float32Array;
    const wiggle = randomArray(xs.length, 3, 1e-3);
    for (let i = 0; i < xs.length; i += features) xs[i] = 0.5 + wiggle[i]!;
    const ours = trainingOutput(layer, tf.tensor(xs, shape));
    const [gamma, beta] = layer.getWeights().map((w) => Array.from(w.dataSync()));
    const expected = normalise(xs, batchStatistics(xs, features), gamma!, beta!, EPS);
    expect(maxAbsDiff(ours, expected)).toBeLessThanOrEqual(1e-4);
  });

  it("updates the moving statistics like tfjs's layer and the book (momentum 0.9, biased variance)", () => {
    const mine = batchNorm();
    const theirs = builtin();
    prepare(mine, shape);
    prepare(theirs, shape);
    let movingMean = new Array<number>(features).fill(0);
    let movingVar = new Array<number>(features).fill(1);
    for (let step = 0; step < 4; step++) {
      const x = input(shape, 10 + step);
      trainingOutput(mine, x);
      trainingOutput(theirs, x);
      const stats = batchStatistics(x.dataSync(), features);
      movingMean = movingUpdate(movingMean, stats.mean, MOMENTUM);
      movingVar = movingUpdate(movingVar, stats.variance, MOMENTUM);
      x.dispose();
    }
    const [, , oursMean, oursVar] = mine.getWeights().map((w) => w.dataSync());
    const [, , theirMean, theirVar] = theirs.getWeights().map((w) => w.dataSync());
    expect(maxAbsDiff(oursMean!, theirMean!)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(oursVar!, theirVar!)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(oursMean!, movingMean)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(oursVar!, movingVar)).toBeLessThanOrEqual(1e-5);
    // the statistics really moved away from their 0/1 start
    expect(Math.max(...Array.from(oursMean!, Math.abs))).toBeGreaterThan(0.1);
  });

  it("uses the moving statistics in inference and leaves them unchanged", () => {
    const layer = batchNorm();
    prepare(layer, shape);
    for (let step = 0; step < 3; step++) trainingOutput(layer, input(shape, 20 + step));
    const before = layer.getWeights().map((w) => Array.from(w.dataSync()));
    const [gamma, beta, movingMean, movingVar] = before;

    const x = input(shape, 30);
    const inferred = (layer.apply(x) as tf.Tensor).dataSync();
    const explicit = (layer.apply(x, { training: false }) as tf.Tensor).dataSync();
    const xs = x.dataSync();
    const expected = normalise(xs, { mean: movingMean!, variance: movingVar! }, gamma!, beta!, EPS);
    expect(maxAbsDiff(inferred, expected)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(explicit, expected)).toBeLessThanOrEqual(1e-5);
    // inference is per example: one example alone gives what it gives inside the batch
    const one = tf.slice(x, 0, 1);
    const alone = (layer.apply(one) as tf.Tensor).dataSync();
    expect(maxAbsDiff(alone, inferred.slice(0, one.size))).toBeLessThanOrEqual(1e-6);
    // and training mode, with the batch's own statistics, gives something else
    expect(maxAbsDiff(inferred, trainingOutput(layer, x))).toBeGreaterThan(0.1);

    const layer2 = batchNorm();
    prepare(layer2, shape);
    layer2.setWeights(before.map((w) => tf.tensor1d(w)));
    layer2.apply(x);
    layer2.apply(x, { training: false });
    const after = layer2.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after).toEqual(before);
  });

  it("has the gradients of tfjs's layer with respect to input, gamma and beta", () => {
    const mine = batchNorm();
    const theirs = builtin();
    prepare(mine, shape);
    prepare(theirs, shape);
    const x = tf.variable(input(shape, 40), true, `x_${shape.length}d_grad`);
    // a random projection of the output: the plain sum has zero gradient with respect to x
    const r = tf.tensor(randomArray(x.size, 41), shape);
    const gradients = (layer: tfl.layers.Layer) => {
      const [gamma, beta] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, r)) as tf.Scalar,
        [x, gamma!, beta!],
      );
      return [x, gamma!, beta!].map((v) => grads[v.name]!.dataSync());
    };
    const ours = gradients(mine);
    const reference = gradients(theirs);
    for (let i = 0; i < 3; i++) {
      expect(maxAbsDiff(ours[i]!, reference[i]!)).toBeLessThanOrEqual(1e-5);
    }
    // the input gradient is not trivially zero
    expect(Math.max(...Array.from(ours[0]!, Math.abs))).toBeGreaterThan(0.01);
  });

  it("has gradients that match central finite differences", () => {
    const layer = batchNorm();
    prepare(layer, shape);
    const xs = input(shape, 50).dataSync() as Float32Array;
    const r = tf.tensor(randomArray(xs.length, 51), shape);
    const [gamma0, beta0, mm, mv] = layer.getWeights().map((w) => w.dataSync() as Float32Array);
    const loss = (xv: Float32Array, g: Float32Array, b: Float32Array): number =>
      tf.tidy(() => {
        layer.setWeights([tf.tensor1d(g), tf.tensor1d(b), tf.tensor1d(mm!), tf.tensor1d(mv!)]);
        const y = layer.apply(tf.tensor(xv, shape), { training: true }) as tf.Tensor;
        return tf.sum(tf.mul(y, r)).dataSync()[0]!;
      });

    layer.setWeights([tf.tensor1d(gamma0!), tf.tensor1d(beta0!), tf.tensor1d(mm!), tf.tensor1d(mv!)]);
    const xVar = tf.variable(tf.tensor(xs, shape), true, `x_${shape.length}d_fd`);
    const [gammaVar, betaVar] = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(xVar, { training: true }) as tf.Tensor, r)) as tf.Scalar,
      [xVar, gammaVar!, betaVar!],
    );
    const analytic = [xVar, gammaVar!, betaVar!].map((v) => grads[v.name]!.dataSync());

    // float32 arithmetic: h = 1e-2 balances truncation (h²) and rounding (ε·|loss|/h) errors
    const h = 1e-2;
    const numeric = (which: 0 | 1 | 2, i: number): number => {
      const args = [xs, gamma0!, beta0!].map((a) => Float32Array.from(a));
      args[which]![i]! += h;
      const up = loss(args[0]!, args[1]!, args[2]!);
      args[which]![i]! -= 2 * h;
      const down = loss(args[0]!, args[1]!, args[2]!);
      return (up - down) / (2 * h);
    };
    const checks: [0 | 1 | 2, number][] = [];
    for (let i = 0; i < xs.length; i += Math.max(1, Math.floor(xs.length / 17))) checks.push([0, i]);
    for (let c = 0; c < features; c++) checks.push([1, c], [2, c]);
    for (const [which, i] of checks) {
      const a = analytic[which]![i]!;
      expect(Math.abs(numeric(which, i) - a), `d loss / d ${["x", "gamma", "beta"][which]}[${i}]`).toBeLessThan(
        2e-3 * Math.max(1, Math.abs(a)),
      );
    }
  });
});

describe("ConvnetsBatchNorm as a layer", () => {
  it("has trainable gamma and beta and non-trainable moving statistics, one of each per feature", () => {
    const x = tfl.input({ shape: [7, 7, 3] });
    const layer = batchNorm({ name: "bn" });
    const model = tfl.model({ inputs: x, outputs: layer.apply(x) as tfl.SymbolicTensor });
    expect(layer.trainableWeights.map((w) => w.name)).toEqual(["bn/gamma", "bn/beta"]);
    expect(layer.nonTrainableWeights.map((w) => w.name)).toEqual(["bn/moving_mean", "bn/moving_variance"]);
    expect(layer.getWeights().map((w) => w.shape)).toEqual([[3], [3], [3], [3]]);
    expect(layer.getWeights().map((w) => Array.from(w.dataSync()))).toEqual([
      [1, 1, 1],
      [0, 0, 0],
      [0, 0, 0],
      [1, 1, 1],
    ]);
    expect(model.countParams()).toBe(12);
    expect(model.outputs[0]!.shape).toEqual([null, 7, 7, 3]);
  });

  it.each([
    [[5], 1],
    [[4, 5, 6], 3],
    [[2, 3, 4, 5, 6], 5],
  ])("refuses an input of shape %j (rank %i) with a message naming the accepted ranks", (shape) => {
    const layer = batchNorm({ name: "odd_bn" });
    expect(() => layer.apply(tf.zeros(shape))).toThrow(
      /ConvnetsBatchNorm 'odd_bn': input must be 2-D \[batch, features\].*or 4-D \[batch, height, width, channels\].*got rank/,
    );
  });

  it("refuses a momentum outside [0, 1] and a non-positive epsilon", () => {
    expect(() => batchNorm({ momentum: 1.5 })).toThrow(/momentum must be a number in \[0, 1\].*got 1.5/);
    expect(() => batchNorm({ epsilon: 0 })).toThrow(/epsilon must be a positive number.*got 0/);
  });

  it("is registered under its own class name and leaves tfjs's BatchNormalization in place", () => {
    const registry = serialization.SerializationMap.getMap().classNameMap;
    expect(ConvnetsBatchNorm.className).toBe("ConvnetsBatchNorm");
    expect(registry["ConvnetsBatchNorm"]![0]).toBe(ConvnetsBatchNorm);
    expect(registry["BatchNormalization"]![0]).toBe(builtin().constructor);
    const config = batchNorm({ name: "bn", momentum: 0.8, epsilon: 1e-3 }).getConfig();
    expect(config).toMatchObject({ name: "bn", momentum: 0.8, epsilon: 1e-3, trainable: true });
  });

  it("updates the moving statistics inside optimizer.minimize without leaking tensors", () => {
    // the loop @convnets/core's train() runs: model.apply(x, { training: true }) under minimize
    const build = (norm: () => tfl.layers.Layer) => {
      const input = tfl.input({ shape: [4] });
      const dense = tfl.layers.dense({ units: 3, kernelInitializer: "ones", biasInitializer: "zeros" });
      return tfl.model({ inputs: input, outputs: norm().apply(dense.apply(input)) as tfl.SymbolicTensor });
    };
    const mine = build(() => batchNorm());
    const theirs = build(builtin);
    const target = tf.tensor2d(randomArray(8 * 3, 61), [8, 3]);
    const step = (model: tfl.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor) =>
      optimizer.minimize(() => tf.losses.meanSquaredError(target, model.apply(x, { training: true }) as tf.Tensor));

    const optimizers = [tf.train.sgd(0.1), tf.train.sgd(0.1)];
    let tensorsAfterFirstStep = 0;
    for (let i = 0; i < 5; i++) {
      const x = tf.tensor2d(randomArray(8 * 4, 62 + i, 2, 1), [8, 4]);
      step(mine, optimizers[0]!, x);
      step(theirs, optimizers[1]!, x);
      x.dispose();
      if (i === 0) tensorsAfterFirstStep = tf.memory().numTensors;
    }
    expect(tf.memory().numTensors).toBe(tensorsAfterFirstStep);
    const ours = mine.getWeights().map((w) => w.dataSync());
    const reference = theirs.getWeights().map((w) => w.dataSync());
    // kernel, bias, gamma, beta, moving mean, moving variance all agree after 5 steps
    expect(ours).toHaveLength(6);
    for (let i = 0; i < 6; i++) expect(maxAbsDiff(ours[i]!, reference[i]!)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(ours[4]!, [0, 0, 0])).toBeGreaterThan(0.5);
  });

  it("updates the moving statistics in model.fit, and not in predict or evaluate", async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [4], units: 3 }), batchNorm({ name: "bn" })],
    });
    model.compile({ optimizer: tf.train.sgd(0.01), loss: "meanSquaredError" });
    const x = tf.tensor2d(randomArray(16 * 4, 70, 2, 1), [16, 4]);
    const y = tf.tensor2d(randomArray(16 * 3, 71), [16, 3]);
    const bn = model.getLayer("bn");
    const statistics = () =>
      bn
        .getWeights()
        .slice(2)
        .map((w) => Array.from(w.dataSync()));

    const initial = statistics();
    model.predict(x);
    model.evaluate(x, y);
    expect(statistics()).toEqual(initial);

    // one fit step over the whole batch: moving = 0.9 * start + 0.1 * stats of dense(x) before the step
    const dense = (model.layers[0]!.apply(x) as tf.Tensor).dataSync();
    const stats = batchStatistics(dense, 3);
    await model.fit(x, y, { epochs: 1, batchSize: 16, shuffle: false, verbose: 0 });
    const [movingMean, movingVar] = statistics();
    expect(maxAbsDiff(movingMean!, movingUpdate([0, 0, 0], stats.mean, MOMENTUM))).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(movingVar!, movingUpdate([1, 1, 1], stats.variance, MOMENTUM))).toBeLessThanOrEqual(1e-5);
  });
});

describe("saving and loading", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "convnets-batchnorm-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips a model through model.json + weights.bin and predicts the same numbers", async () => {
    const input = tfl.input({ shape: [8, 8, 1] });
    let h = tfl.layers.conv2d({ name: "conv", filters: 3, kernelSize: 3 }).apply(input);
    h = batchNorm({ name: "conv_bn", momentum: 0.8, epsilon: 1e-3 }).apply(h);
    h = tfl.layers.flatten({ name: "flatten" }).apply(h);
    h = tfl.layers.dense({ name: "dense", units: 5 }).apply(h);
    h = batchNorm({ name: "dense_bn" }).apply(h);
    const output = tfl.layers.dense({ name: "out", units: 2 }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });

    // train a little so gamma, beta and the moving statistics are no longer at their start
    const optimizer = tf.train.sgd(0.05);
    const target = tf.tensor2d(randomArray(6 * 2, 80), [6, 2]);
    for (let i = 0; i < 3; i++) {
      const x = tf.tensor4d(randomArray(6 * 64, 81 + i, 1, 0.5), [6, 8, 8, 1]);
      optimizer.minimize(() => tf.losses.meanSquaredError(target, model.apply(x, { training: true }) as tf.Tensor));
    }

    await saveToDir(model, dir);
    const loaded = await loadFromDir(dir);

    const probe = tf.tensor4d(randomArray(5 * 64, 90, 1, 0.5), [5, 8, 8, 1]);
    const before = (model.predict(probe) as tf.Tensor).dataSync();
    const after = (loaded.predict(probe) as tf.Tensor).dataSync();
    expect(maxAbsDiff(before, after)).toBe(0);

    const convBn = loaded.getLayer("conv_bn");
    expect(convBn).toBeInstanceOf(ConvnetsBatchNorm);
    expect((convBn as ConvnetsBatchNorm).momentum).toBe(0.8);
    expect((convBn as ConvnetsBatchNorm).epsilon).toBe(1e-3);
    expect((loaded.getLayer("dense_bn") as ConvnetsBatchNorm).momentum).toBe(0.9);
    // originalName: tfjs suffixes variable names (`_1`) to keep them unique within one process
    expect(loaded.trainableWeights.map((w) => w.originalName)).toEqual(
      model.trainableWeights.map((w) => w.originalName),
    );
    expect(loaded.nonTrainableWeights.map((w) => w.originalName)).toEqual([
      "conv_bn/moving_mean",
      "conv_bn/moving_variance",
      "dense_bn/moving_mean",
      "dense_bn/moving_variance",
    ]);
    // the moving statistics came back from weights.bin, not from their initialisers
    const saved = model.getLayer("conv_bn").getWeights()[2]!.dataSync();
    expect(convBn.getWeights()[2]!.dataSync()).toEqual(saved);
    expect(maxAbsDiff(saved, [0, 0, 0])).toBeGreaterThan(0);
  });
});
