import { setupEngine, summary } from "@convnets/core";
import { paramCount, type SeedWalkOptions, seedWalk } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { input, type LayersModel, model, models } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NIN_MIN_INPUT_SIZE, nin, ninBlock, ninFeatureSize, ninSpec } from "../src/index.js";

/** The PyTorch layers of the seed's NiN that are one tfjs layer here (see SEED_WALK_224). */
const TORCH_NAME: Record<string, string> = {
  GlobalAveragePooling2D: "AdaptiveAvgPool2d+Flatten",
};

/**
 * The lines of the seed's printed shape walk (§3.3): one `Sequential` line per NiN block (the output of
 * its last ReLU), then the pools and dropout.
 */
const SEED_LINES: SeedWalkOptions = {
  keep: (l) => !l.name.startsWith("block") || l.name.endsWith("_conv3_relu"),
  rename: (l) => (l.name.startsWith("block") ? "Sequential" : TORCH_NAME[l.type]),
};

/**
 * REFERENCE.md §1's NiN walk at 224×224. The seed's AdaptiveAvgPool2d((1, 1)) (10×1×1) and
 * Flatten (10) are one tfjs layer, GlobalAveragePooling2D, whose output is already flat.
 */
const SEED_WALK_224: [string, number[]][] = [
  ["Sequential", [96, 54, 54]],
  ["MaxPool2d", [96, 26, 26]],
  ["Sequential", [256, 26, 26]],
  ["MaxPool2d", [256, 12, 12]],
  ["Sequential", [384, 12, 12]],
  ["MaxPool2d", [384, 5, 5]],
  ["Dropout", [384, 5, 5]],
  ["Sequential", [10, 5, 5]],
  ["AdaptiveAvgPool2d+Flatten", [10]],
];

let full: LayersModel;

beforeAll(async () => {
  // Building and inspecting needs no fast arithmetic; the cpu backend keeps these checks
  // independent of the wasm engine (training.test.ts runs the computations on wasm).
  await setupEngine("cpu");
  full = nin();
});

afterAll(() => full?.dispose());

describe("nin() at the default 224×224×1", () => {
  it("has the seed's 1,992,166 trainable parameters and nothing else", () => {
    expect(paramCount(full.trainableWeights)).toBe(1_992_166);
    expect(full.countParams()).toBe(1_992_166);
  });

  it("walks the seed's printed shapes", () => {
    expect(full.inputs[0]!.shape).toEqual([null, 224, 224, 1]);
    expect(seedWalk(full, SEED_LINES)).toEqual(SEED_WALK_224);
  });

  it("has no dense layer: the classes are the last block's channels, averaged", () => {
    expect(full.layers.filter((l) => l.getClassName() === "Dense")).toHaveLength(0);
    expect(full.getLayer("block4_conv3").getConfig().filters).toBe(10);
    expect(full.layers.at(-1)!.name).toBe("global_avg_pool");
    expect(full.outputs[0]!.shape).toEqual([null, 10]);
  });

  it("names its layers by role, with dropout 0.5 and zero biases", () => {
    expect(summary(full).layers.map((l) => l.name)).toEqual([
      ...blockNames("block1"),
      "pool1",
      ...blockNames("block2"),
      "pool2",
      ...blockNames("block3"),
      "pool3",
      "dropout",
      ...blockNames("block4"),
      "global_avg_pool",
    ]);
    expect(full.getLayer("dropout").getConfig().rate).toBe(0.5);
    for (const name of ["block1_conv1", "block3_conv2", "block4_conv3"]) {
      const bias = full.getLayer(name).getWeights()[1]!;
      expect(tf.tidy(() => tf.max(tf.abs(bias)).dataSync()[0])).toBe(0);
    }
  });

  it("survives a topology round trip through JSON (toJSON → modelFromJSON)", async () => {
    const json = JSON.parse(full.toJSON(null, true) as string);
    const rebuilt = await models.modelFromJSON(json);
    try {
      expect(seedWalk(rebuilt, SEED_LINES)).toEqual(SEED_WALK_224);
      expect(rebuilt.layers.map((l) => l.name)).toEqual(full.layers.map((l) => l.name));
      expect(paramCount(rebuilt.trainableWeights)).toBe(1_992_166);
    } finally {
      rebuilt.dispose();
    }
  });
});

function blockNames(block: string): string[] {
  return [1, 2, 3].flatMap((i) => [`${block}_conv${i}`, `${block}_conv${i}_relu`]);
}

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
      expect(m.getLayer("s_pad").outputShape).toEqual([null, 11, 11, 1]);
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
    expect(NIN_MIN_INPUT_SIZE).toBe(67);
    expect(ninSpec.minInputSize).toBe(67);
    expect(ninFeatureSize(224)).toBe(5);
    expect(ninFeatureSize(67)).toBe(1);
    expect(ninFeatureSize(66)).toBe(0);
  });

  it("builds at the minimum, with the feature map the arithmetic predicts", () => {
    for (const size of [NIN_MIN_INPUT_SIZE, 100]) {
      const m = nin({ inputShape: [size, size, 1] });
      try {
        const side = ninFeatureSize(size);
        expect(m.getLayer("block4_conv3_relu").outputShape).toEqual([null, side, side, 10]);
      } finally {
        m.dispose();
      }
    }
  });

  it("refuses one pixel less, naming the minimum", () => {
    expect(() => nin({ inputShape: [66, 66, 1] })).toThrow(/nin: input 66×66 is too small.*67×67/);
  });

  it("takes other channel counts and class counts", () => {
    const m = nin({ inputShape: [96, 96, 3], numClasses: 7 });
    try {
      expect(m.getLayer("block1_conv1").getWeights()[0]!.shape).toEqual([11, 11, 3, 96]);
      expect(m.outputs[0]!.shape).toEqual([null, 7]);
    } finally {
      m.dispose();
    }
  });
});

describe("ninSpec", () => {
  it("carries the seed's recipe (REFERENCE.md §2)", () => {
    expect(ninSpec.name).toBe("nin");
    expect(ninSpec.seedSection).toBe("3.3");
    expect(ninSpec.defaults).toEqual({ inputSize: 224, lr: 0.1, batchSize: 128, epochs: 10 });
  });

  it("builds the network at the size it is given", () => {
    const m = ninSpec.build({ inputShape: [ninSpec.minInputSize, ninSpec.minInputSize, 1] });
    try {
      expect(m.name).toBe("nin");
      expect(paramCount(m.trainableWeights)).toBe(1_992_166); // no dense layer: independent of the input size
    } finally {
      m.dispose();
    }
  });
});
