import "@tensorflow/tfjs-backend-cpu";
import { ConvnetsBatchNorm } from "@convnets/batchnorm";
import { type ModelSpec, summary } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { type LenetOptions, lenet, lenetBN, lenetBNSpec, lenetSpec } from "../src/index.js";

beforeAll(async () => {
  // Building needs a backend for the initial weights; no training happens in this file.
  await tf.setBackend("cpu");
});

/**
 * The seed's printed shape walks (REFERENCE.md §1), channels-last: PyTorch's 6×28×28 is [28, 28, 6].
 * Every layer, in order, with its output shape.
 */
const LENET_SHAPES: [string, number[]][] = [
  ["conv1", [28, 28, 6]],
  ["conv1_sigmoid", [28, 28, 6]],
  ["pool1", [14, 14, 6]],
  ["conv2", [10, 10, 16]],
  ["conv2_sigmoid", [10, 10, 16]],
  ["pool2", [5, 5, 16]],
  ["flatten", [400]],
  ["dense1", [120]],
  ["dense1_sigmoid", [120]],
  ["dense2", [84]],
  ["dense2_sigmoid", [84]],
  ["dense3", [10]],
];

const LENET_BN_SHAPES: [string, number[]][] = [
  ["conv1", [24, 24, 6]],
  ["conv1_bn", [24, 24, 6]],
  ["conv1_sigmoid", [24, 24, 6]],
  ["pool1", [12, 12, 6]],
  ["conv2", [8, 8, 16]],
  ["conv2_bn", [8, 8, 16]],
  ["conv2_sigmoid", [8, 8, 16]],
  ["pool2", [4, 4, 16]],
  ["flatten", [256]],
  ["dense1", [120]],
  ["dense1_bn", [120]],
  ["dense1_sigmoid", [120]],
  ["dense2", [84]],
  ["dense2_bn", [84]],
  ["dense2_sigmoid", [84]],
  ["dense3", [10]],
];

interface Case {
  spec: ModelSpec<LenetOptions>;
  build: (options?: LenetOptions) => LayersModel;
  shapes: [string, number[]][];
  trainable: number;
  /** Moving mean and variance of each BatchNorm: 2 × (6 + 16 + 120 + 84). */
  nonTrainable: number;
  recipe: { inputSize: number; lr: number; batchSize: number; epochs: number };
  minInputSize: number;
}

const CASES: Case[] = [
  {
    spec: lenetSpec,
    build: lenet,
    shapes: LENET_SHAPES,
    trainable: 61_706,
    nonTrainable: 0,
    recipe: { inputSize: 28, lr: 0.9, batchSize: 256, epochs: 10 },
    minInputSize: 12,
  },
  {
    spec: lenetBNSpec,
    build: lenetBN,
    shapes: LENET_BN_SHAPES,
    trainable: 44_878,
    nonTrainable: 452,
    recipe: { inputSize: 28, lr: 1.0, batchSize: 256, epochs: 10 },
    minInputSize: 16,
  },
];

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe.each(CASES.map((c) => [c.spec.name, c] as const))("%s", (name, c) => {
  it(`has exactly the seed's ${c.trainable.toLocaleString("en-US")} trainable parameters`, () => {
    const model = c.build();
    const trainable = model.trainableWeights.reduce((n, w) => n + size(w.shape as number[]), 0);
    const nonTrainable = model.nonTrainableWeights.reduce((n, w) => n + size(w.shape as number[]), 0);
    expect(trainable).toBe(c.trainable);
    expect(nonTrainable).toBe(c.nonTrainable);
    const s = summary(model);
    expect([s.trainableParams, s.nonTrainableParams]).toEqual([c.trainable, c.nonTrainable]);
  });

  it("walks the seed's layer shape table at 28×28", () => {
    const model = c.build();
    expect(model.inputs[0]!.shape).toEqual([null, 28, 28, 1]);
    const walk = summary(model).layers.map((l) => [l.name, l.outputShape]);
    expect(walk).toEqual(c.shapes);
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
  });

  it("puts the seed's BatchNorm (and only it) where the seed does", () => {
    const model = c.build();
    const norms = model.layers.filter((l) => l.getClassName() === "ConvnetsBatchNorm");
    expect(norms.every((l) => l instanceof ConvnetsBatchNorm)).toBe(true);
    expect(norms.map((l) => l.name)).toEqual(c.nonTrainable ? ["conv1_bn", "conv2_bn", "dense1_bn", "dense2_bn"] : []);
    for (const l of norms) {
      expect((l as ConvnetsBatchNorm).momentum).toBe(0.9);
      expect((l as ConvnetsBatchNorm).epsilon).toBe(1e-5);
    }
    expect(model.layers.some((l) => l.getClassName() === "BatchNormalization")).toBe(false);
    // logits: the last layer has no activation
    expect(model.getLayer("dense3").getConfig()["activation"]).toBe("linear");
    expect(model.getLayer("conv1_sigmoid").getConfig()["activation"]).toBe("sigmoid");
    expect(model.getLayer("pool1").getClassName()).toBe("AveragePooling2D");
  });

  it("initialises kernels Xavier-uniform and biases at zero", () => {
    const model = c.build();
    for (const layerName of ["conv1", "conv2", "dense1", "dense2", "dense3"]) {
      const [kernel, bias] = model.getLayer(layerName).getWeights();
      const shape = kernel!.shape;
      const receptive = size(shape.slice(0, -2));
      const limit = Math.sqrt(6 / ((shape.at(-2)! + shape.at(-1)!) * receptive));
      const values = Array.from(kernel!.dataSync());
      const maxAbs = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(maxAbs, layerName).toBeLessThanOrEqual(limit);
      expect(maxAbs, layerName).toBeGreaterThan(0.8 * limit);
      expect(Array.from(bias!.dataSync()).every((v) => v === 0), layerName).toBe(true);
    }
    // the variance of U(-a, a) is a²/3; dense1 has enough weights to check it
    const kernel = model.getLayer("dense1").getWeights()[0]!;
    const values = Array.from(kernel.dataSync());
    const limit = Math.sqrt(6 / (kernel.shape[0]! + kernel.shape[1]!));
    const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
    expect(variance / (limit * limit / 3)).toBeCloseTo(1, 1);
  });

  it("carries the seed's recipe in its spec", () => {
    expect(c.spec.name).toBe(name);
    expect(c.spec.defaults).toEqual(c.recipe);
    expect(c.spec.minInputSize).toBe(c.minInputSize);
    expect(c.spec.title).toMatch(/LeNet/);
    expect(c.spec.paper).toMatch(/\d{4}/);
    expect(c.spec.seedSection).toBe(c.nonTrainable ? "3.5" : "2.1");
    const model = c.spec.build();
    expect(model.name).toBe(name);
  });

  it(`accepts ${c.minInputSize}×${c.minInputSize}, where the features end at 1×1, and refuses anything smaller`, () => {
    const m = c.minInputSize;
    const model = c.build({ inputShape: [m, m, 1] });
    expect(model.getLayer("pool2").outputShape).toEqual([null, 1, 1, 16]);
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
    const tooSmall = new RegExp(`${name}: input .* too small.*smallest input this network accepts is ${m}×${m}`);
    expect(() => c.build({ inputShape: [m - 1, m - 1, 1] })).toThrow(tooSmall);
    expect(() => c.build({ inputShape: [28, m - 1, 1] })).toThrow(tooSmall);
  });

  it("takes numClasses and a larger, multi-channel inputShape", () => {
    const model = c.build({ numClasses: 3, inputShape: [32, 36, 3] });
    expect(model.inputs[0]!.shape).toEqual([null, 32, 36, 3]);
    expect(model.outputs[0]!.shape).toEqual([null, 3]);
    // 32×36 → (LeNet) 32×36 → 16×18 → 12×14 → 6×7; (LeNet-BN) 28×32 → 14×16 → 10×12 → 5×6
    expect(model.getLayer("flatten").outputShape).toEqual([null, c.nonTrainable ? 16 * 5 * 6 : 16 * 6 * 7]);
    const logits = model.predict(tf.zeros([2, 32, 36, 3])) as tf.Tensor;
    expect(logits.shape).toEqual([2, 3]);
    expect(() => c.build({ numClasses: 0 })).toThrow(/numClasses must be a positive integer/);
  });
});
