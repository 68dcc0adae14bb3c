import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { setupEngine, skipInputGradient } from "../src/index.js";

/** Input → padding → conv (relu, or sigmoid: computed fused-linear + sigmoid) → conv (linear) → dense. */
function smallNet(activation: "sigmoid" | "relu" = "sigmoid"): tfl.LayersModel {
  const input = tfl.input({ shape: [9, 8, 1] });
  const padded = tfl.layers.zeroPadding2d({ padding: 1 }).apply(input);
  const first = tfl.layers.conv2d({ name: "first", filters: 4, kernelSize: 3, activation }).apply(padded);
  const second = tfl.layers.conv2d({ name: "second", filters: 3, kernelSize: 3, strides: 2 }).apply(first);
  const logits = tfl.layers.dense({ units: 5 }).apply(tfl.layers.flatten().apply(second));
  return tfl.model({ inputs: input, outputs: logits as tfl.SymbolicTensor });
}

/** Two models with the same weights; `skipInputGradient` applied to the first. */
function pair(activation: "sigmoid" | "relu" = "sigmoid"): [tfl.LayersModel, tfl.LayersModel, string[]] {
  const patched = smallNet(activation);
  const plain = smallNet(activation);
  plain.setWeights(patched.getWeights());
  return [patched, plain, skipInputGradient(patched)];
}

const images = () => tf.randomUniform([6, 9, 8, 1], -1, 1, "float32", 3);
const loss = (model: tfl.LayersModel, x: tf.Tensor) =>
  tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar;

function relativeError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]! / tf.max(tf.abs(b)).dataSync()[0]!);
}

beforeAll(async () => {
  await setupEngine("wasm");
});

describe.each(["wasm", "cpu"])("skipInputGradient on %s", (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it("changes only the convolution the input alone feeds, once", () => {
    const [patched, , changed] = pair();
    expect(changed).toEqual(["first"]);
    expect(skipInputGradient(patched)).toEqual([]);
  });

  it.each(["sigmoid", "relu"] as const)("weight gradients equal those of the unchanged model (%s)", (activation) => {
    const [patched, plain] = pair(activation);
    const x = images();
    const ours = tf.variableGrads(() => loss(patched, x), patched.trainableWeights.map((w) => w.read() as tf.Variable));
    const theirs = tf.variableGrads(() => loss(plain, x), plain.trainableWeights.map((w) => w.read() as tf.Variable));
    const names = patched.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    const plainNames = plain.trainableWeights.map((w) => (w.read() as tf.Variable).name);
    expect(names.length).toBe(6);
    for (const [i, name] of names.entries()) {
      expect(relativeError(ours.grads[name]!, theirs.grads[plainNames[i]!]!)).toBeLessThanOrEqual(1e-5);
    }
    expect(relativeError(ours.value, theirs.value)).toBeLessThanOrEqual(1e-6);
  });

  it("the gradient with respect to the input is still computed when asked for", () => {
    const [patched, plain] = pair();
    const x = images();
    const ours = tf.grad((t: tf.Tensor) => loss(patched, t))(x);
    const theirs = tf.grad((t: tf.Tensor) => loss(plain, t))(x);
    expect(tf.max(tf.abs(theirs)).dataSync()[0]).toBeGreaterThan(0);
    expect(relativeError(ours, theirs)).toBeLessThanOrEqual(1e-5);
  });

  it("inference still runs the fused op: outputs are bit-identical", () => {
    const [patched, plain] = pair();
    const x = images();
    const a = (patched.predict(x) as tf.Tensor).dataSync();
    const b = (plain.predict(x) as tf.Tensor).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  it("a training step computes dx for the second convolution only", async () => {
    const [patched, plain] = pair();
    const x = images();
    const inputGradients = async (model: tfl.LayersModel) => {
      const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const info = await tf.profile(() => tf.variableGrads(() => loss(model, x), vars).value);
      return info.kernels.filter((k) => k.name === "Conv2DBackpropInput").length;
    };
    expect({ patched: await inputGradients(patched), plain: await inputGradients(plain) }).toEqual({
      patched: 1,
      plain: 2,
    });
  });
});
