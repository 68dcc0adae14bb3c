/**
 * The wasm kernels convnets registers, each against the pure-JS cpu backend (same tfjs-core) on random
 * data, over every convolution geometry the seven networks use.
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
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from "../src/kernels/index.js";
import { kernelLimits } from "../src/kernels/wasm.js";

const TOLERANCE = 1e-4;

let wasmHadFilterGradient: boolean;
let builtinMaxPoolGrad: tf.KernelFunc;
beforeAll(async () => {
  await tf.setBackend("wasm");
  await tf.ready();
  wasmHadFilterGradient = tf.getKernel("Conv2DBackpropFilter", "wasm") !== undefined;
  builtinMaxPoolGrad = (tf.getKernel("MaxPoolGrad", "wasm") as tf.KernelConfig).kernelFunc;
  registerWasmTrainingKernels();
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

/**
 * Runs `compute` on a backend and returns its result as plain numbers. Checks that nothing leaked: the
 * kernels' temporaries live below the engine (backend data ids), so both counts are compared.
 */
async function on(backend: "cpu" | "wasm", compute: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  const results = tf.tidy(compute);
  const list = Array.isArray(results) ? results : [results];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.backend().numDataIds()).toBe(dataIds);
  return values;
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
  { name: "5×5 stride 1 same, one channel (LeNet conv1)", x: [3, 12, 10, 1], filter: [5, 5, 1, 6], stride: 1, pad: "same" },
  { name: "3×3 stride 1 valid, one channel", x: [3, 9, 8, 1], filter: [3, 3, 1, 4], stride: 1, pad: "valid" },
  { name: "4×4 stride 1 same (asymmetric padding), one channel", x: [3, 7, 9, 1], filter: [4, 4, 1, 3], stride: 1, pad: "same" },
  { name: "5×5 stride 1 same, two channels", x: [3, 11, 9, 2], filter: [5, 5, 2, 4], stride: 1, pad: "same" },
  { name: "5×5 stride 1 valid (LeNet conv2)", x: [3, 12, 10, 3], filter: [5, 5, 3, 5], stride: 1, pad: "valid" },
  { name: "11×11 stride 4 pad 1, one channel, rows left unread (AlexNet)", x: [3, 39, 35, 1], filter: [11, 11, 1, 4], stride: 4, pad: pad(1) },
  { name: "11×11 stride 4 pad 1, three channels", x: [2, 39, 35, 3], filter: [11, 11, 3, 4], stride: 4, pad: pad(1) },
  { name: "7×7 stride 2 pad 3, one channel (stems)", x: [3, 16, 13, 1], filter: [7, 7, 1, 6], stride: 2, pad: pad(3) },
  { name: "7×7 stride 2 pad 3, three channels", x: [2, 15, 15, 3], filter: [7, 7, 3, 5], stride: 2, pad: pad(3) },
  { name: "5×5 pad 2 (NiN, GoogLeNet)", x: [3, 10, 11, 4], filter: [5, 5, 4, 6], stride: 1, pad: pad(2) },
  { name: "5×5 numeric pad 2", x: [2, 9, 9, 3], filter: [5, 5, 3, 4], stride: 1, pad: 2 },
  { name: "3×3 pad 1 (VGG, ResNet, DenseNet)", x: [4, 9, 8, 5], filter: [3, 3, 5, 7], stride: 1, pad: pad(1) },
  { name: "3×3 stride 2 pad 1 (ResNet downsampling)", x: [4, 9, 10, 5], filter: [3, 3, 5, 6], stride: 2, pad: pad(1) },
  { name: "3×3 stride 2 pad 1, more channels", x: [2, 8, 8, 16], filter: [3, 3, 16, 12], stride: 2, pad: pad(1) },
  { name: "3×3 stride 2 same, even input (TF's asymmetric padding)", x: [3, 8, 10, 4], filter: [3, 3, 4, 5], stride: 2, pad: "same" },
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

  it("registers Conv2DBackpropFilter, a correct MaxPoolGrad and ten faster kernels, idempotently", () => {
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

describe.each(GEOMETRIES)("conv2d $name", (g) => {
  const dyShape = outShape(g);
  const x = randomValues(size(g.x), 1);
  const w = randomValues(size(g.filter), 2);
  const dy = randomValues(size(dyShape), 3);
  const attrs = { strides: g.stride, pad: g.pad, dataFormat: "NHWC" as const };

  it("Conv2DBackpropFilter (dW) matches cpu", async () => {
    await expectSameOnBothBackends(() =>
      tf.engine().runKernel("Conv2DBackpropFilter", { x: tf.tensor(x, g.x), dy: tf.tensor(dy, dyShape) }, {
        ...attrs,
        filterShape: g.filter,
      }) as tf.Tensor,
    );
  });

  it("Conv2DBackpropInput (dx) matches cpu", async () => {
    await expectSameOnBothBackends(() =>
      tf.engine().runKernel("Conv2DBackpropInput", { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, g.filter) }, {
        ...attrs,
        inputShape: g.x,
      }) as tf.Tensor,
    );
  });
});

describe("batches split in chunks to bound temporaries", () => {
  const saved = kernelLimits.tempBytes;
  beforeAll(() => {
    kernelLimits.tempBytes = 1; // one example per chunk
  });
  afterAll(() => {
    kernelLimits.tempBytes = saved;
  });

  const split = GEOMETRIES.filter((g) => (g.stride > 1 || g.x[3] === 1) && g.x[0] > 2);
  it.each(split)("$name: dW and dx add up the chunks exactly as one pass would", async (g) => {
    const dyShape = outShape(g);
    const x = randomValues(size(g.x), 4);
    const w = randomValues(size(g.filter), 5);
    const dy = randomValues(size(dyShape), 6);
    const attrs = { strides: g.stride, pad: g.pad, dataFormat: "NHWC" as const };
    await expectSameOnBothBackends(() => [
      tf.engine().runKernel("Conv2DBackpropFilter", { x: tf.tensor(x, g.x), dy: tf.tensor(dy, dyShape) }, {
        ...attrs,
        filterShape: g.filter,
      }) as tf.Tensor,
      tf.engine().runKernel("Conv2DBackpropInput", { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, g.filter) }, {
        ...attrs,
        inputShape: g.x,
      }) as tf.Tensor,
    ]);
  });
});

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
        tf.engine().runKernel("Conv2DBackpropInput", { dy: tf.tensor(dy, dyShape), filter: tf.tensor(w, filter) }, {
          strides: 1,
          pad: g.pad,
          dataFormat: "NHWC",
          inputShape: x,
        }) as tf.Tensor,
    );
  });
});

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
      tf.grad((input) => tf.sum(tf.square(tf.maxPool(input as tf.Tensor4D, p.size, p.stride, p.pad))))(tf.tensor4d(x, p.x)),
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
      tf.grad((input) => tf.sum(tf.square(tf.avgPool(input as tf.Tensor4D, p.size, p.stride, p.pad))))(tf.tensor4d(x, p.x)),
    );
  });
});

describe("tfjs-backend-wasm's own MaxPoolGrad (the reason it is replaced)", () => {
  it("loses the gradient of windows whose inputs are all negative", async () => {
    const shape: [number, number, number, number] = [1, 4, 4, 2];
    const x = randomValues(16 * 2, 11).map((v) => v - 2); // all in [-3, -1)
    const dy = randomValues(2 * 2 * 2, 12);
    const attrs = { filterSize: 2, strides: 2, pad: "valid" };
    const [expected] = await on("cpu", () =>
      tf.engine().runKernel(
        "MaxPoolGrad",
        { dy: tf.tensor(dy, [1, 2, 2, 2]), input: tf.tensor(x, shape), output: tf.maxPool(tf.tensor4d(x, shape), 2, 2, "valid") },
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
        let c = tf.fused.conv2d({ x: cat, filter: p.c4 as tf.Tensor4D, strides: 1, pad: "same", bias: p.b4, activation: "relu" });
        const mean = tf.mean(c, [0, 1, 2], true);
        const variance = tf.mean(tf.square(tf.sub(c, mean)), [0, 1, 2], true);
        c = tf.add(tf.mul(p.gamma as tf.Tensor, tf.mul(tf.sub(c, mean), tf.rsqrt(tf.add(variance, 1e-5)))), p.beta as tf.Tensor);
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
