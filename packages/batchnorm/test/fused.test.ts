/**
 * The training-mode op with its closed-form gradient (`batchNormTraining`) against the layer's
 * previous training path, kept below as `naiveTraining`: the same eight tfjs ops differentiated
 * by tfjs's autodiff. Run on the pure-JS `cpu` backend and on `wasm` (convnets' default engine).
 *
 * Error measure for outputs and gradients: relative error = max_i |ours_i − ref_i| / max_i |ref_i|.
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { batchNormTraining, ConvnetsBatchNorm } from "../src/batchnorm.js";
import { expectNoLeakAcrossSteps } from "./leaks.js";
import { maxAbsDiff, randomArray } from "./reference.js";

const MOMENTUM = 0.9;
const EPS = 1e-5;

/**
 * The layer's training path before the fused op, verbatim: mean, centered, variance, xHat,
 * gamma · xHat + beta as separate ops, their gradient left to tfjs's autodiff.
 */
function naiveTraining(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, axes: number[], epsilon: number) {
  const mean = tf.mean(x, axes);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes); // biased: divides by n
  const xHat = tf.div(centered, tf.sqrt(tf.add(variance, epsilon)));
  return { y: tf.add(tf.mul(gamma, xHat), beta), mean, variance };
}

/** The layer's moving-average update, as it was (and is). */
function naiveMovingUpdate(moving: tf.Tensor, batch: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(moving, MOMENTUM), tf.mul(batch, 1 - MOMENTUM));
}

function relativeError(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < reference.length; i++) scale = Math.max(scale, Math.abs(reference[i]!));
  return maxAbsDiff(ours, reference) / scale;
}

/**
 * Activations like a conv or dense layer's: per-feature means and spreads that differ (so a wrong
 * axis fails), means up to several spreads away from 0 (cancellation), and one feature nearly
 * constant (variance far below eps).
 */
function activations(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const features = shape[shape.length - 1]!;
  const raw = randomArray(n, seed, 1);
  for (let i = 0; i < n; i++) {
    const c = i % features;
    raw[i] = c === 0 ? 0.5 + 1e-3 * raw[i]! : raw[i]! * (0.2 + 0.3 * c) + 0.8 * c - 2;
  }
  return tf.tensor(raw, shape);
}

const statisticAxes = (shape: number[]) => (shape.length === 2 ? [0] : [0, 1, 2]);

const SHAPES: Record<string, number[]> = {
  "2-D [batch, features]": [64, 10],
  "4-D NHWC [batch, h, w, channels]": [16, 12, 12, 8],
};

describe.each(["cpu", "wasm"])("batchNormTraining on the %s backend", (backend) => {
  beforeAll(async () => {
    expect(await tf.setBackend(backend)).toBe(true);
    await tf.ready();
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false; // cpu's tfjs-node banner
  });

  it("runs on the backend it names", () => {
    expect(tf.getBackend()).toBe(backend);
  });

  describe.each(Object.entries(SHAPES))("%s", (_label, shape) => {
    const features = shape[shape.length - 1]!;
    const axes = statisticAxes(shape);
    const gammaValues = randomArray(features, 7, 0.5, 1);
    const betaValues = randomArray(features, 8, 0.5);

    it("gives the old path's output and the identical batch mean and variance", () => {
      tf.tidy(() => {
        const x = activations(shape, 1);
        const gamma = tf.tensor1d(gammaValues);
        const beta = tf.tensor1d(betaValues);
        const ours = batchNormTraining(x, gamma, beta, axes, EPS);
        const reference = naiveTraining(x, gamma, beta, axes, EPS);
        expect(relativeError(ours.y.dataSync(), reference.y.dataSync())).toBeLessThanOrEqual(1e-5);
        // same ops in the same order: bit for bit
        expect(ours.mean.dataSync()).toEqual(reference.mean.dataSync());
        expect(ours.variance.dataSync()).toEqual(reference.variance.dataSync());
        expect(ours.mean.shape).toEqual([features]);
        tf.dispose([ours.mean, ours.variance]);
      });
    });

    it("has the old path's gradients with respect to x, gamma and beta (≤ 1e-5 relative)", () => {
      const x = tf.variable(activations(shape, 2), true, `x_${backend}_${shape.length}d_fused`);
      const r = tf.tensor(randomArray(x.size, 3), shape); // a random projection: Σ y has zero dx
      const gradients = (bn: (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor) => {
        const gamma = tf.variable(tf.tensor1d(gammaValues));
        const beta = tf.variable(tf.tensor1d(betaValues));
        const { value, grads } = tf.variableGrads(
          () => tf.sum(tf.mul(bn(x, gamma, beta), r)) as tf.Scalar,
          [x, gamma, beta],
        );
        const out = [x, gamma, beta].map((v) => grads[v.name]!.dataSync());
        tf.dispose([value, gamma, beta, ...Object.values(grads)]);
        return out;
      };
      const ours = gradients((x, gamma, beta) => {
        const { y, mean, variance } = batchNormTraining(x, gamma, beta, axes, EPS);
        tf.dispose([mean, variance]);
        return y;
      });
      const reference = gradients((x, gamma, beta) => naiveTraining(x, gamma, beta, axes, EPS).y);
      ["x", "gamma", "beta"].forEach((name, i) => {
        expect(relativeError(ours[i]!, reference[i]!), `d loss / d ${name}`).toBeLessThanOrEqual(1e-5);
        expect(Math.max(...Array.from(reference[i]!, Math.abs)), `d loss / d ${name} is not 0`).toBeGreaterThan(0.01);
      });
      tf.dispose([x, r]);
    });

    it("as the layer: same training output, and moving statistics identical to the old update over 4 steps", () => {
      const layer = new ConvnetsBatchNorm();
      layer.build(shape);
      const [, , mm0, mv0] = layer.getWeights();
      layer.setWeights([tf.tensor1d(gammaValues), tf.tensor1d(betaValues), mm0!, mv0!]);
      let movingMean = tf.zeros([features]);
      let movingVar = tf.ones([features]);
      for (let step = 0; step < 4; step++) {
        const x = activations(shape, 10 + step);
        const gamma = tf.tensor1d(gammaValues);
        const beta = tf.tensor1d(betaValues);
        const ours = tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync());
        const reference = naiveTraining(x, gamma, beta, axes, EPS);
        expect(relativeError(ours, reference.y.dataSync())).toBeLessThanOrEqual(1e-5);
        const [nextMean, nextVar] = [
          naiveMovingUpdate(movingMean, reference.mean),
          naiveMovingUpdate(movingVar, reference.variance),
        ];
        tf.dispose([movingMean, movingVar, x, gamma, beta, reference.y, reference.mean, reference.variance]);
        [movingMean, movingVar] = [nextMean, nextVar];
      }
      const [, , oursMean, oursVar] = layer.getWeights().map((w) => w.dataSync());
      expect(oursMean).toEqual(movingMean.dataSync());
      expect(oursVar).toEqual(movingVar.dataSync());
      expect(maxAbsDiff(oursMean!, new Array(features).fill(0))).toBeGreaterThan(0.5); // it moved
      tf.dispose([movingMean, movingVar]);
    });

    it("leaks no tensor, with or without the gradient tape", () => {
      const x = activations(shape, 20);
      const gamma = tf.variable(tf.tensor1d(gammaValues));
      const beta = tf.variable(tf.tensor1d(betaValues));
      const before = tf.memory().numTensors;
      // tape off: only y is new
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, axes, EPS);
      expect(tf.memory().numTensors).toBe(before + 3);
      tf.dispose([y, mean, variance]);
      expect(tf.memory().numTensors).toBe(before);
      // tape on: the saved tensors are released with the backward pass
      const { value, grads } = tf.variableGrads(() => {
        const out = batchNormTraining(x, gamma, beta, axes, EPS);
        tf.dispose([out.mean, out.variance]);
        return tf.sum(tf.square(out.y)) as tf.Scalar;
      }, [gamma, beta]);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, gamma, beta]);
    });

    it("keeps one full-size tensor for the backward pass (the old path kept four more)", () => {
      const x = tf.variable(activations(shape, 30), true, `x_${backend}_${shape.length}d_held`);
      const gamma = tf.variable(tf.tensor1d(gammaValues));
      const beta = tf.variable(tf.tensor1d(betaValues));
      const full = x.size * 4;
      // Bytes the engine holds when the backward pass starts: what the forward ops saved for it.
      // (tfjs counts a saved clone once more; only ours is bounded from above, so that is safe.)
      const heldAtBackward = (bn: (x: tf.Tensor) => tf.Tensor): number => {
        let held = 0;
        const probe = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
          value: tf.clone(args[0] as tf.Tensor),
          gradFunc: (dy: tf.Tensor) => {
            held = tf.memory().numBytes;
            return tf.clone(dy);
          },
        }));
        const before = tf.memory().numBytes;
        const { value, grads } = tf.variableGrads(() => probe(tf.sum(tf.square(bn(x)))) as tf.Scalar, [x, gamma, beta]);
        tf.dispose([value, ...Object.values(grads)]);
        return held - before;
      };
      const loss = heldAtBackward((x) => x); // what the loss, Σ y², keeps by itself
      const ours = heldAtBackward((x) => {
        const { y, mean, variance } = batchNormTraining(x, gamma, beta, axes, EPS);
        tf.dispose([mean, variance]);
        return y;
      });
      const old = heldAtBackward((x) => naiveTraining(x, gamma, beta, axes, EPS).y);
      // ours: x − mean, plus per-feature vectors; old: x − mean, its square, xHat, gamma · xHat, …
      expect(ours - loss).toBeLessThanOrEqual(full + 1024);
      expect(old - loss).toBeGreaterThanOrEqual(4 * full);
      tf.dispose([x, gamma, beta]);
    });
  });

  it("at LeNet's conv1 size has float64's gradients to the precision of the backend's sums, like the old path", () => {
    // [256, 24, 24, 6]: m = 147,456 per channel. Here the reduction kernels set the error, not the
    // formula: cpu sums in float64, wasm (tfjs 4.22) in float32, which leaves both paths' dGamma
    // ~1e-5 to 6e-4 off float64 there (and up to 1.5e-5 apart from each other).
    const tolerance = backend === "cpu" ? 2e-6 : 2e-3;
    const shape = [256, 24, 24, 6];
    const features = 6;
    const xs = activations(shape, 60).dataSync();
    const rs = randomArray(xs.length, 61);
    const gs = randomArray(features, 62, 0.5, 1);
    const m = xs.length / features;
    const mean = new Float64Array(features);
    const variance = new Float64Array(features);
    for (let i = 0; i < xs.length; i++) mean[i % features]! += xs[i]! / m;
    for (let i = 0; i < xs.length; i++) variance[i % features]! += (xs[i]! - mean[i % features]!) ** 2 / m;
    const invStd = Array.from(variance, (v) => 1 / Math.sqrt(v + EPS));
    const dBeta = new Float64Array(features);
    const dGamma = new Float64Array(features);
    for (let i = 0; i < xs.length; i++) {
      const c = i % features;
      dBeta[c]! += rs[i]!;
      dGamma[c]! += rs[i]! * (xs[i]! - mean[c]!) * invStd[c]!;
    }
    const dx = Float64Array.from(xs, (v, i) => {
      const c = i % features;
      const xHat = (v - mean[c]!) * invStd[c]!;
      return gs[c]! * invStd[c]! * (rs[i]! - dBeta[c]! / m - (xHat * dGamma[c]!) / m);
    });
    const truth = [dx, dGamma, dBeta];

    const x = tf.variable(tf.tensor(xs, shape), true, `x_${backend}_lenet_size`);
    const r = tf.tensor(rs, shape);
    const errors = (bn: (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor) => {
      const gamma = tf.variable(tf.tensor1d(gs));
      const beta = tf.variable(tf.zeros([features]));
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(bn(x, gamma, beta), r)) as tf.Scalar,
        [x, gamma, beta],
      );
      const out = [x, gamma, beta].map((v, i) => relativeError(grads[v.name]!.dataSync(), truth[i]!));
      tf.dispose([value, gamma, beta, ...Object.values(grads)]);
      return out;
    };
    const ours = errors((x, gamma, beta) => {
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, [0, 1, 2], EPS);
      tf.dispose([mean, variance]);
      return y;
    });
    const old = errors((x, gamma, beta) => naiveTraining(x, gamma, beta, [0, 1, 2], EPS).y);
    ["x", "gamma", "beta"].forEach((name, i) => {
      expect(ours[i]!, `d loss / d ${name} (old path: ${old[i]})`).toBeLessThanOrEqual(tolerance);
      expect(old[i]!, `old path's d loss / d ${name}`).toBeLessThanOrEqual(tolerance);
    });
    tf.dispose([x, r]);
  });

  it("gives the batch statistics no gradient: they are not on the tape", () => {
    const x = activations([8, 4], 40);
    const gamma = tf.ones([4]);
    const beta = tf.zeros([4]);
    const stats: tf.Tensor[] = [];
    const statisticOnly = tf.grad((x: tf.Tensor) => {
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, [0], EPS);
      stats.push(mean, variance);
      y.dispose();
      return tf.sum(variance);
    });
    expect(() => statisticOnly(x)).toThrow(/Cannot compute gradient/);
    tf.dispose([...stats, x, gamma, beta]);
  });

  it("leaks no tensor across optimizer.minimize training steps of a model with 4-D and 2-D BatchNorm", () => {
    // a dense layer on the channel axis stands in for a convolution: plain wasm has no conv filter gradient
    expectNoLeakAcrossSteps(tfl.layers.dense({ units: 4 }));
  });
});
