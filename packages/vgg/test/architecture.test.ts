import { setupEngine, summary } from "@convnets/core";
import { paramCount, type SeedWalkOptions, seedWalk } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { type LayersModel, models } from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  VGG11_ARCH,
  VGG13_ARCH,
  VGG16_ARCH,
  VGG19_ARCH,
  vgg,
  vgg11,
  vgg11Spec,
  vgg13,
  vgg16,
  vgg19,
  vggFeatureSize,
  vggMinInputSize,
} from "../src/index.js";

/**
 * The lines of the seed's printed shape walk (§3.2): one `Sequential` line per VGG block (the output of
 * its pool), then the classifier layers.
 */
const SEED_LINES: SeedWalkOptions = {
  keep: (l) => !l.name.startsWith("block") || l.name.endsWith("_pool"),
  rename: (l) => (l.name.startsWith("block") ? "Sequential" : undefined),
};

const CLASSIFIER_WALK: [string, number[]][] = [
  ["Linear", [4096]],
  ["ReLU", [4096]],
  ["Dropout", [4096]],
  ["Linear", [4096]],
  ["ReLU", [4096]],
  ["Dropout", [4096]],
  ["Linear", [10]],
];

/** The seed's printed walk of VGG-11 at 224×224 (§3.2; REFERENCE.md §1). */
const SEED_WALK_224: [string, number[]][] = [
  ["Sequential", [64, 112, 112]],
  ["Sequential", [128, 56, 56]],
  ["Sequential", [256, 28, 28]],
  ["Sequential", [512, 14, 14]],
  ["Sequential", [512, 7, 7]],
  ["Flatten", [25088]],
  ...CLASSIFIER_WALK,
];

/** The same walk with every block's channels divided by 4, the network the d2l book trains. */
const QUARTER_WALK_224: [string, number[]][] = [
  ["Sequential", [16, 112, 112]],
  ["Sequential", [32, 56, 56]],
  ["Sequential", [64, 28, 28]],
  ["Sequential", [128, 14, 14]],
  ["Sequential", [128, 7, 7]],
  ["Flatten", [6272]],
  ...CLASSIFIER_WALK,
];

let full: LayersModel;

beforeAll(async () => {
  // Building and inspecting needs no fast arithmetic; the cpu backend keeps these checks
  // independent of the wasm engine (training.test.ts runs the computations on wasm).
  await setupEngine("cpu");
  full = vgg11();
});

afterAll(() => full?.dispose());

describe("vgg11() at the default 224×224×1", () => {
  it("has the seed's 128,806,154 trainable parameters and nothing else", () => {
    expect(paramCount(full.trainableWeights)).toBe(128_806_154);
    expect(full.countParams()).toBe(128_806_154);
  });

  it("walks the seed's printed block shapes", () => {
    expect(full.inputs[0]!.shape).toEqual([null, 224, 224, 1]);
    expect(seedWalk(full, SEED_LINES)).toEqual(SEED_WALK_224);
  });

  it("builds each block from the table: 3×3 convolutions with ReLU, then a 2×2/2 max-pool", () => {
    const block3 = summary(full).layers.filter((l) => l.name.startsWith("block3_"));
    expect(block3.map((l) => [l.name, l.type])).toEqual([
      ["block3_conv1", "Conv2D"],
      ["block3_conv1_relu", "ReLU"],
      ["block3_conv2", "Conv2D"],
      ["block3_conv2_relu", "ReLU"],
      ["block3_pool", "MaxPooling2D"],
    ]);
    expect(block3.map((l) => l.outputShape)).toEqual([
      [56, 56, 256],
      [56, 56, 256],
      [56, 56, 256],
      [56, 56, 256],
      [28, 28, 256],
    ]);
    const conv = full.getLayer("block3_conv2").getConfig();
    expect([conv.kernelSize, conv.strides, conv.padding]).toEqual([[3, 3], [1, 1], "same"]);
    const pool = full.getLayer("block3_pool").getConfig();
    expect([pool.poolSize, pool.strides]).toEqual([[2, 2], [2, 2]]);
  });

  it("names its classifier by role, with dropout 0.5 and zero biases", () => {
    expect(full.layers.slice(-10).map((l) => l.name)).toEqual([
      "block5_conv2_relu",
      "block5_pool",
      "flatten",
      "fc1",
      "fc1_relu",
      "fc1_dropout",
      "fc2",
      "fc2_relu",
      "fc2_dropout",
      "fc3",
    ]);
    const rates = full.layers.filter((l) => l.getClassName() === "Dropout").map((l) => l.getConfig().rate);
    expect(rates).toEqual([0.5, 0.5]);
    for (const name of ["block1_conv1", "block5_conv2", "fc1", "fc3"]) {
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
      expect(paramCount(rebuilt.trainableWeights)).toBe(128_806_154);
    } finally {
      rebuilt.dispose();
    }
  });
});

describe("widthDivisor", () => {
  it("with 4 gives the book's VGG-11: 43,093,322 parameters and quarter-width blocks", () => {
    const m = vgg11({ widthDivisor: 4 });
    try {
      expect(paramCount(m.trainableWeights)).toBe(43_093_322);
      expect(seedWalk(m, SEED_LINES)).toEqual(QUARTER_WALK_224);
    } finally {
      m.dispose();
    }
  });

  it("divides channels as the book's `//` does and refuses what is not a usable divisor", () => {
    const m = vgg11({ widthDivisor: 3, inputShape: [32, 32, 1] });
    try {
      expect(m.getLayer("block1_conv1").getConfig().filters).toBe(21); // 64 // 3
      expect(m.getLayer("block5_conv2").getConfig().filters).toBe(170); // 512 // 3
    } finally {
      m.dispose();
    }
    for (const bad of [0, 1.5, 65, Number.NaN]) {
      expect(() => vgg11({ widthDivisor: bad })).toThrow(/vgg11: widthDivisor must be an integer from 1 to 64/);
    }
  });
});

describe("the 13/16/19 tables", () => {
  // torchvision's published parameter counts (3 input channels, 1000 classes; its adaptive
  // average pool before the classifier has no parameters): an outside check of the tables.
  it.each([
    ["vgg13", vgg13, VGG13_ARCH, 133_047_848, 10],
    ["vgg16", vgg16, VGG16_ARCH, 138_357_544, 13],
    ["vgg19", vgg19, VGG19_ARCH, 143_667_240, 16],
  ] as const)("%s matches torchvision's parameter count and its convolution count", (name, build, arch, params, convs) => {
    const m = build({ inputShape: [224, 224, 3], numClasses: 1000 });
    try {
      expect(m.name).toBe(name);
      expect(paramCount(m.trainableWeights)).toBe(params);
      expect(m.layers.filter((l) => l.getClassName() === "Conv2D")).toHaveLength(convs);
      expect(arch.reduce((n, [numConvs]) => n + numConvs, 0)).toBe(convs);
      expect(m.getLayer("block5_pool").outputShape).toEqual([null, 7, 7, 512]);
    } finally {
      m.dispose();
    }
  });

  it("VGG11_ARCH is the seed's conv_arch and the tables are frozen", () => {
    expect(VGG11_ARCH).toEqual([
      [1, 64],
      [1, 128],
      [2, 256],
      [2, 512],
      [2, 512],
    ]);
    expect(Object.isFrozen(VGG11_ARCH)).toBe(true);
    expect(Object.isFrozen(VGG19_ARCH[2])).toBe(true);
  });
});

describe("vgg(convArch) with any table", () => {
  it("builds one block per row and checks the table", () => {
    const m = vgg(
      [
        [1, 8],
        [3, 16],
      ],
      { inputShape: [12, 12, 1], numClasses: 4 },
    );
    try {
      expect(m.layers.filter((l) => l.getClassName() === "Conv2D").map((l) => l.name)).toEqual([
        "block1_conv1",
        "block2_conv1",
        "block2_conv2",
        "block2_conv3",
      ]);
      expect(m.getLayer("block2_pool").outputShape).toEqual([null, 3, 3, 16]);
      expect(m.outputs[0]!.shape).toEqual([null, 4]);
    } finally {
      m.dispose();
    }
    expect(() => vgg([])).toThrow(/convArch must be a non-empty list of \[numConvs, channels\] pairs/);
    expect(() => vgg([[1, 0]])).toThrow(/convArch/);
    expect(() => vgg([[1, 8], [2]] as never)).toThrow(/convArch/);
  });
});

describe("input size", () => {
  it("computes the minimum from the table: 2 per block, 32 for five blocks", () => {
    expect(vggMinInputSize(VGG11_ARCH)).toBe(32);
    expect(vggMinInputSize(VGG19_ARCH)).toBe(32);
    expect(vggMinInputSize([[1, 8]])).toBe(2);
    expect(vgg11Spec.minInputSize).toBe(32);
    expect(vggFeatureSize(VGG11_ARCH, 224)).toBe(7);
    expect(vggFeatureSize(VGG11_ARCH, 32)).toBe(1);
    expect(vggFeatureSize(VGG11_ARCH, 31)).toBe(0);
  });

  it("builds at the minimum, with the feature map the arithmetic predicts", () => {
    for (const size of [32, 50]) {
      const m = vgg11({ inputShape: [size, size, 1], widthDivisor: 8 });
      try {
        const side = vggFeatureSize(VGG11_ARCH, size);
        expect(m.getLayer("block5_pool").outputShape).toEqual([null, side, side, 64]);
      } finally {
        m.dispose();
      }
    }
  });

  it("refuses one pixel less, naming the minimum", () => {
    expect(() => vgg11({ inputShape: [31, 31, 1] })).toThrow(/vgg11: input 31×31 is too small.*32×32/);
    expect(() => vgg([[1, 8]], { inputShape: [1, 1, 1] })).toThrow(/vgg: input 1×1 is too small.*2×2/);
  });
});

describe("vgg11Spec", () => {
  it("carries the seed's recipe (REFERENCE.md §2)", () => {
    expect(vgg11Spec.name).toBe("vgg11");
    expect(vgg11Spec.seedSection).toBe("3.2");
    expect(vgg11Spec.defaults).toEqual({ inputSize: 224, lr: 0.05, batchSize: 128, epochs: 10 });
  });

  it("builds the book's quarter-width VGG-11 unless told otherwise", () => {
    const quarter = vgg11Spec.build({ inputShape: [32, 32, 1] });
    const fullWidth = vgg11Spec.build({ inputShape: [32, 32, 1], widthDivisor: 1 });
    try {
      expect(quarter.name).toBe("vgg11");
      expect(quarter.getLayer("block1_conv1").getConfig().filters).toBe(16);
      expect(fullWidth.getLayer("block1_conv1").getConfig().filters).toBe(64);
    } finally {
      quarter.dispose();
      fullWidth.dispose();
    }
  });
});
