/**
 * The fused kernels (BatchNormTrainingForward/Backward, ReluGrad) on webgpu against the same math in tfjs
 * ops on the cpu backend: max |Δ| / max |cpu| ≤ 1e-4 for every output, at the recipe shapes of the networks'
 * batch normalisations (LeNet-BN at batch 256; ResNet-18 at 28×28, batch 128, down to its 2×2 maps; DenseNet,
 * batch 128, fewer channels where noted).
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { BATCH_NORM_TRAINING_BACKWARD, BATCH_NORM_TRAINING_FORWARD, RELU_GRAD } from "../src/index.js";
import { on, randomValues, relativeError, type Webgpu, webgpu } from "./setup.js";

const EPSILON = 1e-5;

const BATCH_NORMS: { name: string; shape: number[]; mean: number }[] = [
  {
    name: "LeNet-BN after conv1 (6 channels at 24×24, batch 256), activations far from 0",
    shape: [256, 24, 24, 6],
    mean: 12,
  },
  { name: "LeNet-BN after the first dense layer (120 features, batch 256)", shape: [256, 120], mean: 0 },
  { name: "ResNet-18 stem at 28×28 (64 channels at 14×14, batch 128)", shape: [128, 14, 14, 64], mean: 0.5 },
  {
    name: "ResNet-18 stage 4 at 28×28 (2×2 maps, batch 128; 128 of its 512 channels)",
    shape: [128, 2, 2, 128],
    mean: 0,
  },
  { name: "a 1×1 map (batch 128, 96 channels)", shape: [128, 1, 1, 96], mean: -3 },
];

function reference(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dy: tf.Tensor): tf.Tensor[] {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const m = x.size / x.shape[x.rank - 1]!;
  const mean = tf.mean(x, axes);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes);
  const invStd = tf.rsqrt(tf.add(variance, EPSILON));
  const y = tf.add(tf.mul(centered, tf.mul(gamma, invStd)), beta);
  const dBeta = tf.sum(dy, axes);
  const dGamma = tf.mul(tf.sum(tf.mul(dy, centered), axes), invStd);
  const a = tf.mul(gamma, invStd);
  const dx = tf.add(
    tf.add(tf.mul(dy, a), tf.mul(centered, tf.mul(a, tf.mul(invStd, tf.div(dGamma, -m))))),
    tf.mul(a, tf.div(dBeta, -m)),
  );
  return [y, centered, mean, variance, invStd, dx, dGamma, dBeta];
}

function fused(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, dy: tf.Tensor): tf.Tensor[] {
  const forward = tf
    .engine()
    .runKernel(BATCH_NORM_TRAINING_FORWARD, { x, gamma, beta }, { epsilon: EPSILON }) as tf.Tensor[];
  const [, centered, , , invStd] = forward;
  const backward = tf
    .engine()
    .runKernel(BATCH_NORM_TRAINING_BACKWARD, { dy, centered: centered!, invStd: invStd!, gamma }) as tf.Tensor[];
  return [...forward, ...backward];
}

const OUTPUTS = ["y", "centered", "mean", "variance", "invStd", "dx", "dGamma", "dBeta"];

const gpu: Webgpu = await webgpu();

describe.skipIf(!gpu.ok)("fused kernels on webgpu against tfjs ops on the cpu backend", () => {
  it.each(BATCH_NORMS)("BatchNormTrainingForward and Backward: $name", async ({ shape, mean }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const channels = shape.at(-1)!;
    const inputs = () => ({
      x: tf.tensor(randomValues(size, 1, mean - 1, mean + 1.5), shape),
      gamma: tf.tensor(randomValues(channels, 2, 0.5, 1.5)),
      beta: tf.tensor(randomValues(channels, 3)),
      dy: tf.tensor(randomValues(size, 4), shape),
    });
    const expected = await on("cpu", () => {
      const { x, gamma, beta, dy } = inputs();
      return reference(x, gamma, beta, dy);
    });
    const actual = await on("webgpu", () => {
      const { x, gamma, beta, dy } = inputs();
      return fused(x, gamma, beta, dy);
    });
    for (const [i, name] of OUTPUTS.entries()) {
      expect(relativeError(actual[i]!, expected[i]!), name).toBeLessThanOrEqual(1e-4);
    }
  });

  it("ReluGrad: dy where y > 0, else 0", async () => {
    const shape = [128, 14, 14, 64];
    const size = shape.reduce((a, b) => a * b, 1);
    const values = (seed: number) => tf.tensor(randomValues(size, seed), shape);
    const [expected] = await on("cpu", () => tf.mul(values(5), tf.step(values(6))));
    const [actual] = await on(
      "webgpu",
      () => tf.engine().runKernel(RELU_GRAD, { dy: values(5), y: values(6) }) as tf.Tensor,
    );
    expect(relativeError(actual!, expected!)).toBe(0);
  });
});
