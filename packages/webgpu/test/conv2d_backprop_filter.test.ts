/**
 * Conv2DBackpropFilter (split-K tiled product) at the networks' recipe shapes against the same sum on the CPU:
 * max |Δ| / max |reference| ≤ 1e-4. x is image-like (≥ 0) and dy centred on 0, as in a training step, so the
 * long reductions cancel as they do there. The reference is the sum in float64 JavaScript loops; tfjs's cpu
 * backend, which also accumulates in JavaScript numbers, matches it to 4e-8 on AlexNet's first layer (the last
 * test, which runs it), but takes ~40 s for 60 million multiply-adds on 2 cores, too slow for every case.
 *
 * Recipe batches are 256 (LeNet) and 128 (the others; d2l's recipes). Where a case runs a smaller batch or fewer
 * channels, so that the cpu backend's JavaScript loops and lavapipe (software Vulkan on 2 cores) stay within a
 * few seconds, its `note` says what it keeps: the reduction length K = batch × outHeight × outWidth of the
 * recipe, or the map size (the 2×2 and 1×1 maps of ResNet-18 at 28×28).
 */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { replacedKernel, splitK } from "../src/index.js";
import { on, randomValues, relativeError, type Webgpu, webgpu } from "./setup.js";

type Pad = "same" | "valid" | number;

interface Case {
  name: string;
  x: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: Pad;
  note: string;
}

const CASES: Case[] = [
  {
    name: "LeNet conv1, 5×5 same, 1 → 6 at 28×28",
    x: [256, 28, 28, 1],
    filter: [5, 5, 1, 6],
    stride: 1,
    pad: "same",
    note: "recipe batch 256: K = 200,704",
  },
  {
    name: "LeNet conv2, 5×5 valid, 6 → 16 at 14×14",
    x: [256, 14, 14, 6],
    filter: [5, 5, 6, 16],
    stride: 1,
    pad: "valid",
    note: "recipe batch 256: K = 25,600",
  },
  {
    name: "AlexNet conv1, 11×11 stride 4 pad 1 at 65×65 (the H200 finding's layer)",
    x: [128, 65, 65, 1],
    filter: [11, 11, 1, 96],
    stride: 4,
    pad: 1,
    note: "recipe batch 128 at AlexNet's smallest input: K = 28,800",
  },
  {
    name: "AlexNet conv1 at 224×224",
    x: [4, 224, 224, 1],
    filter: [11, 11, 1, 96],
    stride: 4,
    pad: 1,
    note: "batch 4 (recipe 128): the 54×54 map, K = 11,664",
  },
  {
    name: "AlexNet conv2, 5×5 pad 2 at 26×26",
    x: [4, 26, 26, 16],
    filter: [5, 5, 16, 32],
    stride: 1,
    pad: 2,
    note: "batch 4, 16 → 32 channels (recipe 96 → 256): the 26×26 map",
  },
  {
    name: "VGG-11 conv1, 3×3 pad 1, 1 → 64 at 224×224",
    x: [4, 224, 224, 1],
    filter: [3, 3, 1, 64],
    stride: 1,
    pad: 1,
    note: "batch 4 (recipe 128): the 224×224 map, K = 200,704",
  },
  {
    name: "NiN / GoogLeNet 1×1, 192 → 64 at 12×12",
    x: [32, 12, 12, 192],
    filter: [1, 1, 192, 64],
    stride: 1,
    pad: "valid",
    note: "batch 32 (recipe 128)",
  },
  {
    name: "GoogLeNet / ResNet / DenseNet stem, 7×7 stride 2 pad 3 at 96×96",
    x: [16, 96, 96, 1],
    filter: [7, 7, 1, 64],
    stride: 2,
    pad: 3,
    note: "batch 16 (recipe 128): the 48×48 map, K = 36,864",
  },
  {
    name: "ResNet-18 stem at 28×28",
    x: [128, 28, 28, 1],
    filter: [7, 7, 1, 64],
    stride: 2,
    pad: 3,
    note: "recipe batch 128: K = 25,088",
  },
  {
    name: "ResNet-18 3×3 stride 2, 4×4 → 2×2 (stage 4 at 28×28)",
    x: [128, 4, 4, 64],
    filter: [3, 3, 64, 128],
    stride: 2,
    pad: 1,
    note: "recipe batch 128, 64 → 128 channels (recipe 256 → 512): the 2×2 map, K = 512",
  },
  {
    name: "ResNet-18 3×3 pad 1 at 2×2 (stage 4 at 28×28)",
    x: [128, 2, 2, 128],
    filter: [3, 3, 128, 128],
    stride: 1,
    pad: 1,
    note: "recipe batch 128, 128 channels (recipe 512): the 2×2 map",
  },
  {
    name: "ResNet-18 1×1 stride 2 shortcut, 4×4 → 2×2",
    x: [128, 4, 4, 64],
    filter: [1, 1, 64, 128],
    stride: 2,
    pad: "valid",
    note: "recipe batch 128, 64 → 128 channels (recipe 256 → 512)",
  },
  {
    name: "3×3 pad 1 at 1×1 (a 1×1 map: eight of nine taps in the padding)",
    x: [128, 1, 1, 64],
    filter: [3, 3, 64, 64],
    stride: 1,
    pad: 1,
    note: "recipe batch 128, 64 channels",
  },
];

const convPad = (p: Pad) =>
  typeof p === "number"
    ? ([
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ] as [[0, 0], [number, number], [number, number], [0, 0]])
    : p;

function inputs(c: Case) {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, c.stride, 1, convPad(c.pad) as never);
  const x = randomValues(
    c.x.reduce((a, b) => a * b, 1),
    1,
    0,
    1,
  );
  const dy = randomValues(
    info.outShape.reduce((a, b) => a * b, 1),
    2,
  );
  return { info, x, dy };
}

function filterGradient(c: Case, x: Float32Array, dy: Float32Array, dyShape: number[]): tf.Tensor {
  const attrs = { strides: c.stride, pad: convPad(c.pad), dataFormat: "NHWC", filterShape: c.filter };
  return tf
    .engine()
    .runKernel(
      tf.Conv2DBackpropFilter,
      { x: tf.tensor4d(x, c.x), dy: tf.tensor(dy, dyShape) },
      attrs as never,
    ) as tf.Tensor;
}

/** dW summed in float64: the reference. */
function exactFilterGradient(
  c: Case,
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): Float64Array {
  const [b, h, w, ci] = c.x;
  const [kh, kw, , co] = c.filter;
  const { outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const out = new Float64Array(kh * kw * ci * co);
  for (let n = 0; n < b; n++)
    for (let r = 0; r < oh; r++)
      for (let s = 0; s < ow; s++) {
        const dyAt = ((n * oh + r) * ow + s) * co;
        for (let i = 0; i < kh; i++) {
          const ih = r * sh - top + i;
          if (ih < 0 || ih >= h) continue;
          for (let j = 0; j < kw; j++) {
            const iw = s * sw - left + j;
            if (iw < 0 || iw >= w) continue;
            for (let c1 = 0; c1 < ci; c1++) {
              const xv = x[((n * h + ih) * w + iw) * ci + c1]!;
              const at = ((i * kw + j) * ci + c1) * co;
              for (let c2 = 0; c2 < co; c2++) out[at + c2]! += xv * dy[dyAt + c2]!;
            }
          }
        }
      }
  return out;
}

const gpu: Webgpu = await webgpu();

describe.skipIf(!gpu.ok)("Conv2DBackpropFilter on webgpu against the sum on the CPU", () => {
  beforeAll(async () => {
    expect(gpu.ok).toBe(true);
  });

  it.each(CASES)("$name ($note)", async (c) => {
    const { info, x, dy } = inputs(c);
    const [actual] = await on("webgpu", () => filterGradient(c, x, dy, info.outShape));
    expect(relativeError(actual!, exactFilterGradient(c, x, dy, info))).toBeLessThanOrEqual(1e-4);
  });

  it("splits the reduction so that a layer with few weights fills the GPU, and not one with many", () => {
    // LeNet's conv1 (150 weights, one 32 × 32 tile) at batch 256: K = 200,704 over many workgroups.
    expect(splitK(25, 6, 200_704).splits).toBeGreaterThanOrEqual(784);
    // A 3×3, 512 → 512 layer at 3×3 maps, batch 256: 2,304 tiles already; K = 2,304 is one split.
    expect(splitK(4608, 512, 2304)).toEqual({ splits: 1, chunk: 2304 });
    // Every split sums at most 4,096 products, every product is summed once.
    for (const [m, n, k] of [
      [121, 96, 28_800],
      [9, 64, 6_422_528],
      [576, 128, 512],
    ] as const) {
      const { splits, chunk } = splitK(m, n, k);
      expect(chunk).toBeLessThanOrEqual(4096);
      expect(chunk % 16).toBe(0);
      expect((splits - 1) * chunk).toBeLessThan(k);
      expect(splits * chunk).toBeGreaterThanOrEqual(k);
    }
  });

  // The cpu backend sums in JavaScript numbers (float64) and rounds once: it is as close as float32 output allows.
  it("AlexNet's first layer (K = 28,800): closer to a float64 sum than tfjs's serial per-weight loop", async () => {
    // 4 of its 96 filters: each weight's sum is the whole reduction still, and tfjs's cpu backend (a loop
    // through TensorBuffer.get) takes seconds instead of minutes.
    const c: Case = { ...CASES[2]!, filter: [11, 11, 1, 4] };
    const { info, x, dy } = inputs(c);
    const exact = exactFilterGradient(c, x, dy, info);
    const compute = () => filterGradient(c, x, dy, info.outShape);
    const [cpu] = await on("cpu", compute);
    const [ours] = await on("webgpu", compute);
    const builtin = replacedKernel(tf.Conv2DBackpropFilter)!;
    const registered = tf.getKernel(tf.Conv2DBackpropFilter, "webgpu")!;
    tf.unregisterKernel(tf.Conv2DBackpropFilter, "webgpu");
    tf.registerKernel(builtin);
    let tfjs: Float32Array | undefined;
    try {
      [tfjs] = await on("webgpu", compute);
    } finally {
      tf.unregisterKernel(tf.Conv2DBackpropFilter, "webgpu");
      tf.registerKernel(registered);
    }
    const errors = {
      ours: relativeError(ours!, exact),
      tfjs: relativeError(tfjs!, exact),
      cpu: relativeError(cpu!, exact),
    };
    console.log(`AlexNet conv1 dW, K = 28,800, max |Δ| / max |float64|: ${JSON.stringify(errors)}`);
    expect(errors.ours).toBeLessThanOrEqual(errors.tfjs);
    expect(errors.ours).toBeLessThan(1e-5);
  });
});
