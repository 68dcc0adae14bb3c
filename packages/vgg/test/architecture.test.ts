import { setupEngine, summary } from "@convnets/core";
import { architectureChecks, paramCount } from "@convnets/core/testing";
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
  vgg19Spec,
  vggFeatureSize,
} from "../src/index.js";
import { VGG11 } from "./network.js";

// Parameter counts, the book's shape walks, names, dropout and biases, JSON round trip, input sizes and the
// spec: the checks every network runs, from VGG-11's row. Built and inspected on the cpu backend, so that
// they do not depend on the wasm engine (training.test.ts runs the computations on wasm).
architectureChecks({ describe, it, expect, beforeAll, afterAll }, VGG11);

beforeAll(async () => {
  await setupEngine("cpu");
});

describe("vggBlock", () => {
  it("builds each block from the table: 3×3 'same' convolutions with ReLU, then a 2×2/2 max-pool", () => {
    const m = vgg11({ inputShape: [32, 32, 1], widthDivisor: 8 });
    try {
      const block3 = summary(m).layers.filter((l) => l.name.startsWith("block3_"));
      expect(block3.map((l) => [l.name, l.type])).toEqual([
        ["block3_conv1", "Conv2D"],
        ["block3_conv1_relu", "ReLU"],
        ["block3_conv2", "Conv2D"],
        ["block3_conv2_relu", "ReLU"],
        ["block3_pool", "MaxPooling2D"],
      ]);
      const conv = m.getLayer("block3_conv2").getConfig();
      expect([conv.kernelSize, conv.strides, conv.padding]).toEqual([[3, 3], [1, 1], "same"]);
      const pool = m.getLayer("block3_pool").getConfig();
      expect([pool.poolSize, pool.strides]).toEqual([
        [2, 2],
        [2, 2],
      ]);
    } finally {
      m.dispose();
    }
  });
});

describe("widthDivisor", () => {
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
  ] as const)(
    "%s matches torchvision's parameter count and its convolution count",
    (name, build, arch, params, convs) => {
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
    },
  );

  it("VGG11_ARCH is the book's conv_arch and the tables are frozen", () => {
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
    expect(vgg19Spec.minInputSize).toBe(32);
    expect(vgg([[1, 8]], { inputShape: [2, 2, 1] }).outputs[0]!.shape).toEqual([null, 10]);
    expect(() => vgg([[1, 8]], { inputShape: [1, 1, 1] })).toThrow(/is 2×2/);
    expect(vgg11Spec.minInputSize).toBe(32);
    expect(vggFeatureSize(VGG11_ARCH, 224)).toBe(7);
    expect(vggFeatureSize(VGG11_ARCH, 50)).toBe(1);
    expect(vggFeatureSize(VGG11_ARCH, 32)).toBe(1);
    expect(vggFeatureSize(VGG11_ARCH, 31)).toBe(0);
  });

  it("refuses an input below any table's minimum, naming it", () => {
    expect(() => vgg([[1, 8]], { inputShape: [1, 1, 1] })).toThrow(/vgg: input 1×1 is too small.*2×2/);
  });
});

describe("vgg11Spec", () => {
  it("builds the book's quarter-width VGG-11 unless told otherwise", () => {
    const quarter = vgg11Spec.build({ inputShape: [32, 32, 1] });
    const fullWidth = vgg11Spec.build({ inputShape: [32, 32, 1], widthDivisor: 1 });
    try {
      expect(quarter.getLayer("block1_conv1").getConfig().filters).toBe(16);
      expect(fullWidth.getLayer("block1_conv1").getConfig().filters).toBe(64);
    } finally {
      quarter.dispose();
      fullWidth.dispose();
    }
  });
});
