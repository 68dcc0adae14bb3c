/**
 * The wasm kernels convnets registers, each against the pure-JS cpu backend (same tfjs-core) on random
 * data, over every convolution geometry the seven networks use; at 1 thread and at N (vitest.config.ts).
 *
 * Error measure: relative error = max_i |wasm_i − cpu_i| / max_i |cpu_i| (the largest difference scaled
 * by the largest reference magnitude, so sums that cancel to near zero do not blow it up); bound 1e-4.
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
// tfjs-layers' node bundle registers tfjs-core's gradient functions (tfjs-core alone registers none).
import "@tensorflow/tfjs-layers";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeConv2DBackpropFilter } from "../src/kernels/conv2d_backprop_filter.js";
import { makeConv2DBackpropInput } from "../src/kernels/conv2d_backprop_input.js";
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from "../src/kernels/index.js";
import { kernelLimits, type WasmBackend } from "../src/kernels/wasm.js";
import { assembledModuleForTests, wasmSimd, wasmSimdKernels } from "../src/kernels/wasm_simd.js";
import { on, setupTestWasm, TEST_THREADS } from "./helpers.js";

const TOLERANCE = 1e-4;

let wasmHadFilterGradient: boolean;
let builtinMaxPoolGrad: tf.KernelFunc;
beforeAll(async () => {
  // tfjs-backend-wasm registered its kernels when imported; setupTestWasm replaces some of them.
  wasmHadFilterGradient = tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined;
  builtinMaxPoolGrad = (tf.getKernel("MaxPoolGrad", "wasm") as tf.KernelConfig).kernelFunc;
  await setupTestWasm();
});

/** Deterministic values in [-1, 1) (a linear congruential generator: same data on both backends). */
function randomValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).toBe(expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}

async function expectSameOnBothBackends(compute: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const expected = await on("cpu", compute);
  const actual = await on("wasm", compute);
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(relativeError(actual[i] as Float32Array, expected[i] as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
  }
}

type Pad = "same" | "valid" | number | [[0, 0], [number, number], [number, number], [0, 0]];
const pad = (p: number): Pad => [
  [0, 0],
  [p, p],
  [p, p],
  [0, 0],
];

interface Geometry {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
}

/** Every (kernel, stride, padding) of LeNet, AlexNet, VGG, NiN, GoogLeNet, ResNet and DenseNet, on small inputs. */
const GEOMETRIES: Geometry[] = [
  {
    name: "5×5 stride 1 same, one channel (LeNet conv1)",
    x: [3, 12, 10, 1],
    filter: [5, 5, 1, 6],
    stride: 1,
    pad: "same",
  },
  { name: "3×3 stride 1 valid, one channel", x: [3, 9, 8, 1], filter: [3, 3, 1, 4], stride: 1, pad: "valid" },
  {
    name: "4×4 stride 1 same (asymmetric padding), one channel",
    x: [3, 7, 9, 1],
    filter: [4, 4, 1, 3],
    stride: 1,
    pad: "same",
  },
  { name: "5×5 stride 1 same, two channels", x: [3, 11, 9, 2], filter: [5, 5, 2, 4], stride: 1, pad: "same" },
  { name: "5×5 stride 1 valid (LeNet conv2)", x: [3, 12, 10, 3], filter: [5, 5, 3, 5], stride: 1, pad: "valid" },
  {
    name: "11×11 stride 4 pad 1, one channel, rows left unread (AlexNet)",
    x: [3, 39, 35, 1],
    filter: [11, 11, 1, 4],
    stride: 4,
    pad: pad(1),
  },
  { name: "11×11 stride 4 pad 1, three channels", x: [2, 39, 35, 3], filter: [11, 11, 3, 4], stride: 4, pad: pad(1) },
  { name: "7×7 stride 2 pad 3, one channel (stems)", x: [3, 16, 13, 1], filter: [7, 7, 1, 6], stride: 2, pad: pad(3) },
  { name: "7×7 stride 2 pad 3, three channels", x: [2, 15, 15, 3], filter: [7, 7, 3, 5], stride: 2, pad: pad(3) },
  { name: "5×5 pad 2 (NiN, GoogLeNet)", x: [3, 10, 11, 4], filter: [5, 5, 4, 6], stride: 1, pad: pad(2) },
  { name: "5×5 numeric pad 2", x: [2, 9, 9, 3], filter: [5, 5, 3, 4], stride: 1, pad: 2 },
  { name: "3×3 pad 1 (VGG, ResNet, DenseNet)", x: [4, 9, 8, 5], filter: [3, 3, 5, 7], stride: 1, pad: pad(1) },
  { name: "3×3 stride 2 pad 1 (ResNet downsampling)", x: [4, 9, 10, 5], filter: [3, 3, 5, 6], stride: 2, pad: pad(1) },
  { name: "3×3 stride 2 pad 1, more channels", x: [2, 8, 8, 16], filter: [3, 3, 16, 12], stride: 2, pad: pad(1) },
  {
    name: "3×3 stride 2 same, even input (TF's asymmetric padding)",
    x: [3, 8, 10, 4],
    filter: [3, 3, 4, 5],
    stride: 2,
    pad: "same",
  },
  { name: "1×1 stride 1 (NiN, GoogLeNet, DenseNet)", x: [4, 6, 5, 8], filter: [1, 1, 8, 3], stride: 1, pad: "valid" },
  { name: "1×1 stride 2 (ResNet shortcut)", x: [4, 7, 6, 5], filter: [1, 1, 5, 9], stride: 2, pad: "valid" },
];

function outShape(g: Geometry): number[] {
  const info = tf.backend_util.computeConv2DInfo(g.x, g.filter, g.stride, 1, g.pad);
  return info.outShape;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

describe("registerWasmTrainingKernels", () => {
  it("tfjs-backend-wasm 4.22 lacks Conv2DBackpropFilter (the reason these kernels exist)", () => {
    expect(wasmHadFilterGradient).toBe(false);
  });

  it("registers Conv2DBackpropFilter, a correct MaxPoolGrad, thirteen faster kernels and three fused ones, idempotently", () => {
    const kernelFuncs = () => WASM_TRAINING_KERNELS.map((k) => tf.getKernel(k.name, "wasm")?.kernelFunc);
    const first = kernelFuncs();
    expect(registerWasmTrainingKernels()).toEqual([
      "Conv2DBackpropFilter",
      "MaxPoolGrad",
      "Conv2DBackpropInput",
      "BatchMatMul",
      "AvgPoolGrad",
      "Identity",
      "Sum",
      "Mean",
      "Add",
      "Sub",
      "Multiply",
      "RealDiv",
      "SplitV",
      "Concat",
      "Slice",
      "BatchNormTrainingForward",
      "BatchNormTrainingBackward",
      "ReluGrad",
    ]);
    expect(kernelFuncs()).toEqual(first);
    expect(first.every((f) => typeof f === "function")).toBe(true);
  });
});

describe("Identity", () => {
  it("shares its input's data, which outlives whichever of the two is disposed first", async () => {
    await tf.setBackend("wasm");
    const dataIds = tf.backend().numDataIds();
    const x = tf.tensor([1, -2, 3.5, 4], [2, 2]);
    const y = tf.engine().runKernel("Identity", { x }) as tf.Tensor;
    expect(tf.backend().numDataIds()).toBe(dataIds + 1); // one buffer, two references
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, -2, 3.5, 4]);
    expect(y.shape).toEqual([2, 2]);
    y.dispose();
    expect(tf.backend().numDataIds()).toBe(dataIds);
  });

  it("gradients through ops that pass dy unchanged match cpu", async () => {
    const values = randomValues(24, 7);
    await expectSameOnBothBackends(() =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.reshape(x, [4, 6]), 1), tf.reshape(tf.clone(x), [4, 6]))))(
        tf.tensor(values, [2, 3, 4]),
      ),
    );
  });
});

describe("Sum and Mean", () => {
  const cases: { shape: number[]; axis: number[] | number; keepDims: boolean }[] = [
    { shape: [7, 9, 11, 6], axis: [0, 1, 2], keepDims: false }, // a bias gradient
    { shape: [5, 4, 3, 16], axis: [0, 1, 2], keepDims: true }, // BatchNorm's statistics
    { shape: [1, 6, 5, 3], axis: [2, 0, 1], keepDims: false }, // one example, unsorted axes
    { shape: [33, 10], axis: 0, keepDims: false }, // a dense layer's bias gradient
    { shape: [4, 3, 8], axis: [0, 1], keepDims: true },
    { shape: [6, 5, 4, 3], axis: [1, 2], keepDims: false }, // not the leading axes: the built-in kernel
    { shape: [6, 5], axis: 1, keepDims: false },
  ];
  it.each(cases)("over $axis of $shape (keepDims $keepDims) match cpu", async ({ shape, axis, keepDims }) => {
    const values = randomValues(size(shape), 11);
    await expectSameOnBothBackends(() => {
      const x = tf.tensor(values, shape);
      return [tf.sum(x, axis, keepDims), tf.mean(x, axis, keepDims)];
    });
  });

  it("keep the built-in kernel's shapes and integer sums", async () => {
    await tf.setBackend("wasm");
    const x = tf.tensor([1, 2, 3, 4, 5, 6], [3, 2], "int32");
    const s = tf.sum(x, 0);
    expect(s.dtype).toBe("int32");
    expect(Array.from(s.dataSync())).toEqual([9, 12]);
    expect(tf.sum(tf.ones([2, 3, 4]), [0, 1], true).shape).toEqual([1, 1, 4]);
  });
});

describe("per-channel broadcasts", () => {
  const cases: { full: number[]; vector: number[] }[] = [
    { full: [16, 7, 7, 6], vector: [6] }, // LeNet-BN's conv1 statistics
    { full: [8, 5, 5, 16], vector: [1, 1, 1, 16] },
    { full: [40, 12], vector: [12] }, // after a dense layer
    { full: [13, 3], vector: [3] }, // 13 rows: no whole repeat, the built-in kernel
    { full: [2, 3, 64], vector: [64] }, // wide rows: the built-in kernel
  ];
  const ops = { add: tf.add, sub: tf.sub, mul: tf.mul, div: tf.div };
  it.each(cases)("$full with $vector, either side, match cpu", async ({ full, vector }) => {
    const x = randomValues(size(full), 21);
    const v = randomValues(size(vector), 22).map((e) => e + 2); // away from 0 for div
    await expectSameOnBothBackends(() =>
      Object.values(ops).flatMap((op) => [
        op(tf.tensor(x, full), tf.tensor(v, vector)),
        op(tf.tensor(v, vector), tf.add(tf.tensor(x, full), 3)),
      ]),
    );
  });

  it("gives the built-in kernel's result bit for bit, with the full shape", async () => {
    await tf.setBackend("wasm");
    const x = tf.tensor(randomValues(size([6, 5, 4, 6]), 23), [6, 5, 4, 6]);
    const v = tf.tensor(randomValues(6, 24), [6]);
    const ours = tf.mul(x, v);
    const builtin = tf.mul(x, tf.tile(tf.reshape(v, [1, 1, 1, 6]), [6, 5, 4, 1])); // no broadcast
    expect(ours.shape).toEqual([6, 5, 4, 6]);
    expect(Array.from(ours.dataSync())).toEqual(Array.from(builtin.dataSync()));
  });
});

/** The two convolution gradients of geometry `g` on seeded random x, filter and dy, as tensor makers. */
function convGradients(g: Geometry, seed: number) {
  const dyShape = outShape(g);
  const x = randomValues(size(g.x), seed);
  const w = randomValues(size(g.filter), seed + 1);
  const dy = randomValues(size(dyShape), seed + 2);
  const attrs = { strides: g.stride, pad: g.pad, dataFormat: "NHWC" as const };
  return {
    dyShape,
    dW: () =>
      tf.engine().runKernel(
        "Conv2DBackpropFilter",
        { x: tf.tensor(x, g.x), dy: tf.tensor(dy, dyShape) },
        {
          ...attrs,
          filterShape: g.filter,
        },
      ) as tf.Tensor,
    dx: () =>
      tf.engine().runKernel(
        "Conv2DBackpropInput",
        { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, g.filter) },
        {
          ...attrs,
          inputShape: g.x,
        },
      ) as tf.Tensor,
  };
}

describe.each(GEOMETRIES)("conv2d $name", (g) => {
  const { dW, dx } = convGradients(g, 1);

  it("Conv2DBackpropFilter (dW) matches cpu", async () => {
    await expectSameOnBothBackends(dW);
  });

  it("Conv2DBackpropInput (dx) matches cpu", async () => {
    await expectSameOnBothBackends(dx);
  });
});

// Batches split in chunks (kernelLimits.tempBytes) are checked below, with and without SIMD, on every geometry.

describe("Conv2DBackpropInput with a padding wider than the filter", () => {
  it("(full correlation padding negative: the matrix-product path) matches cpu", async () => {
    const x: [number, number, number, number] = [2, 5, 5, 3];
    const filter: [number, number, number, number] = [3, 3, 3, 4];
    const g: Geometry = { name: "3×3 pad 3", x, filter, stride: 1, pad: pad(3) };
    const dyShape = outShape(g);
    const dy = randomValues(size(dyShape), 6);
    const w = randomValues(size(filter), 7);
    await expectSameOnBothBackends(
      () =>
        tf.engine().runKernel(
          "Conv2DBackpropInput",
          { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, filter) },
          {
            strides: 1,
            pad: g.pad,
            dataFormat: "NHWC",
            inputShape: x,
          },
        ) as tf.Tensor,
    );
  });
});

/**
 * The WebAssembly SIMD loops of the convolution gradients (wasm_simd.ts: the one-channel and the
 * few-channel stride-1 dW, the blocked matrix product's colsᵀ for stride-1 dW with more channels or a
 * 1×1 filter, col2im for dx) and their fallbacks (`wasmSimd.enabled = false`: XNNPACK convolutions,
 * the unblocked matrix product and the JavaScript col2im), each against cpu, on the geometries above
 * and edge cases: output widths not a multiple of 4, output channel counts not a multiple of 4,
 * filters wider than the 8 taps one pass of the dW loop accumulates, a filter larger than the input,
 * one example, 2 to 8 input channels (one or two passes of the few-channel loop), 9 to 36 (the
 * blocked product, with taps that see no input row at all, strided taps, channel and pixel counts
 * that leave tails beside colsᵀ's 4 × 4 blocks); with the batch split in chunks, and the
 * product's blocks of one example, or of two with a shorter last block.
 */
describe("convolution gradients: the SIMD loops and their fallbacks", () => {
  const EDGES: Geometry[] = [
    { name: "3×3 valid, OW 5, CO 3", x: [2, 9, 7, 1], filter: [3, 3, 1, 3], stride: 1, pad: "valid" },
    { name: "5×5 same, OW 6, CO 5", x: [3, 5, 6, 1], filter: [5, 5, 1, 5], stride: 1, pad: "same" },
    {
      name: "11×11 pad 5 (two passes of taps), OW 13, CO 2",
      x: [2, 12, 13, 1],
      filter: [11, 11, 1, 2],
      stride: 1,
      pad: pad(5),
    },
    {
      name: "9×3 asymmetric explicit padding, CO 7",
      x: [2, 10, 5, 1],
      filter: [9, 3, 1, 7],
      stride: 1,
      pad: [
        [0, 0],
        [3, 1],
        [2, 0],
        [0, 0],
      ],
    },
    {
      name: "7×7 same on a 4×5 input (filter larger than the input)",
      x: [2, 4, 5, 1],
      filter: [7, 7, 1, 4],
      stride: 1,
      pad: "same",
    },
    { name: "1×3 valid, one example, OW 1", x: [1, 3, 3, 1], filter: [1, 3, 1, 1], stride: 1, pad: "valid" },
    {
      name: "5×5 valid, 6 channels, OW 3 (LeNet conv2's dx)",
      x: [2, 7, 7, 6],
      filter: [5, 5, 6, 16],
      stride: 1,
      pad: "valid",
    },
    { name: "3×3 same, 5 channels, stride 2 (col2im)", x: [2, 9, 8, 5], filter: [3, 3, 5, 3], stride: 2, pad: "same" },
    // Few input channels (the dW loop vectorized over the output channels).
    {
      name: "5×5 valid, 6 channels → 16, OW 10 (LeNet conv2's dW)",
      x: [3, 14, 14, 6],
      filter: [5, 5, 6, 16],
      stride: 1,
      pad: "valid",
    },
    { name: "5×5 valid, 2 channels → 8, OW 5", x: [2, 9, 9, 2], filter: [5, 5, 2, 8], stride: 1, pad: "valid" },
    { name: "3×3 same, 3 channels → 12, OW 7", x: [3, 6, 7, 3], filter: [3, 3, 3, 12], stride: 1, pad: "same" },
    {
      name: "5×5 pad 2, 8 channels (two passes of 4) → 20, OW 6",
      x: [2, 7, 6, 8],
      filter: [5, 5, 8, 20],
      stride: 1,
      pad: pad(2),
    },
    {
      name: "3×3 valid, 7 channels → 5 (dy padded to 8), OW 3",
      x: [3, 5, 5, 7],
      filter: [3, 3, 7, 5],
      stride: 1,
      pad: "valid",
    },
    {
      name: "4×2 asymmetric padding, 3 channels → 6, filter taller than the input",
      x: [2, 3, 5, 3],
      filter: [4, 2, 3, 6],
      stride: 1,
      pad: [
        [0, 0],
        [2, 1],
        [0, 1],
        [0, 0],
      ],
    },
    // More input channels, and 1×1 filters (the blocked matrix product).
    { name: "3×3 pad 1, 12 channels → 10", x: [3, 7, 6, 12], filter: [3, 3, 12, 10], stride: 1, pad: pad(1) },
    { name: "5×5 pad 2, 10 channels → 6", x: [3, 9, 8, 10], filter: [5, 5, 10, 6], stride: 1, pad: pad(2) },
    {
      name: "4×4 same (asymmetric padding), 11 channels → 3",
      x: [3, 7, 9, 11],
      filter: [4, 4, 11, 3],
      stride: 1,
      pad: "same",
    },
    { name: "3×3 valid, 9 channels → 5, OW 2", x: [3, 5, 4, 9], filter: [3, 3, 9, 5], stride: 1, pad: "valid" },
    {
      name: "7×7 same on a 4×5 input, 9 channels (taps outside the input)",
      x: [3, 4, 5, 9],
      filter: [7, 7, 9, 4],
      stride: 1,
      pad: "same",
    },
    { name: "1×1 stride 1, 20 channels → 7", x: [3, 5, 6, 20], filter: [1, 1, 20, 7], stride: 1, pad: "valid" },
    {
      name: "1×1 pad 1, 9 channels → 3 (a border of zeros)",
      x: [3, 4, 4, 9],
      filter: [1, 1, 9, 3],
      stride: 1,
      pad: pad(1),
    },
    // colsᵀ in 4 × 4 blocks (tapColumns): strided taps, channel and pixel counts not multiples of 4.
    {
      name: "3×3 stride 2 pad 1, 13 channels → 6, OW 5",
      x: [2, 9, 10, 13],
      filter: [3, 3, 13, 6],
      stride: 2,
      pad: pad(1),
    },
    {
      name: "5×5 stride 3 valid, 16 channels → 4, OW 4",
      x: [2, 16, 14, 16],
      filter: [5, 5, 16, 4],
      stride: 3,
      pad: "valid",
    },
    {
      name: "1×1 stride 1, 36 channels → 5, 7 × 9 pixels",
      x: [2, 7, 9, 36],
      filter: [1, 1, 36, 5],
      stride: 1,
      pad: "valid",
    },
  ];
  const CASES = [...GEOMETRIES, ...EDGES];
  const saved = { ...kernelLimits };
  afterAll(() => {
    wasmSimd.enabled = true;
    Object.assign(kernelLimits, saved);
  });

  describe.each(CASES)("$name", (g) => {
    const { dyShape, dW, dx } = convGradients(g, 51);
    const both = () => [dW(), dx()];
    const pixels = (dyShape[1] as number) * (dyShape[2] as number);
    it.each([
      { loops: "SIMD", enabled: true, limits: {} },
      { loops: "fallback", enabled: false, limits: {} },
      { loops: "SIMD, one example per chunk", enabled: true, limits: { tempBytes: 1 } },
      { loops: "fallback, one example per chunk", enabled: false, limits: { tempBytes: 1 } },
      { loops: "SIMD, product blocks of one example", enabled: true, limits: { gemmBlockPixels: 1 } },
      { loops: "SIMD, product blocks of two examples", enabled: true, limits: { gemmBlockPixels: 2 * pixels } },
    ])("dW and dx match cpu ($loops)", async ({ enabled, limits }) => {
      wasmSimd.enabled = enabled;
      Object.assign(kernelLimits, limits);
      try {
        await expectSameOnBothBackends(both);
      } finally {
        wasmSimd.enabled = true;
        Object.assign(kernelLimits, saved);
      }
    });
  });

  it("dx: the SIMD col2im gives the JavaScript col2im's bits", async () => {
    const g = EDGES[6] as Geometry;
    const dyShape = outShape(g);
    const dy = randomValues(size(dyShape), 54);
    const w = randomValues(size(g.filter), 55);
    const attrs = { strides: g.stride, pad: g.pad, dataFormat: "NHWC" as const, inputShape: g.x };
    const run = (strategy: "matmul" | "matmul-simd") => async () => {
      const [out] = await on("wasm", () =>
        runKernelFunc(
          makeConv2DBackpropInput(undefined, strategy),
          { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, g.filter) },
          attrs,
        ),
      );
      return Array.from(out as Float32Array);
    };
    expect(await run("matmul-simd")()).toEqual(await run("matmul")());
  });

  it("dW: the strategy 'simd-channels' matches cpu for any number of input channels, and auto takes it for 2 to 8", async () => {
    for (const [ci, co] of [
      [1, 4],
      [9, 8],
      [13, 6],
      [6, 16],
    ] as const) {
      const g: Geometry = { name: `${ci} channels`, x: [2, 7, 6, ci], filter: [3, 3, ci, co], stride: 1, pad: "same" };
      const dyShape = outShape(g);
      const x = randomValues(size(g.x), 56);
      const dy = randomValues(size(dyShape), 57);
      const attrs = { strides: 1, pad: g.pad, dataFormat: "NHWC" as const, filterShape: g.filter };
      const [expected] = await on(
        "cpu",
        () =>
          tf
            .engine()
            .runKernel(
              "Conv2DBackpropFilter",
              { x: tf.tensor(x, g.x), dy: tf.tensor(dy, dyShape) },
              attrs,
            ) as tf.Tensor,
      );
      const [simd] = await on("wasm", () =>
        runKernelFunc(
          makeConv2DBackpropFilter("simd-channels"),
          { x: tf.tensor(x, g.x), dy: tf.tensor(dy, dyShape) },
          attrs,
        ),
      );
      expect(relativeError(simd as Float32Array, expected as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
      if (ci === 6) {
        const [registered] = await on(
          "wasm",
          () =>
            tf
              .engine()
              .runKernel(
                "Conv2DBackpropFilter",
                { x: tf.tensor(x, g.x), dy: tf.tensor(dy, dyShape) },
                attrs,
              ) as tf.Tensor,
        );
        expect(Array.from(registered as Float32Array)).toEqual(Array.from(simd as Float32Array));
      }
    }
  });

  it("dW: auto takes the strategy 'gemm' unless stride 1 with at most 8 input channels, or a strided 1×1 filter", async () => {
    const named = (prefix: string) => [...GEOMETRIES, ...EDGES].find((e) => e.name.startsWith(prefix)) as Geometry;
    for (const g of ["3×3 pad 1, 12", "1×1 stride 1 (", "7×7 stride 2 pad 3, one", "3×3 stride 2 pad 1, more"].map(
      named,
    )) {
      const dyShape = outShape(g);
      const inputs = () => ({
        x: tf.tensor(randomValues(size(g.x), 58), g.x),
        dy: tf.tensor(randomValues(size(dyShape), 59), dyShape),
      });
      const attrs = { strides: g.stride, pad: g.pad, dataFormat: "NHWC" as const, filterShape: g.filter };
      const [gemm] = await on("wasm", () => runKernelFunc(makeConv2DBackpropFilter("gemm"), inputs(), attrs));
      const [registered] = await on(
        "wasm",
        () => tf.engine().runKernel("Conv2DBackpropFilter", inputs(), attrs) as tf.Tensor,
      );
      expect(Array.from(registered as Float32Array)).toEqual(Array.from(gemm as Float32Array));
    }
  });

  it("the strategies 'simd', 'simd-channels' and 'gemm' refuse what they cannot compute", async () => {
    await tf.setBackend("wasm");
    const x = tf.zeros([1, 6, 6, 2]);
    const dy = tf.zeros([1, 6, 6, 3]);
    const dyStrided = tf.zeros([1, 3, 3, 3]);
    expect(() =>
      runKernelFunc(
        makeConv2DBackpropFilter("simd"),
        { x, dy },
        { strides: 1, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 2, 3] },
      ),
    ).toThrow(/single input channel/);
    expect(() =>
      runKernelFunc(
        makeConv2DBackpropFilter("simd-channels"),
        { x, dy: dyStrided },
        {
          strides: 2,
          pad: "same",
          dataFormat: "NHWC",
          filterShape: [3, 3, 2, 3],
        },
      ),
    ).toThrow(/stride 1/);
    wasmSimd.enabled = false;
    try {
      expect(() =>
        runKernelFunc(
          makeConv2DBackpropFilter("gemm"),
          { x, dy: dyStrided },
          { strides: 2, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 2, 3] },
        ),
      ).toThrow(/'gemm' needs a non-empty dy and WebAssembly SIMD/);
    } finally {
      wasmSimd.enabled = true;
    }
    tf.dispose([x, dy, dyStrided]);
  });
});

/** Runs a kernel function directly on tensors (no tape) and wraps its output as a tensor. */
function runKernelFunc(kernel: tf.KernelFunc, inputs: Record<string, tf.Tensor>, attrs: object): tf.Tensor {
  const info = kernel({ inputs, attrs: attrs as tf.NamedAttrMap, backend: tf.backend() }) as tf.TensorInfo;
  return tf.engine().makeTensorFromTensorInfo(info);
}

/** Every max pooling of the networks: AlexNet/NiN 3×3 s2, VGG 2×2 s2, ResNet/GoogLeNet 3×3 s2 pad 1, GoogLeNet 3×3 s1 same. */
const POOLS: { name: string; x: [number, number, number, number]; size: number; stride: number; pad: Pad }[] = [
  { name: "3×3 stride 2 valid", x: [3, 9, 11, 4], size: 3, stride: 2, pad: "valid" },
  { name: "2×2 stride 2 valid", x: [3, 8, 6, 5], size: 2, stride: 2, pad: "valid" },
  { name: "3×3 stride 2 pad 1", x: [2, 8, 9, 6], size: 3, stride: 2, pad: pad(1) },
  { name: "3×3 stride 2 same", x: [2, 8, 8, 3], size: 3, stride: 2, pad: "same" },
  { name: "3×3 stride 1 same", x: [2, 6, 7, 5], size: 3, stride: 1, pad: "same" },
];

describe.each(POOLS)("max pooling $name", (p) => {
  // Three quarters negative: after a batch norm, or wherever pooling precedes the ReLU, whole windows
  // can be negative, the case tfjs-backend-wasm's own MaxPoolGrad gets wrong.
  const x = randomValues(size(p.x), 10).map((v) => v - 0.5);

  it("MaxPoolGrad (dx) matches cpu", async () => {
    await expectSameOnBothBackends(() =>
      tf.grad((input) => tf.sum(tf.square(tf.maxPool(input as tf.Tensor4D, p.size, p.stride, p.pad))))(
        tf.tensor4d(x, p.x),
      ),
    );
  });
});

/** LeNet's and DenseNet's 2×2 stride 2 (odd sizes leave a row unread), a 3×3 tiling, and two cases for the built-in. */
const AVERAGE_POOLS: { name: string; x: [number, number, number, number]; size: number; stride: number; pad: Pad }[] = [
  { name: "2×2 stride 2 (LeNet, DenseNet)", x: [3, 8, 6, 5], size: 2, stride: 2, pad: "valid" },
  { name: "2×2 stride 2, odd sizes", x: [2, 7, 9, 3], size: 2, stride: 2, pad: "valid" },
  { name: "3×3 stride 3", x: [2, 9, 6, 4], size: 3, stride: 3, pad: "valid" },
  { name: "3×3 stride 2, overlapping (built-in kernel)", x: [2, 9, 8, 3], size: 3, stride: 2, pad: "valid" },
  { name: "2×2 stride 2 same, padded (built-in kernel)", x: [2, 7, 7, 3], size: 2, stride: 2, pad: "same" },
];

describe.each(AVERAGE_POOLS)("average pooling $name", (p) => {
  const x = randomValues(size(p.x), 13);
  it("AvgPoolGrad (dx) matches cpu", async () => {
    await expectSameOnBothBackends(() =>
      tf.grad((input) => tf.sum(tf.square(tf.avgPool(input as tf.Tensor4D, p.size, p.stride, p.pad))))(
        tf.tensor4d(x, p.x),
      ),
    );
  });
});

describe("tfjs-backend-wasm's own MaxPoolGrad (the reason it is replaced)", () => {
  it("loses the gradient of windows whose inputs are all negative", async () => {
    const shape: [number, number, number, number] = [1, 4, 4, 2];
    const x = randomValues(16 * 2, 11).map((v) => v - 2); // all in [-3, -1)
    const dy = randomValues(2 * 2 * 2, 12);
    const attrs = { filterSize: 2, strides: 2, pad: "valid" };
    const [expected] = await on(
      "cpu",
      () =>
        tf.engine().runKernel(
          "MaxPoolGrad",
          {
            dy: tf.tensor(dy, [1, 2, 2, 2]),
            input: tf.tensor(x, shape),
            output: tf.maxPool(tf.tensor4d(x, shape), 2, 2, "valid"),
          },
          attrs,
        ) as tf.Tensor,
    );
    await tf.setBackend("wasm");
    const input = tf.tensor4d(x, shape);
    const output = tf.maxPool(input, 2, 2, "valid");
    const gradient = tf.tensor(dy, [1, 2, 2, 2]);
    const backend = tf.backend();
    const dx = builtinMaxPoolGrad({ inputs: { dy: gradient, input, output }, attrs, backend }) as tf.TensorInfo;
    const actual = backend.readSync(dx.dataId) as Float32Array;
    backend.disposeData(dx.dataId);
    tf.dispose([input, output, gradient]);
    expect(relativeError(actual, expected as Float32Array)).toBeGreaterThan(0.5);
  });
});

/**
 * MaxPoolGrad called directly with a random dy (through tf.grad, dy is the pooled value, 0 on ReLU's
 * ties, so where a tie's gradient went would not show), against cpu, once on the WebAssembly SIMD
 * loop and once on the JavaScript loop, which must give the same bits.
 */
describe("MaxPoolGrad: the SIMD and JavaScript loops", () => {
  type Window = number | [number, number];
  const CASES: { name: string; x: [number, number, number, number]; size: Window; stride: Window; pad: Pad }[] = [
    { name: "3×3 stride 1 same (GoogLeNet)", x: [2, 6, 7, 8], size: 3, stride: 1, pad: "same" },
    { name: "3×3 stride 2 valid", x: [2, 9, 11, 12], size: 3, stride: 2, pad: "valid" },
    { name: "3×3 stride 2 same, even input", x: [2, 8, 8, 4], size: 3, stride: 2, pad: "same" },
    { name: "3×3 stride 2 pad 1", x: [2, 8, 9, 16], size: 3, stride: 2, pad: pad(1) },
    {
      name: "asymmetric explicit padding",
      x: [2, 6, 7, 8],
      size: 3,
      stride: 1,
      pad: [
        [0, 0],
        [2, 0],
        [0, 1],
        [0, 0],
      ],
    },
    { name: "2×2 stride 2 valid", x: [3, 8, 6, 4], size: 2, stride: 2, pad: "valid" },
    { name: "non-square 3×2 window, strides 1×2", x: [2, 7, 9, 8], size: [3, 2], stride: [1, 2], pad: "same" },
    { name: "5×5 window wider than the input, same", x: [1, 3, 4, 4], size: 5, stride: 1, pad: "same" },
    { name: "6 channels (JavaScript loop only)", x: [2, 7, 6, 6], size: 3, stride: 2, pad: "same" },
  ];
  const INPUTS: { kind: string; values: (n: number, seed: number) => Float32Array }[] = [
    { kind: "random of both signs", values: (n, seed) => randomValues(n, seed) },
    { kind: "all zeros (every window a tie)", values: (n) => new Float32Array(n) },
    { kind: "ReLU outputs (ties at 0)", values: (n, seed) => randomValues(n, seed).map((v) => Math.max(0, v)) },
    { kind: "all negative (windows partly in padding)", values: (n, seed) => randomValues(n, seed).map((v) => v - 2) },
    {
      kind: "few distinct values (ties everywhere)",
      values: (n, seed) => randomValues(n, seed).map((v) => Math.round(v * 2)),
    },
  ];

  function maxPoolGradOf(x: Float32Array, dy: Float32Array, c: (typeof CASES)[number]): tf.Tensor {
    const input = tf.tensor4d(x, c.x);
    const output = tf.maxPool(input, c.size, c.stride, c.pad);
    return tf
      .engine()
      .runKernel(
        "MaxPoolGrad",
        { dy: tf.tensor(dy, output.shape), input, output },
        { filterSize: c.size, strides: c.stride, pad: c.pad },
      ) as tf.Tensor;
  }

  afterAll(() => {
    wasmSimd.enabled = true;
  });

  it("the SIMD module assembles and runs on this engine's wasm backend (its shared memory when threaded)", async () => {
    expect(WebAssembly.validate(assembledModuleForTests())).toBe(true);
    await tf.setBackend("wasm");
    const backend = tf.backend() as WasmBackend;
    expect(wasmSimdKernels(backend)).toBeDefined();
    const memory = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
    expect(memory instanceof SharedArrayBuffer).toBe(TEST_THREADS > 1);
  });

  describe.each(CASES)("$name", (c) => {
    it.each(INPUTS)("$kind: matches cpu, and both loops agree bit for bit", async ({ values }) => {
      const n = size(c.x);
      const x = values(n, 21);
      const outShape = tf.tidy(() => tf.maxPool(tf.zeros(c.x) as tf.Tensor4D, c.size, c.stride, c.pad).shape);
      const dy = randomValues(size(outShape), 22).map((v) => v + 1.5); // positive: nothing cancels
      const [expected] = await on("cpu", () => maxPoolGradOf(x, dy, c));
      wasmSimd.enabled = true;
      const [simd] = await on("wasm", () => maxPoolGradOf(x, dy, c));
      wasmSimd.enabled = false;
      const [loop] = await on("wasm", () => maxPoolGradOf(x, dy, c));
      wasmSimd.enabled = true;
      expect(relativeError(simd as Float32Array, expected as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
      expect(relativeError(loop as Float32Array, expected as Float32Array)).toBeLessThanOrEqual(TOLERANCE);
      expect(Array.from(simd as Float32Array)).toEqual(Array.from(loop as Float32Array));
    });
  });

  it("drops the gradient of an all-NaN window and never sends dy to a NaN", async () => {
    // One image 2×4, one 2×2 window per half: left all NaN, right NaN then 1 then NaN then 0.
    const c = {
      name: "NaN",
      x: [1, 2, 4, 4] as [number, number, number, number],
      size: 2,
      stride: 2,
      pad: "valid" as Pad,
    };
    const x = new Float32Array(32).fill(Number.NaN);
    for (let ch = 0; ch < 4; ch++) {
      x[(0 * 4 + 3) * 4 + ch] = 1; // (0, 3)
      x[(1 * 4 + 2) * 4 + ch] = 0; // (1, 2)
    }
    const dy = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const [expected] = await on("cpu", () => maxPoolGradOf(x, dy, c));
    for (const enabled of [true, false]) {
      wasmSimd.enabled = enabled;
      const [actual] = await on("wasm", () => maxPoolGradOf(x, dy, c));
      expect(Array.from(actual as Float32Array)).toEqual(Array.from(expected as Float32Array));
      expect(Array.from((actual as Float32Array).slice(12, 16))).toEqual([5, 6, 7, 8]); // the right window's 1
    }
    wasmSimd.enabled = true;
  });
});

/**
 * Values of any dtype made directly (tfjs-backend-wasm 4.22's Cast to bool keeps the low byte of the
 * truncated integer: −2.5 becomes 254, 0.2 false).
 */
function typedTensor(shape: number[], dtype: tf.DataType, seed: number): tf.Tensor {
  const values = randomValues(size(shape), seed);
  if (dtype === "bool")
    return tf.tensor(
      Array.from(values, (v) => v > 0),
      shape,
      "bool",
    );
  if (dtype === "int32")
    return tf.tensor(
      Int32Array.from(values, (v) => Math.round(v * 1000)),
      shape,
      "int32",
    );
  return tf.tensor(values, shape, dtype);
}

/** Exact equality of every output on both backends (copies: nothing to round), any dtype. */
async function expectIdenticalOnBothBackends(compute: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const expected = await on("cpu", compute);
  const actual = await on("wasm", compute);
  expect(actual.map((a) => Array.from(a))).toEqual(expected.map((e) => Array.from(e)));
}

describe("SplitV", () => {
  const cases: { shape: number[]; sizes: number[] | number; axis: number; dtype: tf.DataType }[] = [
    { shape: [3, 4, 4, 30], sizes: [8, 12, 6, 4], axis: 3, dtype: "float32" }, // GoogLeNet's concat gradient
    { shape: [3, 4, 4, 30], sizes: [8, -1, 4], axis: -1, dtype: "float32" },
    { shape: [3, 5, 4, 6], sizes: [2, 3], axis: 1, dtype: "float32" },
    { shape: [4, 5, 6], sizes: 3, axis: 2, dtype: "int32" },
    { shape: [6, 5, 4], sizes: [1, 0, 5], axis: 0, dtype: "float32" },
    { shape: [6, 7], sizes: [3, 4], axis: 1, dtype: "bool" },
    { shape: [10], sizes: [3, 7], axis: 0, dtype: "float32" },
  ];
  it.each(cases)("$sizes of $shape along $axis ($dtype) matches cpu exactly", async ({ shape, sizes, axis, dtype }) => {
    await expectIdenticalOnBothBackends(() => tf.split(typedTensor(shape, dtype, 31), sizes, axis));
  });

  it("the gradient of a channel concat matches cpu", async () => {
    const parts = [8, 12, 4].map((c, i) => randomValues(2 * 3 * 3 * c, 40 + i));
    await expectSameOnBothBackends(() =>
      tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.square(tf.concat([a, b, c], 3))))(
        parts.map((p, i) => tf.tensor4d(p, [2, 3, 3, [8, 12, 4][i] as number])),
      ),
    );
  });

  it("leaves strings to the built-in kernel", async () => {
    await tf.setBackend("wasm");
    // tf.split takes numeric tensors only: the kernel directly.
    const x = tf.tensor(["a", "b", "c", "d", "e", "f"], [2, 3]);
    const [a, b] = tf.engine().runKernel("SplitV", { x }, { numOrSizeSplits: [1, 2], axis: 1 }) as [
      tf.Tensor,
      tf.Tensor,
    ];
    expect(a.arraySync()).toEqual([["a"], ["d"]]);
    expect(b.arraySync()).toEqual([
      ["b", "c"],
      ["e", "f"],
    ]);
    tf.dispose([x, a, b]);
  });
});

/** The two ways copyRuns (wasm.ts) copies: one `memory.copy` per run in the SIMD module, or `copyWithin`. */
const COPY_PATHS = [
  { loops: "SIMD", enabled: true },
  { loops: "copyWithin", enabled: false },
];

/** Runs `check` with the SIMD module switched on or off, and switches it back on after. */
async function withWasmSimd(enabled: boolean, check: () => Promise<void>): Promise<void> {
  wasmSimd.enabled = enabled;
  try {
    await check();
  } finally {
    wasmSimd.enabled = true;
  }
}

describe("Concat", () => {
  const cases: { shapes: number[][]; axis: number; dtype: tf.DataType }[] = [
    {
      shapes: [
        [3, 4, 4, 16],
        [3, 4, 4, 8],
      ],
      axis: 3,
      dtype: "float32",
    }, // DenseNet's
    {
      shapes: [
        [2, 3, 3, 8],
        [2, 3, 3, 12],
        [2, 3, 3, 4],
        [2, 3, 3, 6],
      ],
      axis: -1,
      dtype: "float32",
    }, // GoogLeNet's
    {
      shapes: [
        [3, 2, 4, 5],
        [3, 3, 4, 5],
      ],
      axis: 1,
      dtype: "float32",
    },
    {
      shapes: [
        [2, 5],
        [4, 5],
        [1, 5],
      ],
      axis: 0,
      dtype: "int32",
    },
    {
      shapes: [
        [4, 3],
        [4, 0],
        [4, 2],
      ],
      axis: 1,
      dtype: "float32",
    },
    {
      shapes: [
        [3, 2],
        [3, 5],
      ],
      axis: 1,
      dtype: "bool",
    },
  ];
  describe.each(COPY_PATHS)("$loops", ({ enabled }) => {
    it.each(cases)("$shapes along $axis ($dtype) matches cpu exactly", async ({ shapes, axis, dtype }) => {
      await withWasmSimd(enabled, () =>
        expectIdenticalOnBothBackends(() =>
          tf.concat(
            shapes.map((shape, i) => typedTensor(shape, dtype, 60 + i)),
            axis,
          ),
        ),
      );
    });
  });

  it("leaves strings and a single input to the built-in kernel", async () => {
    await tf.setBackend("wasm");
    const a = tf.tensor([["a"], ["b"]]);
    const b = tf.tensor([["c"], ["d"]]);
    const joined = tf.concat([a, b], 1);
    expect(joined.arraySync()).toEqual([
      ["a", "c"],
      ["b", "d"],
    ]);
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const alone = tf.concat([x, tf.zeros([2, 0])], 1);
    expect(alone.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    tf.dispose([a, b, joined, x, alone]);
  });
});

describe("Slice", () => {
  const cases: { shape: number[]; begin: number[]; size: number[]; dtype: tf.DataType }[] = [
    { shape: [3, 7, 8, 5], begin: [0, 1, 1, 0], size: [3, 5, 6, 5], dtype: "float32" }, // the gradient of pad 1
    { shape: [3, 7, 8, 5], begin: [0, 3, 3, 0], size: [-1, 2, 2, -1], dtype: "float32" },
    { shape: [3, 7, 8, 5], begin: [0, 0, 0, 1], size: [3, 7, 8, 3], dtype: "float32" }, // last axis cropped
    { shape: [3, 7, 8, 5], begin: [0, 2, 1, 4], size: [2, 3, 4, 1], dtype: "int32" },
    { shape: [6, 7, 8, 5], begin: [2, 0, 0, 0], size: [3, 7, 8, 5], dtype: "float32" }, // one contiguous run
    { shape: [6, 7], begin: [1, 2], size: [3, 4], dtype: "bool" },
    { shape: [9], begin: [2], size: [5], dtype: "float32" },
    { shape: [2, 3, 4, 5, 6], begin: [1, 0, 1, 2, 0], size: [1, 3, 2, 3, 6], dtype: "int32" },
    { shape: [2, 3, 4, 5, 6], begin: [0, 1, 0, 0, 1], size: [2, 2, 4, 5, 4], dtype: "float32" },
  ];
  describe.each(COPY_PATHS)("$loops", ({ enabled }) => {
    it.each(cases)(
      "$begin/$size of $shape ($dtype) matches cpu exactly",
      async ({ shape, begin, size: extent, dtype }) => {
        await withWasmSimd(enabled, () =>
          expectIdenticalOnBothBackends(() => tf.slice(typedTensor(shape, dtype, 33), begin, extent)),
        );
      },
    );
  });

  it("the gradient of explicit zero padding matches cpu", async () => {
    const values = randomValues(2 * 5 * 6 * 4, 34);
    await expectSameOnBothBackends(() =>
      tf.grad((x: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.pad(x, [
              [0, 0],
              [1, 2],
              [3, 1],
              [0, 0],
            ]),
          ),
        ),
      )(tf.tensor4d(values, [2, 5, 6, 4])),
    );
  });

  it("leaves strings and empty slices to the built-in kernel", async () => {
    await tf.setBackend("wasm");
    const s = tf.slice(tf.tensor(["a", "b", "c", "d"], [2, 2]), [1, 0], [1, 2]);
    expect(s.arraySync()).toEqual([["c", "d"]]);
    const empty = tf.slice(tf.ones([3, 4]), [1, 1], [0, 2]);
    expect(empty.shape).toEqual([0, 2]);
    tf.dispose([s, empty]);
  });
});

describe("BatchMatMul", () => {
  const cases: [string, number[], number[], boolean, boolean][] = [
    ["plain (dense forward)", [12, 20], [20, 7], false, false],
    ["transposeB (dense dx = dy·Wᵀ)", [12, 7], [20, 7], false, true],
    ["transposeA (dense dW = xᵀ·dy)", [12, 20], [12, 7], true, false],
    ["both transposed", [20, 12], [7, 20], true, true],
    ["rank 3, batch 1, transposeA", [1, 9, 6], [1, 9, 5], true, false],
    ["batched (batch 3, built-in kernel), transposeB", [3, 4, 6], [3, 5, 6], false, true],
  ];
  it.each(cases)("%s matches cpu", async (_name, aShape, bShape, transposeA, transposeB) => {
    const a = randomValues(size(aShape), 8);
    const b = randomValues(size(bShape), 9);
    await expectSameOnBothBackends(() => tf.matMul(tf.tensor(a, aShape), tf.tensor(b, bShape), transposeA, transposeB));
  });
});

describe("end to end", () => {
  it("tf.variableGrads of a small conv net's softmax cross-entropy loss equals cpu's", async () => {
    // Every op family of the networks: conv2d (strided, padded, 1×1), fused conv + relu, sigmoid, avg and
    // max pooling, a from-scratch batch norm, concat, residual add, global average pooling, dense,
    // softmax cross-entropy. (Dropout is random per backend, so it is left out.)
    const shapes: Record<string, number[]> = {
      c1: [5, 5, 1, 6],
      c2: [3, 3, 6, 8],
      c3: [1, 1, 6, 4],
      c4: [3, 3, 12, 12],
      b4: [12],
      gamma: [12],
      beta: [12],
      d1: [12, 10],
      bd1: [10],
    };
    const init = Object.fromEntries(
      Object.entries(shapes).map(([name, shape], i) => [name, randomValues(size(shape), 20 + i).map((v) => v * 0.5)]),
    );
    const images = randomValues(6 * 16 * 16, 30).map((v) => (v + 1) / 2);
    const labels = [0, 3, 9, 1, 3, 7];

    const gradients = () => {
      const p = Object.fromEntries(
        Object.entries(shapes).map(([name, shape]) => [
          name,
          tf.variable(tf.tensor(init[name] as Float32Array, shape), true, `${name}_${tf.getBackend()}`),
        ]),
      ) as Record<string, tf.Variable>;
      const xs = tf.tensor4d(images, [6, 16, 16, 1]);
      const ys = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
      const { grads, value } = tf.variableGrads(() => {
        let h = tf.sigmoid(tf.conv2d(xs, p.c1 as tf.Tensor4D, 1, "same")); // [6,16,16,6]
        h = tf.avgPool(h, 2, 2, "valid"); // [6,8,8,6]
        const a = tf.relu(tf.conv2d(h, p.c2 as tf.Tensor4D, 2, pad(1))); // [6,4,4,8]
        const b = tf.conv2d(h, p.c3 as tf.Tensor4D, 2, "valid"); // [6,4,4,4]
        const cat = tf.concat([a, b], 3); // [6,4,4,12]
        let c = tf.fused.conv2d({
          x: cat,
          filter: p.c4 as tf.Tensor4D,
          strides: 1,
          pad: "same",
          bias: p.b4,
          activation: "relu",
        });
        const mean = tf.mean(c, [0, 1, 2], true);
        const variance = tf.mean(tf.square(tf.sub(c, mean)), [0, 1, 2], true);
        c = tf.add(
          tf.mul(p.gamma as tf.Tensor, tf.mul(tf.sub(c, mean), tf.rsqrt(tf.add(variance, 1e-5)))),
          p.beta as tf.Tensor,
        );
        c = tf.add(c, cat); // residual
        c = tf.maxPool(c as tf.Tensor4D, 3, 2, "same"); // [6,2,2,12]
        const pooled = tf.mean(c, [1, 2]); // global average pooling
        const logits = tf.add(tf.matMul(pooled, p.d1 as tf.Tensor2D), p.bd1 as tf.Tensor);
        return tf.losses.softmaxCrossEntropy(ys, logits) as tf.Scalar;
      });
      const out = [value, ...Object.values(p).map((v) => grads[v.name] as tf.Tensor)];
      tf.dispose(Object.values(p));
      return out;
    };
    await expectSameOnBothBackends(gradients);
  });
});
