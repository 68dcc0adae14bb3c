/**
 * Every kernel the eight networks train with, forward and backward, on the webgpu engine against tfjs's
 * reference cpu backend (same tfjs-core, same inputs): relative error ≤ 1e-5, measured as max |Δ| / max |cpu|.
 * On CI the adapter is lavapipe (Mesa's Vulkan software rasteriser; `scripts/prepare-test-machine.sh`, which `pnpm test` runs first).
 */
import "@tensorflow/tfjs-backend-cpu";
// tfjs-layers' node bundle registers tfjs-core's gradient functions (tfjs-core alone registers none).
import "@tensorflow/tfjs-layers";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { setupEngine } from "../src/index.js";
import { randomValues, relativeError, SKIP_WEBGPU } from "./webgpu-helpers.js";

const TOLERANCE = 1e-5;

/** Runs `compute` (inside a tidy) on a backend and reads its results asynchronously, the only way webgpu allows. */
async function on(backend: "cpu" | "webgpu", compute: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
  // The cpu backend greets its first tensor with a banner recommending tfjs-node.
  if (backend === "cpu") (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  const before = tf.memory().numTensors;
  const results = tf.tidy(compute);
  const list = Array.isArray(results) ? results : [results];
  const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(list);
  expect(tf.memory().numTensors).toBe(before);
  return values;
}

async function expectSameAsCpu(compute: () => tf.Tensor | tf.Tensor[]): Promise<void> {
  const expected = await on("cpu", compute);
  const actual = await on("webgpu", compute);
  expect(actual).toHaveLength(expected.length);
  for (const [i, e] of expected.entries())
    expect(relativeError(actual[i]!, e), `output ${i}`).toBeLessThanOrEqual(TOLERANCE);
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const tensor = (shape: number[], seed: number) => tf.tensor(randomValues(size(shape), seed), shape);

type Pad = "same" | "valid" | [[0, 0], [number, number], [number, number], [0, 0]];
const pad = (p: number): Pad => [
  [0, 0],
  [p, p],
  [p, p],
  [0, 0],
];

/** Every (kernel, stride, padding) of the eight networks' convolutions, on small inputs. */
const CONVOLUTIONS: { name: string; x: number[]; filter: number[]; stride: number; pad: Pad }[] = [
  {
    name: "5×5 stride 1 same, one channel (LeNet conv1)",
    x: [3, 12, 10, 1],
    filter: [5, 5, 1, 6],
    stride: 1,
    pad: "same",
  },
  { name: "5×5 stride 1 valid (LeNet conv2)", x: [3, 12, 10, 3], filter: [5, 5, 3, 5], stride: 1, pad: "valid" },
  { name: "11×11 stride 4 pad 1 (AlexNet conv1)", x: [2, 39, 35, 1], filter: [11, 11, 1, 4], stride: 4, pad: pad(1) },
  {
    name: "7×7 stride 2 pad 3 (GoogLeNet, ResNet, DenseNet stems)",
    x: [3, 16, 13, 1],
    filter: [7, 7, 1, 6],
    stride: 2,
    pad: pad(3),
  },
  { name: "5×5 pad 2 (AlexNet, NiN, GoogLeNet)", x: [3, 10, 11, 4], filter: [5, 5, 4, 6], stride: 1, pad: pad(2) },
  { name: "3×3 pad 1 (VGG, ResNet, DenseNet)", x: [4, 9, 8, 5], filter: [3, 3, 5, 7], stride: 1, pad: pad(1) },
  {
    name: "3×3 stride 2 pad 1 (ResNet downsampling)",
    x: [2, 8, 8, 16],
    filter: [3, 3, 16, 12],
    stride: 2,
    pad: pad(1),
  },
  { name: "1×1 stride 1 (NiN, GoogLeNet, DenseNet)", x: [4, 6, 5, 8], filter: [1, 1, 8, 3], stride: 1, pad: "valid" },
  { name: "1×1 stride 2 (ResNet shortcut)", x: [4, 7, 6, 5], filter: [1, 1, 5, 9], stride: 2, pad: "valid" },
];

/** Max and average pools of the eight networks. */
const POOLS: { name: string; kind: "max" | "avg"; x: number[]; size: number; stride: number; pad: Pad }[] = [
  {
    name: "average 2×2 stride 2 (LeNet, DenseNet transitions)",
    kind: "avg",
    x: [3, 8, 6, 5],
    size: 2,
    stride: 2,
    pad: "valid",
  },
  { name: "max 2×2 stride 2 (VGG)", kind: "max", x: [3, 8, 6, 5], size: 2, stride: 2, pad: "valid" },
  { name: "max 3×3 stride 2 (AlexNet, NiN)", kind: "max", x: [3, 9, 11, 4], size: 3, stride: 2, pad: "valid" },
  {
    name: "max 3×3 stride 2 pad 1 (GoogLeNet, ResNet, DenseNet)",
    kind: "max",
    x: [2, 8, 9, 6],
    size: 3,
    stride: 2,
    pad: "same",
  },
  {
    name: "max 3×3 stride 1 same (GoogLeNet's inception branch)",
    kind: "max",
    x: [2, 6, 7, 5],
    size: 3,
    stride: 1,
    pad: "same",
  },
];

describe.skipIf(SKIP_WEBGPU)("webgpu kernels against the cpu backend", () => {
  beforeAll(async () => {
    await setupEngine("webgpu");
  });

  describe.each(CONVOLUTIONS)("Conv2D $name", (c) => {
    // A loss that weights each output differently, so that dx and dW are not symmetric sums.
    const weights = () =>
      tensor(
        [
          c.x[0]!,
          ...tf.backend_util
            .computeConv2DInfo(c.x as never, c.filter as never, c.stride, 1, c.pad as never)
            .outShape.slice(1),
        ],
        3,
      );
    it("forward, dx (Conv2DBackpropInput) and dW (Conv2DBackpropFilter)", async () => {
      await expectSameAsCpu(() => {
        const x = tensor(c.x, 1);
        const w = tensor(c.filter, 2);
        const loss = (a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), weights()));
        const [dx, dw] = tf.grads(loss)([x, w]);
        return [tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), dx!, dw!];
      });
    });
    it("fused with bias and ReLU (fuseConvolutionRelu's kernel), forward and gradients", async () => {
      await expectSameAsCpu(() => {
        const x = tensor(c.x, 4);
        const w = tensor(c.filter, 5);
        const b = tensor([c.filter[3]!], 6);
        const fused = (a: tf.Tensor, f: tf.Tensor, bias: tf.Tensor) =>
          tf.fused.conv2d({
            x: a as tf.Tensor4D,
            filter: f as tf.Tensor4D,
            strides: c.stride,
            pad: c.pad,
            bias,
            activation: "relu",
          });
        const [dx, dw, db] = tf.grads((a, f, bias) => tf.sum(tf.mul(fused(a!, f!, bias!), weights())))([x, w, b]);
        return [fused(x, w, b), dx!, dw!, db!];
      });
    });
  });

  describe.each(POOLS)("pooling $name", (p) => {
    it("forward and gradient", async () => {
      await expectSameAsCpu(() => {
        // Shifted: whole windows negative, as after a BatchNorm.
        const x = tf.sub(tensor(p.x, 10), 0.5) as tf.Tensor4D;
        const pool = (a: tf.Tensor) =>
          p.kind === "max"
            ? tf.maxPool(a as tf.Tensor4D, p.size, p.stride, p.pad)
            : tf.avgPool(a as tf.Tensor4D, p.size, p.stride, p.pad);
        return [pool(x), tf.grad((a) => tf.sum(tf.square(pool(a))))(x)];
      });
    });
  });

  it("MatMul (dense layers), forward and both gradients", async () => {
    await expectSameAsCpu(() => {
      const a = tensor([16, 120], 20);
      const b = tensor([120, 84], 21);
      const [da, db] = tf.grads((x, y) => tf.sum(tf.square(tf.matMul(x!, y!))))([a, b]);
      return [tf.matMul(a, b), da!, db!];
    });
  });

  // A dense layer's input gradient dy · Wᵀ at AlexNet's and VGG's width, small batch: the product tfjs-backend-webgpu
  // 4.22 gets wrong (relative error 1.5) in its split-K program unless core's BatchMatMul fix is registered.
  it.each([
    [4, 4096, 256],
    [32, 4096, 32],
    [4, 2048, 4096],
  ])(
    "MatMul with transposeB (a dense layer's input gradient) at m=%i, k=%i, n=%i, and gradients at that width",
    async (m, k, n) => {
      await expectSameAsCpu(() => {
        const dy = tensor([m, k], 22);
        const w = tensor([n, k], 23);
        const x = tensor([m, n], 24);
        const [dx, dw] = tf.grads((a, b) => tf.sum(tf.square(tf.matMul(a!, b!, false, true))))([x, tensor([k, n], 25)]);
        return [tf.matMul(dy, w, false, true), dx!, dw!];
      });
    },
  );

  it("ReLU, sigmoid, add (residual), multiply (dropout mask) and their gradients", async () => {
    await expectSameAsCpu(() => {
      const x = tensor([4, 5, 5, 6], 30);
      const y = tensor([4, 5, 5, 6], 31);
      const mask = tf.cast(tf.greater(tensor([4, 5, 5, 6], 32), 0), "float32");
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.mul(tf.add(tf.relu(a), tf.sigmoid(b)), mask);
      const [dx, dy] = tf.grads((a, b) => tf.sum(tf.square(f(a!, b!))))([x, y]);
      return [f(x, y), dx!, dy!];
    });
  });

  it("channel concat (inception, dense blocks), explicit padding and flatten, with gradients", async () => {
    await expectSameAsCpu(() => {
      const a = tensor([2, 6, 6, 3], 40);
      const b = tensor([2, 6, 6, 5], 41);
      const f = (x: tf.Tensor, y: tf.Tensor) =>
        tf.reshape(
          tf.pad(tf.concat([x, y], 3), [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]),
          [2, -1],
        );
      const [da, db] = tf.grads((x, y) => tf.sum(tf.square(f(x!, y!))))([a, b]);
      return [f(a, b), da!, db!];
    });
  });

  it("batch statistics (moments), mean over the spatial axes (global average pooling) and their gradients", async () => {
    await expectSameAsCpu(() => {
      const x = tensor([6, 5, 4, 7], 50);
      const f = (a: tf.Tensor) => {
        const { mean, variance } = tf.moments(a, [0, 1, 2]);
        const normalised = tf.mul(tf.sub(a, mean), tf.rsqrt(tf.add(variance, 1e-5)));
        return tf.mean(normalised, [1, 2]);
      };
      return [f(x), tf.grad((a) => tf.sum(tf.square(tf.mul(f(a), tensor([6, 7], 51)))))(x)];
    });
  });

  it("softmax cross-entropy on logits, its gradient, and the argmax evaluation reads", async () => {
    await expectSameAsCpu(() => {
      const logits = tf.mul(tensor([32, 10], 60), 4);
      const labels = tf.oneHot(
        tf.tensor1d(
          Array.from({ length: 32 }, (_, i) => (i * 7) % 10),
          "int32",
        ),
        10,
      );
      const loss = (l: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, l) as tf.Scalar;
      return [loss(logits), tf.grad(loss)(logits), tf.cast(tf.argMax(logits, 1), "float32")];
    });
  });
});
