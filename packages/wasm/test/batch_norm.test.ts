/**
 * BatchNormTrainingForward and BatchNormTrainingBackward (src/kernels/batch_norm.ts) on wasm, SIMD and
 * JavaScript loops, against the same math written with tfjs ops on the pure-JS cpu backend, and
 * against float64 at LeNet's conv1 size; at 1 thread and at N (vitest.config.ts).
 *
 * Error measure: relative error = max_i |wasm_i − cpu_i| / max_i |cpu_i|; bounds 1e-5 for the forward
 * outputs, 1e-4 for the gradients.
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  batchNormLimits,
} from "../src/kernels/batch_norm.js";
import { WASM_TRAINING_KERNELS } from "../src/kernels/index.js";
import type { WasmBackend } from "../src/kernels/wasm.js";
import { wasmSimd, wasmSimdKernels } from "../src/kernels/wasm_simd.js";
import { seededRandom, setupCpuAndTestWasm } from "./helpers.js";

const EPS = 1e-5;
const FORWARD_TOLERANCE = 1e-5;
const BACKWARD_TOLERANCE = 1e-4;
const DEFAULT_BLOCK_BYTES = batchNormLimits.blockBytes;

beforeAll(async () => {
  await setupCpuAndTestWasm();
});

afterEach(() => {
  wasmSimd.enabled = true;
  batchNormLimits.blockBytes = DEFAULT_BLOCK_BYTES;
  batchNormLimits.order = "auto";
});

/** Deterministic uniform values in [-1, 1) (mulberry32). */
function uniform(n: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  return Float32Array.from({ length: n }, () => next() * 2 - 1);
}

/**
 * Activations around 50 with a standard deviation of 1 to 4 that differs per channel: a large common
 * offset, so that the variance needs its two passes, and a wrong channel assignment shows.
 */
function activations(shape: number[], seed: number): Float32Array {
  const channels = shape[shape.length - 1]!;
  const values = uniform(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return values.map((v, i) => 50 + (i % channels) * 0.1 + v * Math.sqrt(3) * (1 + ((i % channels) % 7) * 0.5));
}

interface Case {
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  dy: Float32Array;
}

function makeCase(shape: number[], seed: number): Case {
  const channels = shape[shape.length - 1]!;
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    x: activations(shape, seed),
    gamma: uniform(channels, seed + 1).map((v) => 1 + 0.5 * v),
    beta: uniform(channels, seed + 2),
    dy: uniform(size, seed + 3),
  };
}

/** The op's math with tfjs ops (batchNormTraining's op path), forward then backward. */
function withOps(shape: number[], c: Case): tf.Tensor[] {
  const axes = shape.slice(0, -1).map((_, i) => i);
  const x = tf.tensor(c.x, shape);
  const gamma = tf.tensor1d(c.gamma);
  const beta = tf.tensor1d(c.beta);
  const dy = tf.tensor(c.dy, shape);
  const mean = tf.mean(x, axes);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes);
  const invStd = tf.rsqrt(tf.add(variance, EPS));
  const y = tf.add(tf.mul(centered, tf.mul(gamma, invStd)), beta);
  const m = centered.size / centered.shape[centered.rank - 1]!;
  const dBeta = tf.sum(dy, axes);
  const dGamma = tf.mul(tf.sum(tf.mul(dy, centered), axes), invStd);
  const a = tf.mul(gamma, invStd);
  const b = tf.mul(a, tf.mul(invStd, tf.div(dGamma, -m)));
  const cc = tf.mul(a, tf.div(dBeta, -m));
  const dx = tf.add(tf.add(tf.mul(dy, a), tf.mul(centered, b)), cc);
  return [y, centered, mean, variance, invStd, dx, dGamma, dBeta];
}

/** The two kernels: the forward's outputs, then the backward's on the forward's centered and invStd. */
function withKernels(shape: number[], c: Case): tf.Tensor[] {
  const x = tf.tensor(c.x, shape);
  const gamma = tf.tensor1d(c.gamma);
  const beta = tf.tensor1d(c.beta);
  const dy = tf.tensor(c.dy, shape);
  const forward = tf
    .engine()
    .runKernel(BATCH_NORM_TRAINING_FORWARD, { x, gamma, beta }, { epsilon: EPS }) as tf.Tensor[];
  const [, centered, , , invStd] = forward;
  const backward = tf
    .engine()
    .runKernel(BATCH_NORM_TRAINING_BACKWARD, { dy, centered: centered!, invStd: invStd!, gamma }) as tf.Tensor[];
  return [...forward, ...backward];
}

const NAMES = ["y", "centered", "mean", "variance", "invStd", "dx", "dGamma", "dBeta"];

/** Runs `compute` in a tidy on `backend`; checks that no tensor and no backend data outlive it. */
async function on(
  backend: "cpu" | "wasm",
  compute: () => tf.Tensor[],
): Promise<{ values: Float32Array[]; shapes: number[][] }> {
  await tf.setBackend(backend);
  const tensors = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  const results = tf.tidy(compute);
  const values = results.map((t) => t.dataSync() as Float32Array);
  const shapes = results.map((t) => t.shape);
  tf.dispose(results);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.backend().numDataIds()).toBe(dataIds);
  return { values, shapes };
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  // All zeros (one element per channel: centered, variance and dx are 0): the difference itself.
  return scale === 0 ? diff : diff / scale;
}

function expectClose(actual: Float32Array[], expected: Float32Array[]): void {
  NAMES.forEach((name, i) => {
    const bound = i < 5 ? FORWARD_TOLERANCE : BACKWARD_TOLERANCE;
    expect(relativeError(actual[i]!, expected[i]!), name).toBeLessThanOrEqual(bound);
  });
}

const SHAPES = [
  [3, 5, 4, 6],
  [2, 3, 3, 16],
  [5, 120],
  [4, 84],
  [2, 4, 4, 20],
  [2, 3, 3, 3],
  [1, 1, 1, 8],
  [8, 12, 12, 64],
  [7, 5, 5, 40], // W = 80 columns: a group of 4 vectors, then one vector
  [3, 3, 3, 260], // 260 = 4·65: lcm with 16 too wide, so W = 260 (16 groups of 16, then one of 4)
  [3, 2, 5], // rank 3
  [3, 11, 13, 24], // W = 48: 214 rows (in row order a block of 128 and one of 86), then a tail of 24 elements
];

describe("BatchNormTrainingForward and BatchNormTrainingBackward on wasm", () => {
  it("are registered by registerWasmTrainingKernels, with the reason 'fused'", () => {
    expect(tf.getKernel(BATCH_NORM_TRAINING_FORWARD, "wasm")).toBeDefined();
    expect(tf.getKernel(BATCH_NORM_TRAINING_BACKWARD, "wasm")).toBeDefined();
    expect(WASM_TRAINING_KERNELS.filter((k) => k.reason === "fused").map((k) => k.name)).toEqual([
      "BatchNormTrainingForward",
      "BatchNormTrainingBackward",
      "ReluGrad",
    ]);
  });

  it("run their SIMD loops on this engine", async () => {
    await tf.setBackend("wasm");
    expect(wasmSimdKernels(tf.backend() as WasmBackend)?.bnSums).toBeTypeOf("function");
  });

  describe.each(SHAPES.map((shape) => ({ shape, label: JSON.stringify(shape) })))("$label", ({ shape }) => {
    it("match the tfjs ops on cpu (SIMD loops in both orders, JavaScript loops), with the contract's shapes", async () => {
      const c = makeCase(shape, shape.length * 100 + shape[shape.length - 1]!);
      const expected = await on("cpu", () => withOps(shape, c));
      const simd = await on("wasm", () => withKernels(shape, c));
      expectClose(simd.values, expected.values);
      for (const order of ["columns", "rows"] as const) {
        batchNormLimits.order = order;
        expectClose((await on("wasm", () => withKernels(shape, c))).values, expected.values);
      }
      wasmSimd.enabled = false;
      const loops = await on("wasm", () => withKernels(shape, c));
      expectClose(loops.values, expected.values);
      const channels = shape[shape.length - 1]!;
      expect(simd.shapes).toEqual([shape, shape, [channels], [channels], [channels], shape, [channels], [channels]]);
    });
  });

  it("in column order, blocks of a few rows, the last one partial, give the same result", async () => {
    const shape = [5, 7, 3, 24]; // W = 48: 52 rows, in blocks of 3, and a tail of 24 elements
    const c = makeCase(shape, 77);
    const expected = await on("cpu", () => withOps(shape, c));
    batchNormLimits.order = "columns";
    batchNormLimits.blockBytes = 3 * 48 * 4;
    const small = await on("wasm", () => withKernels(shape, c));
    batchNormLimits.blockBytes = DEFAULT_BLOCK_BYTES;
    const large = await on("wasm", () => withKernels(shape, c));
    expectClose(small.values, expected.values);
    expectClose(large.values, expected.values);
  });

  it("at LeNet's conv1 size (m = 147,456 per channel) keep float64's statistics and gradients to ~1e-6", async () => {
    const shape = [256, 24, 24, 6];
    const channels = 6;
    const c = makeCase(shape, 5);
    const m = c.x.length / channels;
    const mean = new Float64Array(channels);
    const variance = new Float64Array(channels);
    c.x.forEach((v, i) => {
      mean[i % channels]! += v / m;
    });
    c.x.forEach((v, i) => {
      variance[i % channels]! += (v - mean[i % channels]!) ** 2 / m;
    });
    const invStd = Array.from(variance, (v) => 1 / Math.sqrt(v + EPS));
    const dBeta = new Float64Array(channels);
    const dGamma = new Float64Array(channels);
    c.dy.forEach((g, i) => {
      const k = i % channels;
      dBeta[k]! += g;
      dGamma[k]! += g * (c.x[i]! - mean[k]!) * invStd[k]!;
    });
    const dx = Float64Array.from(c.x, (v, i) => {
      const k = i % channels;
      const xHat = (v - mean[k]!) * invStd[k]!;
      return c.gamma[k]! * invStd[k]! * (c.dy[i]! - dBeta[k]! / m - (xHat * dGamma[k]!) / m);
    });
    const { values } = await on("wasm", () => withKernels(shape, c));
    const [, , ourMean, ourVariance, , ourDx, ourDGamma, ourDBeta] = values;
    expect(relativeError(ourMean!, mean)).toBeLessThanOrEqual(1e-7);
    expect(relativeError(ourVariance!, variance)).toBeLessThanOrEqual(1e-6);
    expect(relativeError(ourDBeta!, dBeta)).toBeLessThanOrEqual(1e-6);
    expect(relativeError(ourDGamma!, dGamma)).toBeLessThanOrEqual(1e-5);
    expect(relativeError(ourDx!, dx)).toBeLessThanOrEqual(1e-5);
  });

  it("refuse operands that break the contract", async () => {
    await tf.setBackend("wasm");
    tf.tidy(() => {
      const x = tf.ones([4, 3]);
      expect(() =>
        tf
          .engine()
          .runKernel(BATCH_NORM_TRAINING_FORWARD, { x, gamma: tf.ones([4]), beta: tf.zeros([3]) }, { epsilon: EPS }),
      ).toThrow(/gamma must be float32 with 3 values/);
      expect(() =>
        tf
          .engine()
          .runKernel(
            BATCH_NORM_TRAINING_BACKWARD,
            { dy: tf.ones([2, 3]), centered: x, invStd: tf.ones([3]), gamma: tf.ones([3]) },
            {},
          ),
      ).toThrow(/dy must be float32 \[4,3\]/);
    });
  });
});
