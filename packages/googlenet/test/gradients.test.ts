import "@tensorflow/tfjs-backend-cpu";
import { batches, type FashionMnist, initXavierUniform, loadFashionMnist, setupEngine, takeImages } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { googlenet } from "../src/index.js";

const INPUT_SIZE = 16;
let mnist: FashionMnist;

beforeAll(async () => {
  mnist = await loadFashionMnist();
});

/** Gradients of the training loss on 4 real images with respect to every trainable weight, on one engine. */
async function gradients(backend: "wasm" | "cpu", build: () => LayersModel): Promise<Float32Array[]> {
  await setupEngine(backend);
  const model = build();
  initXavierUniform(model, 7); // the same weights on both engines
  const { value } = batches(takeImages(mnist.train, 4), { batchSize: 4, inputSize: INPUT_SIZE }).next();
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => {
    const logits = model.apply(value!.xs, { training: true }) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(tf.oneHot(value!.labels, 10), logits) as tf.Scalar;
  }, variables);
  const result = variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
  tf.dispose([value!.xs, value!.labels, ...Object.values(grads)]);
  model.dispose();
  return result;
}

describe("googlenet gradients on wasm", () => {
  // Training on wasm runs kernels core adds or replaces (conv backprop, pooling gradients); this runs
  // them together in the geometries GoogLeNet uses (the padded stride-2 stem and pools, 1×1/3×3/5×5 'same'
  // convs, stride-1 max pooling, concatenations) and compares with tfjs's reference cpu backend.
  it("equal the cpu backend's for every weight (max-norm relative error < 1e-3)", async () => {
    const build = () => googlenet({ inputShape: [INPUT_SIZE, INPUT_SIZE, 1] });
    const wasm = await gradients("wasm", build);
    const cpu = await gradients("cpu", build);
    expect(wasm).toHaveLength(cpu.length);
    let compared = 0;
    wasm.forEach((a, i) => {
      const b = cpu[i]!;
      const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // Dead ReLUs leave some weights without gradient; relative error means nothing there.
      if (scale < 1e-4) return;
      const error = a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j]!)), 0) / scale;
      expect(error, `weight ${i}`).toBeLessThan(1e-3);
      compared++;
    });
    expect(compared).toBeGreaterThan(100);
  });
});
