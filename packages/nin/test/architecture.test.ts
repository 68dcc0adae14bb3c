import { setupEngine, summary } from "@convnets/core";
import { architectureChecks, paramCount } from "@convnets/core/testing";
import { input, model } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nin, ninBlock, ninFeatureSize, ninSpec } from "../src/index.js";
import { NIN } from "./network.js";

// Parameter count, the book's shape walk, names, dropout and biases, JSON round trip, input sizes and the
// spec: the checks every network runs, from NiN's row. Built and inspected on the cpu backend, so that they
// do not depend on the wasm engine (training.test.ts runs the computations on wasm).
architectureChecks({ describe, it, expect, beforeAll, afterAll }, NIN);

beforeAll(async () => {
  await setupEngine("cpu");
});

describe("nin() at the default 224×224×1", () => {
  it("has no dense layer: the classes are the last block's channels, averaged", () => {
    const full = nin();
    try {
      expect(full.layers.filter((l) => l.getClassName() === "Dense")).toHaveLength(0);
      expect(full.getLayer("block4_conv3").getConfig().filters).toBe(10);
      expect(full.layers.at(-1)!.name).toBe("logits");
      expect(full.outputs[0]!.shape).toEqual([null, 10]);
    } finally {
      full.dispose();
    }
  });
});

describe("ninBlock", () => {
  it("is a k×k convolution and two 1×1 convolutions, each with ReLU", () => {
    const x = input({ shape: [20, 20, 2] });
    const m = model({ inputs: x, outputs: ninBlock(x, { filters: 6, kernelSize: 5, strides: 1, padding: 2 }, "b") });
    try {
      expect(summary(m).layers.map((l) => [l.name, l.type, l.outputShape])).toEqual([
        ["b_conv1", "Conv2D", [20, 20, 6]],
        ["b_conv1_relu", "ReLU", [20, 20, 6]],
        ["b_conv2", "Conv2D", [20, 20, 6]],
        ["b_conv2_relu", "ReLU", [20, 20, 6]],
        ["b_conv3", "Conv2D", [20, 20, 6]],
        ["b_conv3_relu", "ReLU", [20, 20, 6]],
      ]);
      // PyTorch: (2·5·5 + 1)·6 for the 5×5, (6 + 1)·6 for each 1×1
      expect(paramCount(m.trainableWeights)).toBe(51 * 6 + 2 * 7 * 6);
    } finally {
      m.dispose();
    }
  });

  it("pads as PyTorch does where tfjs's 'same' would not (stride 2, or more padding than 'same')", () => {
    const x = input({ shape: [9, 9, 1] });
    const strided = ninBlock(x, { filters: 4, kernelSize: 5, strides: 2, padding: 1 }, "s");
    const wide = ninBlock(x, { filters: 4, kernelSize: 3, strides: 1, padding: 2 }, "w");
    const m = model({ inputs: x, outputs: [strided, wide] });
    try {
      // PyTorch: floor((9 + 2·1 − 5) / 2) + 1 = 4 (tfjs "same" would give ceil(9 / 2) = 5) …
      expect(m.getLayer("s_conv1_pad").outputShape).toEqual([null, 11, 11, 1]);
      expect(m.getLayer("s_conv1").outputShape).toEqual([null, 4, 4, 4]);
      // … and 9 + 2·2 − 3 + 1 = 11 (tfjs "same" would keep 9).
      expect(m.getLayer("w_conv1").outputShape).toEqual([null, 11, 11, 4]);
      expect(m.getLayer("w_conv1").getConfig().padding).toBe("valid");
    } finally {
      m.dispose();
    }
  });

  it("refuses arguments that are not whole numbers, naming them", () => {
    const x = input({ shape: [9, 9, 1] });
    expect(() => ninBlock(x, { filters: 0, kernelSize: 3 }, "b")).toThrow(/ninBlock b: filters must be an integer/);
    expect(() => ninBlock(x, { filters: 4, kernelSize: 3, padding: -1 }, "b")).toThrow(/padding/);
  });
});

describe("input size", () => {
  it("computes the minimum from the architecture: 67 leaves a 1×1 map, 66 nothing", () => {
    expect(ninSpec.minInputSize).toBe(67);
    expect(ninSpec.minInputSize).toBe(67);
    expect(ninFeatureSize(224)).toBe(5);
    expect(ninFeatureSize(100)).toBe(2);
    expect(ninFeatureSize(67)).toBe(1);
    expect(ninFeatureSize(66)).toBe(0);
  });
});

describe("ninSpec", () => {
  it("builds the network at the size it is given, with as many parameters (no dense layer)", () => {
    const m = ninSpec.build({ inputShape: [ninSpec.minInputSize, ninSpec.minInputSize, 1] });
    try {
      expect(m.name).toBe("nin");
      expect(paramCount(m.trainableWeights)).toBe(1_992_166); // no dense layer: independent of the input size
    } finally {
      m.dispose();
    }
  });
});
