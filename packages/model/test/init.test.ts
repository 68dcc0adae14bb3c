import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { initXavierUniform } from "../src/init.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** conv 3×3 1→64, BatchNorm, conv 1×1 64→32 without bias, dense 800→4096, dense 4096→10. */
function net() {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [7, 7, 1], filters: 64, kernelSize: 3, name: "c1" }),
      tfl.layers.batchNormalization({ name: "bn" }),
      tfl.layers.conv2d({ filters: 32, kernelSize: 1, useBias: false, name: "c2" }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4096, name: "d1" }),
      tfl.layers.dense({ units: 10, name: "d2" }),
    ],
  });
}

const values = (model: tfl.LayersModel, layer: string) =>
  model
    .getLayer(layer)
    .getWeights()
    .map((w) => Array.from(w.dataSync()));
const maxAbs = (v: number[]) => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
const meanSquare = (v: number[]) => v.reduce((s, x) => s + x * x, 0) / v.length;

describe("initXavierUniform: d2l's init_weights on PyTorch's layers", () => {
  it("draws kernels Xavier-uniform and biases U(±1/√fanIn) as nn.Conv2d / nn.Linear; other weights as built", () => {
    const model = net();
    const bnBefore = values(model, "bn");
    const before = tf.memory().numTensors;
    initXavierUniform(model, 3);
    expect(tf.memory().numTensors).toBe(before);

    // [fanIn, fanOut] per layer; kernel bound √(6/(in+out)), bias bound 1/√in.
    const fans: Record<string, [number, number]> = { c1: [9, 576], c2: [64, 32], d1: [800, 4096], d2: [4096, 10] };
    for (const [name, [fanIn, fanOut]] of Object.entries(fans)) {
      const [kernel, bias] = values(model, name);
      const a = Math.sqrt(6 / (fanIn + fanOut));
      expect(maxAbs(kernel!)).toBeLessThanOrEqual(a);
      expect(maxAbs(kernel!)).toBeGreaterThan(0.9 * a);
      if (name === "c2") {
        expect(bias).toBeUndefined();
        continue;
      }
      const b = 1 / Math.sqrt(fanIn);
      expect(maxAbs(bias!)).toBeLessThanOrEqual(b);
      expect(maxAbs(bias!)).toBeGreaterThan(0.5 * b);
    }
    // Uniform on (−b, b): mean square b²/3 (4,096 draws: its spread is 1.4%, the check allows 6%).
    const d1Bias = values(model, "d1")[1]!;
    expect(meanSquare(d1Bias) / (1 / 800 / 3)).toBeCloseTo(1, 0.9);
    expect(values(model, "bn")).toEqual(bnBefore);
  });

  it("is seeded: the same seed gives the same weights, another seed other ones", () => {
    const [a, b, c] = [net(), net(), net()];
    initXavierUniform(a, 7);
    initXavierUniform(b, 7);
    initXavierUniform(c, 8);
    expect(values(a, "d1")).toEqual(values(b, "d1"));
    expect(values(a, "c1")[1]).toEqual(values(b, "c1")[1]);
    expect(values(a, "c1")[1]).not.toEqual(values(c, "c1")[1]);
    // Kernel and bias of one layer are independent draws.
    expect(values(a, "d2")[1]).not.toEqual(values(a, "d2")[0]!.slice(0, 10));
  });
});
