import { setupEngine, summary } from "@convnets/core";
import { paramCount, type SeedWalkOptions, seedWalk } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, models } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALEXNET_MIN_INPUT_SIZE, alexnet, alexnetFeatureSize, alexnetSpec } from "../src/index.js";

/**
 * The lines of the seed's printed shape walk: every layer but the explicit zero padding, which is
 * PyTorch's Conv2d(padding=1) and prints no line of its own.
 */
const SEED_LINES: SeedWalkOptions = { keep: (l) => l.type !== "ZeroPadding2D" };

/** The seed's printed walk at 224×224 (§3.1; REFERENCE.md §1), batch dimension dropped. */
const SEED_WALK_224: [string, number[]][] = [
  ["Conv2d", [96, 54, 54]],
  ["ReLU", [96, 54, 54]],
  ["MaxPool2d", [96, 26, 26]],
  ["Conv2d", [256, 26, 26]],
  ["ReLU", [256, 26, 26]],
  ["MaxPool2d", [256, 12, 12]],
  ["Conv2d", [384, 12, 12]],
  ["ReLU", [384, 12, 12]],
  ["Conv2d", [384, 12, 12]],
  ["ReLU", [384, 12, 12]],
  ["Conv2d", [256, 12, 12]],
  ["ReLU", [256, 12, 12]],
  ["MaxPool2d", [256, 5, 5]],
  ["Flatten", [6400]],
  ["Linear", [4096]],
  ["ReLU", [4096]],
  ["Dropout", [4096]],
  ["Linear", [4096]],
  ["ReLU", [4096]],
  ["Dropout", [4096]],
  ["Linear", [10]],
];

let full: LayersModel;

beforeAll(async () => {
  // Building and inspecting needs no fast arithmetic; the cpu backend keeps these checks
  // independent of the wasm engine (training.test.ts runs the computations on wasm).
  await setupEngine("cpu");
  full = alexnet();
});

afterAll(() => full?.dispose());

describe("alexnet() at the default 224×224×1", () => {
  it("has the seed's 46,764,746 trainable parameters and nothing else", () => {
    expect(paramCount(full.trainableWeights)).toBe(46_764_746);
    expect(full.countParams()).toBe(46_764_746);
  });

  it("walks the seed's printed layer shapes", () => {
    expect(full.inputs[0]!.shape).toEqual([null, 224, 224, 1]);
    expect(seedWalk(full, SEED_LINES)).toEqual(SEED_WALK_224);
  });

  it("names its layers by role", () => {
    expect(summary(full).layers.map((l) => l.name)).toEqual([
      "conv1_pad",
      "conv1",
      "conv1_relu",
      "pool1",
      "conv2",
      "conv2_relu",
      "pool2",
      "conv3",
      "conv3_relu",
      "conv4",
      "conv4_relu",
      "conv5",
      "conv5_relu",
      "pool3",
      "flatten",
      "fc1",
      "fc1_relu",
      "fc1_dropout",
      "fc2",
      "fc2_relu",
      "fc2_dropout",
      "fc3",
    ]);
  });

  it("uses dropout 0.5 and zero biases", () => {
    const rates = full.layers.filter((l) => l.getClassName() === "Dropout").map((l) => l.getConfig().rate);
    expect(rates).toEqual([0.5, 0.5]);
    for (const name of ["conv1", "conv5", "fc1", "fc3"]) {
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
      expect(paramCount(rebuilt.trainableWeights)).toBe(46_764_746);
    } finally {
      rebuilt.dispose();
    }
  });
});

describe("input size", () => {
  it("computes the minimum from the architecture: 65 leaves a 1×1 map, 64 nothing", () => {
    expect(ALEXNET_MIN_INPUT_SIZE).toBe(65);
    expect(alexnetSpec.minInputSize).toBe(65);
    expect(alexnetFeatureSize(224)).toBe(5);
    expect(alexnetFeatureSize(65)).toBe(1);
    expect(alexnetFeatureSize(64)).toBe(0);
  });

  it("builds at the minimum, with the feature map the arithmetic predicts", () => {
    for (const size of [ALEXNET_MIN_INPUT_SIZE, 100]) {
      const m = alexnet({ inputShape: [size, size, 1] });
      try {
        const side = alexnetFeatureSize(size);
        expect(m.getLayer("pool3").outputShape).toEqual([null, side, side, 256]);
        expect(m.getLayer("flatten").outputShape).toEqual([null, side * side * 256]);
      } finally {
        m.dispose();
      }
    }
  });

  it("refuses one pixel less, naming the minimum", () => {
    expect(() => alexnet({ inputShape: [64, 64, 1] })).toThrow(/alexnet: input 64×64 is too small.*65×65/);
    expect(() => alexnet({ inputShape: [224, 64, 1] })).toThrow(/65×65/);
  });

  it("takes other channel counts and class counts", () => {
    const m = alexnet({ inputShape: [96, 96, 3], numClasses: 5 });
    try {
      expect(m.getLayer("conv1").getWeights()[0]!.shape).toEqual([11, 11, 3, 96]);
      expect(m.outputs[0]!.shape).toEqual([null, 5]);
    } finally {
      m.dispose();
    }
    expect(() => alexnet({ numClasses: 0 })).toThrow(/numClasses/);
  });
});

describe("alexnetSpec", () => {
  it("carries the seed's recipe (REFERENCE.md §2)", () => {
    expect(alexnetSpec.name).toBe("alexnet");
    expect(alexnetSpec.seedSection).toBe("3.1");
    expect(alexnetSpec.defaults).toEqual({ inputSize: 224, lr: 0.01, batchSize: 128, epochs: 10 });
  });

  it("builds the network at the size it is given", () => {
    const m = alexnetSpec.build({ inputShape: [alexnetSpec.minInputSize, alexnetSpec.minInputSize, 1] });
    try {
      expect(m.name).toBe("alexnet");
      expect(m.getLayer("pool3").outputShape).toEqual([null, 1, 1, 256]);
    } finally {
      m.dispose();
    }
  });
});
