/**
 * Micro-benchmark of the wasm training kernels (src/kernels): each candidate design for the LeNet and
 * ResNet shapes, median milliseconds per call, then a LeNet training step in examples/sec with the
 * built-in kernels versus ours. Every candidate is checked against the cpu backend before it is timed.
 *
 *   npx tsx bench/kernels.ts [--threads 1] [--runs 7] [--steps 10] [--only conv,maxpool,splitv,slice,avgpool,matmul,step]
 *
 * `--only` runs the named sections (all by default): conv is the convolution gradients, step the LeNet step.
 */
import "@tensorflow/tfjs-backend-cpu";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { parseThreads, setupWasm } from "../src/index.js";
import { makeConv2DBackpropFilter } from "../src/kernels/conv2d_backprop_filter.js";
import { makeConv2DBackpropInput } from "../src/kernels/conv2d_backprop_input.js";
import { release, runKernel, type WasmBackend } from "../src/kernels/wasm.js";
import { wasmSimd } from "../src/kernels/wasm_simd.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    runs: { type: "string", default: "7" },
    steps: { type: "string", default: "10" },
    only: { type: "string", default: "conv,maxpool,splitv,slice,avgpool,matmul,step" },
  },
});
const sections = new Set(values.only.split(","));
/** `items` if section `name` is to run, else none. */
const pick = <T>(name: string, items: readonly T[]): readonly T[] => (sections.has(name) ? items : []);
const runs = Number(values.runs);
const steps = Number(values.steps);

// tfjs-backend-wasm's own kernels, kept before setupWasm replaces them.
const builtin = (name: string) => tf.getKernel(name, "wasm")?.kernelFunc;
const builtinInput = builtin("Conv2DBackpropInput") as tf.KernelFunc;
const builtinMatMul = builtin("BatchMatMul") as tf.KernelFunc;
const builtinMaxPoolGrad = builtin("MaxPoolGrad") as tf.KernelFunc;
const builtinAvgPoolGrad = builtin("AvgPoolGrad") as tf.KernelFunc;
const builtinSplitV = builtin("SplitV") as tf.KernelFunc;
const builtinSlice = builtin("Slice") as tf.KernelFunc;
const { description: engine, simd } = await setupWasm({ threads: parseThreads(values.threads, "--threads") });
const backend = tf.backend() as WasmBackend;
const ours = (name: string) => builtin(name) as tf.KernelFunc;

// Timings on a loaded machine are inflated: say how loaded it was.
const load = () => `load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores`;
console.log(
  `engine: ${engine}; median of ${runs} calls; tfjs ${tf.version_core}; node ${process.version}; ${load()}\n`,
);

type Info = tf.TensorInfo;
type Conv = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function timeCall(call: () => Info): { ms: number; values: Float32Array } {
  const first = call();
  const values = backend.readSync(first.dataId) as Float32Array;
  release(backend, first);
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    const out = call();
    times.push(performance.now() - start);
    release(backend, out);
  }
  return { ms: median(times), values };
}

/** max |a − b| / max |b|: the measure of test/kernels.test.ts. */
function relativeError(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  return diff / scale;
}

async function onCpu(kernel: string, inputs: Record<string, Info>, attrs: tf.NamedAttrMap): Promise<Float32Array> {
  const copies = Object.fromEntries(
    Object.entries(inputs).map(([name, t]) => [
      name,
      { data: backend.readSync(t.dataId), shape: t.shape, dtype: t.dtype },
    ]),
  );
  await tf.setBackend("cpu");
  const result = tf.tidy(() => {
    const tensors = Object.fromEntries(
      Object.entries(copies).map(([name, c]) => [name, tf.tensor(c.data as Float32Array, c.shape, c.dtype)]),
    );
    return (tf.engine().runKernel(kernel, tensors, attrs) as tf.Tensor).dataSync() as Float32Array;
  });
  await tf.setBackend("wasm");
  return result;
}

async function compare(
  title: string,
  kernel: string,
  inputs: Record<string, Info>,
  attrs: tf.NamedAttrMap,
  candidates: Record<string, tf.KernelFunc>,
) {
  const expected = await onCpu(kernel, inputs, attrs);
  const cells: string[] = [];
  for (const [name, func] of Object.entries(candidates)) {
    const { ms, values: got } = timeCall(() => runKernel(backend, func, inputs, attrs));
    const error = relativeError(got, expected);
    cells.push(`${name} ${ms.toFixed(2)} ms${error > 1e-4 ? ` (WRONG: error ${error.toExponential(1)})` : ""}`);
  }
  console.log(`  ${title.padEnd(34)} ${cells.join(" | ")}`);
}

// ---- Candidate designs for Conv2DBackpropFilter that lost (the winner is src/kernels) ----

function convInfo(x: Info, attrs: tf.NamedAttrMap): Conv {
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
  );
}

/** Plain JavaScript loops over the wasm heap (what the project started with). */
const filterByLoops: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as { x: Info; dy: Info };
  const c = convInfo(x, attrs as tf.NamedAttrMap);
  const out = backend.makeOutput(c.filterShape, "float32");
  const X = backend.typedArrayFromHeap(x);
  const D = backend.typedArrayFromHeap(dy);
  const W = backend.typedArrayFromHeap(out);
  W.fill(0);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = c;
  const { strideHeight: sh, strideWidth: sw } = c;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        const w0 = ((kh * filterWidth + kw) * inChannels + ci) * outChannels;
        for (let b = 0; b < batchSize; b++) {
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * sh + kh - c.padInfo.top;
            if (ih < 0 || ih >= inHeight) continue;
            for (let ow = 0; ow < outWidth; ow++) {
              const iw = ow * sw + kw - c.padInfo.left;
              if (iw < 0 || iw >= inWidth) continue;
              const xv = X[((b * inHeight + ih) * inWidth + iw) * inChannels + ci] as number;
              const d0 = ((b * outHeight + oh) * outWidth + ow) * outChannels;
              for (let co = 0; co < outChannels; co++) W[w0 + co] += xv * (D[d0 + co] as number);
            }
          }
        }
      }
    }
  }
  return out;
};

/** im2col written by JavaScript as [KH·KW·CI, N·OH·OW], times dy [N·OH·OW, CO] on XNNPACK (BatchMatMul). */
const filterByIm2col: tf.KernelFunc = ({ inputs, attrs }) => {
  const { x, dy } = inputs as { x: Info; dy: Info };
  const c = convInfo(x, attrs as tf.NamedAttrMap);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = c;
  const rows = filterHeight * filterWidth * inChannels;
  const pixels = batchSize * outHeight * outWidth;
  const cols = backend.makeOutput([1, rows, pixels], "float32");
  const C = backend.typedArrayFromHeap(cols);
  const X = backend.typedArrayFromHeap(x);
  let o = 0;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        for (let b = 0; b < batchSize; b++) {
          for (let oh = 0; oh < outHeight; oh++) {
            const ih = oh * c.strideHeight + kh - c.padInfo.top;
            if (ih < 0 || ih >= inHeight) {
              C.fill(0, o, o + outWidth);
              o += outWidth;
              continue;
            }
            const row = (b * inHeight + ih) * inWidth;
            for (let ow = 0; ow < outWidth; ow++) {
              const iw = ow * c.strideWidth + kw - c.padInfo.left;
              C[o++] = iw >= 0 && iw < inWidth ? (X[(row + iw) * inChannels + ci] as number) : 0;
            }
          }
        }
      }
    }
  }
  const dy3 = { dataId: dy.dataId, shape: [1, pixels, outChannels], dtype: dy.dtype };
  const product = runKernel(backend, builtinMatMul, { a: cols, b: dy3 }, { transposeA: false, transposeB: false });
  release(backend, cols);
  return { dataId: product.dataId, shape: c.filterShape, dtype: "float32" };
};

/** dx for stride s > 1 by inserting s−1 zeros between dy's pixels, then one stride-1 convolution. */
const inputByZeroInsertion: tf.KernelFunc = ({ inputs, attrs }) => {
  const { dy, filter } = inputs as { dy: Info; filter: Info };
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const c = tf.backend_util.computeConv2DInfo(
    a.inputShape,
    filter.shape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
  );
  const [n, oh, ow, co] = dy.shape as [number, number, number, number];
  const { strideHeight: sh, strideWidth: sw } = c;
  const h = (oh - 1) * sh + 1;
  const w = (ow - 1) * sw + 1;
  const spread = backend.makeOutput([n, h, w, co], "float32");
  const src = backend.typedArrayFromHeap(dy);
  const dst = backend.typedArrayFromHeap(spread);
  dst.fill(0);
  for (let b = 0, from = 0; b < n; b++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0, to = (b * h + i * sh) * w * co; j < ow; j++, from += co, to += sw * co)
        dst.set(src.subarray(from, from + co), to);
    }
  }
  const reversed = runKernel(backend, "Reverse", { x: filter }, { dims: [0, 1] });
  const turned = runKernel(backend, "Transpose", { x: reversed }, { perm: [0, 1, 3, 2] });
  const top = c.filterHeight - 1 - c.padInfo.top;
  const left = c.filterWidth - 1 - c.padInfo.left;
  const pad = [
    [0, 0],
    [top, c.inHeight + c.filterHeight - 1 - h - top],
    [left, c.inWidth + c.filterWidth - 1 - w - left],
    [0, 0],
  ];
  const dx = runKernel(
    backend,
    "Conv2D",
    { x: spread, filter: turned },
    { strides: 1, dilations: 1, pad, dataFormat: "NHWC" },
  );
  release(backend, reversed, turned, spread);
  return dx;
};

// ---- Shapes ----

const pad = (p: number) => [
  [0, 0],
  [p, p],
  [p, p],
  [0, 0],
];
type Shape4 = [number, number, number, number];
const convCases: { title: string; x: Shape4; filter: Shape4; stride: number; pad: "same" | "valid" | number[][] }[] = [
  { title: "LeNet conv1 256×28×28×1 → 6, 5×5 same", x: [256, 28, 28, 1], filter: [5, 5, 1, 6], stride: 1, pad: "same" },
  {
    title: "LeNet conv2 256×14×14×6 → 16, 5×5 valid",
    x: [256, 14, 14, 6],
    filter: [5, 5, 6, 16],
    stride: 1,
    pad: "valid",
  },
  { title: "ResNet 32×24×24×64 → 64, 3×3 pad 1", x: [32, 24, 24, 64], filter: [3, 3, 64, 64], stride: 1, pad: pad(1) },
  {
    title: "ResNet 32×24×24×64 → 128, 3×3 s2 pad 1",
    x: [32, 24, 24, 64],
    filter: [3, 3, 64, 128],
    stride: 2,
    pad: pad(1),
  },
  { title: "ResNet 32×24×24×64 → 128, 1×1 s2", x: [32, 24, 24, 64], filter: [1, 1, 64, 128], stride: 2, pad: "valid" },
  {
    title: "GoogLeNet-like 32×12×12×192 → 64, 1×1",
    x: [32, 12, 12, 192],
    filter: [1, 1, 192, 64],
    stride: 1,
    pad: "valid",
  },
  {
    title: "GoogLeNet b2 32×24×24×64 → 192, 3×3 pad 1",
    x: [32, 24, 24, 64],
    filter: [3, 3, 64, 192],
    stride: 1,
    pad: pad(1),
  },
  {
    title: "DenseNet 32×24×24×128 → 32, 3×3 pad 1",
    x: [32, 24, 24, 128],
    filter: [3, 3, 128, 32],
    stride: 1,
    pad: pad(1),
  },
  { title: "stem 32×96×96×1 → 64, 7×7 s2 pad 3", x: [32, 96, 96, 1], filter: [7, 7, 1, 64], stride: 2, pad: pad(3) },
];

if (sections.has("conv"))
  console.log(
    "Conv2DBackpropFilter (dW) and Conv2DBackpropInput (dx); slow candidates skipped where they take seconds:",
  );
for (const k of sections.has("conv") ? convCases : []) {
  const info = tf.backend_util.computeConv2DInfo(k.x, k.filter, k.stride, 1, k.pad as "same");
  const x = tf.randomNormal(k.x);
  const dy = tf.randomNormal(info.outShape);
  const w = tf.randomNormal(k.filter);
  console.log(` ${k.title}`);
  const conv = { strides: k.stride, pad: k.pad, dataFormat: "NHWC" };
  // Multiply-adds of the forward convolution: the slow candidates are skipped above a few hundred million.
  const macs = size(info.outShape) * k.filter[0] * k.filter[1] * k.filter[2];
  const pointwise = k.filter[0] === 1 && k.filter[1] === 1;
  const stride1 = k.stride === 1;
  const oneChannel = k.filter[2] === 1;
  await compare(
    "dW",
    "Conv2DBackpropFilter",
    { x, dy },
    { ...conv, filterShape: k.filter },
    {
      ...(macs > 2e8 ? {} : { "JS loops": filterByLoops }),
      "im2col+BatchMatMul": filterByIm2col,
      convolution: makeConv2DBackpropFilter("convolution"),
      ...(pointwise ? { BatchMatMul: makeConv2DBackpropFilter("matmul") } : {}),
      ...(oneChannel && stride1 && simd ? { SIMD: makeConv2DBackpropFilter("simd") } : {}),
      ...(!oneChannel && stride1 && k.filter[2] <= 8 && simd
        ? { "SIMD channels": makeConv2DBackpropFilter("simd-channels") }
        : {}),
      ...(stride1 && simd ? { "blocked gemm": makeConv2DBackpropFilter("gemm") } : {}),
      "→ registered": ours("Conv2DBackpropFilter"),
    },
  );
  await compare(
    "dx",
    "Conv2DBackpropInput",
    { dy, filter: w },
    { ...conv, inputShape: k.x },
    {
      ...(macs > 3e8 ? {} : { "built-in": builtinInput }),
      ...(stride1 ? { convolution: makeConv2DBackpropInput(undefined, "convolution") } : {}),
      ...(stride1 && k.filter[2] === 1 ? { depthwise: makeConv2DBackpropInput(undefined, "depthwise") } : {}),
      ...(stride1 || macs * k.stride ** 2 > 1.5e9 ? {} : { "zeros+convolution": inputByZeroInsertion }),
      "BatchMatMul+col2im": makeConv2DBackpropInput(undefined, "matmul"),
      ...(simd ? { "BatchMatMul+SIMD col2im": makeConv2DBackpropInput(undefined, "matmul-simd") } : {}),
      "→ registered": ours("Conv2DBackpropInput"),
    },
  );
  await compare(
    "forward (for scale)",
    "Conv2D",
    { x, filter: w },
    { ...conv, dilations: 1 },
    {
      Conv2D: builtin("Conv2D") as tf.KernelFunc,
    },
  );
  tf.dispose([x, dy, w]);
}

/** Our MaxPoolGrad on its JavaScript loop (the registered kernel before the WebAssembly SIMD loop). */
const maxPoolGradByJsLoop: tf.KernelFunc = (args) => {
  wasmSimd.enabled = false;
  try {
    return ours("MaxPoolGrad")(args);
  } finally {
    wasmSimd.enabled = true;
  }
};

if (sections.has("maxpool"))
  console.log("\nMaxPoolGrad (GoogLeNet's on ReLU outputs, many ties at 0; the forward MaxPool for scale):");
for (const [title, shape, size, stride, p] of pick("maxpool", [
  ["ResNet stem pool 32×48×48×64, 3×3 s2 pad 1", [32, 48, 48, 64], 3, 2, pad(1)],
  ["AlexNet pool 32×54×54×96, 3×3 s2", [32, 54, 54, 96], 3, 2, "valid"],
  ["GoogLeNet 32×50×50×64 → 24², 3×3 s2", [32, 50, 50, 64], 3, 2, "valid"],
  ["GoogLeNet 32×26×26×192 → 12², 3×3 s2", [32, 26, 26, 192], 3, 2, "valid"],
  ["GoogLeNet 32×14×14×480 → 6², 3×3 s2", [32, 14, 14, 480], 3, 2, "valid"],
  ["GoogLeNet 32×12×12×256, 3×3 s1 same", [32, 12, 12, 256], 3, 1, "same"],
  ["GoogLeNet 32×6×6×512, 3×3 s1 same", [32, 6, 6, 512], 3, 1, "same"],
] as const)) {
  const normal = tf.randomNormal<tf.Rank.R4>([...shape]);
  const input = title.startsWith("GoogLeNet") ? tf.relu(normal) : normal;
  const output = tf.maxPool(input, size, stride, p as "valid");
  const dy = tf.randomNormal(output.shape);
  const attrs = { filterSize: size, strides: stride, pad: p as "valid" };
  await compare(title, "MaxPoolGrad", { dy, input, output }, attrs, {
    "built-in (incorrect)": builtinMaxPoolGrad,
    "JS loop": maxPoolGradByJsLoop,
    "→ registered (SIMD)": ours("MaxPoolGrad"),
  });
  await compare("  forward", "MaxPool", { x: input }, attrs, { MaxPool: builtin("MaxPool") as tf.KernelFunc });
  tf.dispose([normal, input, output, dy]);
}

/** compare() for kernels with several outputs (SplitV): each output against cpu, all released. */
async function compareOutputs(
  title: string,
  kernel: string,
  x: Info,
  attrs: tf.NamedAttrMap,
  candidates: Record<string, tf.KernelFunc>,
) {
  const data = backend.readSync(x.dataId) as Float32Array;
  await tf.setBackend("cpu");
  const expected = tf.tidy(() =>
    (tf.engine().runKernel(kernel, { x: tf.tensor(data, x.shape) }, attrs) as tf.Tensor[]).map(
      (t) => t.dataSync() as Float32Array,
    ),
  );
  await tf.setBackend("wasm");
  const cells: string[] = [];
  for (const [name, func] of Object.entries(candidates)) {
    const call = () => func({ inputs: { x }, attrs, backend }) as Info[];
    const first = call();
    const error = Math.max(
      ...first.map((t, i) => relativeError(backend.readSync(t.dataId) as Float32Array, expected[i] as Float32Array)),
    );
    release(backend, ...first);
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const start = performance.now();
      const outs = call();
      times.push(performance.now() - start);
      release(backend, ...outs);
    }
    cells.push(
      `${name} ${median(times).toFixed(2)} ms${error > 1e-4 ? ` (WRONG: error ${error.toExponential(1)})` : ""}`,
    );
  }
  console.log(`  ${title.padEnd(34)} ${cells.join(" | ")}`);
}

if (sections.has("splitv")) console.log("\nSplitV (the gradient of GoogLeNet's channel concats):");
for (const [shape, sizes] of pick("splitv", [
  [
    [32, 12, 12, 480],
    [128, 192, 96, 64],
  ],
  [
    [32, 12, 12, 256],
    [64, 128, 32, 32],
  ],
  [
    [32, 6, 6, 832],
    [256, 320, 128, 128],
  ],
  [
    [32, 3, 3, 1024],
    [384, 384, 128, 128],
  ],
] as const)) {
  const x = tf.randomNormal([...shape]);
  await compareOutputs(
    `${shape.join("×")} → ${sizes.join("/")}`,
    "SplitV",
    x,
    { numOrSizeSplits: [...sizes], axis: 3 },
    {
      "built-in": builtinSplitV,
      "→ registered": ours("SplitV"),
    },
  );
  x.dispose();
}

if (sections.has("slice"))
  console.log("\nSlice (the gradient of GoogLeNet's explicit zero padding before its pools: a crop):");
for (const [shape, begin, extent] of pick("slice", [
  [
    [32, 50, 50, 64],
    [0, 1, 1, 0],
    [32, 48, 48, 64],
  ],
  [
    [32, 26, 26, 192],
    [0, 1, 1, 0],
    [32, 24, 24, 192],
  ],
  [
    [32, 14, 14, 480],
    [0, 1, 1, 0],
    [32, 12, 12, 480],
  ],
  [
    [32, 50, 50, 64],
    [0, 0, 0, 16],
    [32, 50, 50, 32],
  ],
] as const)) {
  const x = tf.randomNormal([...shape]);
  const title = `${shape.join("×")} → ${extent.join("×")}${begin[3] ? " (channels)" : ""}`;
  await compare(
    title,
    "Slice",
    { x },
    { begin: [...begin], size: [...extent] },
    {
      "built-in": builtinSlice,
      "→ registered": ours("Slice"),
    },
  );
  x.dispose();
}

if (sections.has("avgpool")) console.log("\nAvgPoolGrad (LeNet, 2×2 stride 2):");
for (const shape of (sections.has("avgpool")
  ? [
      [256, 28, 28, 6],
      [256, 10, 10, 16],
    ]
  : []) as Shape4[]) {
  const input = tf.randomNormal<tf.Rank.R4>(shape);
  const dy = tf.randomNormal([
    shape[0] as number,
    (shape[1] as number) / 2,
    (shape[2] as number) / 2,
    shape[3] as number,
  ]);
  await compare(
    shape.join("×"),
    "AvgPoolGrad",
    { dy, input },
    { filterSize: 2, strides: 2, pad: "valid" },
    {
      "built-in": builtinAvgPoolGrad,
      "→ registered": ours("AvgPoolGrad"),
    },
  );
  tf.dispose([input, dy]);
}

if (sections.has("matmul")) console.log("\nBatchMatMul (LeNet's dense layers, batch 256):");
for (const [m, k, n] of sections.has("matmul")
  ? [
      [256, 400, 120],
      [256, 120, 84],
      [256, 84, 10],
    ]
  : []) {
  const a = tf.randomNormal([m as number, k as number]);
  const w = tf.randomNormal([k as number, n as number]);
  const dy = tf.randomNormal([m as number, n as number]);
  const both = { "built-in": builtinMatMul, "→ registered": ours("BatchMatMul") };
  await compare(
    `${m}×${k}·${k}×${n} forward`,
    "BatchMatMul",
    { a, b: w },
    { transposeA: false, transposeB: false },
    both,
  );
  await compare("  dx = dy·Wᵀ", "BatchMatMul", { a: dy, b: w }, { transposeA: false, transposeB: true }, both);
  await compare("  dW = xᵀ·dy", "BatchMatMul", { a, b: dy }, { transposeA: true, transposeB: false }, both);
  tf.dispose([a, w, dy]);
}

// ---- A whole LeNet training step ----

function lenet() {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "sigmoid" }),
      tfl.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: "sigmoid" }),
      tfl.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 120, activation: "sigmoid" }),
      tfl.layers.dense({ units: 84, activation: "sigmoid" }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
}

function setKernel(name: string, kernelFunc: tf.KernelFunc) {
  tf.unregisterKernel(name, "wasm");
  tf.registerKernel({ kernelName: name, backendName: "wasm", kernelFunc });
}

async function lenetExamplesPerSec(): Promise<number> {
  const model = lenet();
  const optimizer = tf.train.sgd(0.9);
  const xs = tf.randomUniform([256, 28, 28, 1]);
  const labels = tf.oneHot(tf.randomUniform([256], 0, 10, "int32"), 10);
  const step = () =>
    tf.tidy(() => {
      optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(labels, model.apply(xs, { training: true }) as tf.Tensor) as tf.Scalar,
      );
    });
  step();
  const rates: number[] = [];
  for (let r = 0; r < Math.max(3, Math.round(runs / 2)); r++) {
    const start = performance.now();
    for (let s = 0; s < steps; s++) step();
    rates.push((steps * 256) / ((performance.now() - start) / 1000));
  }
  tf.dispose([xs, labels]);
  model.dispose();
  optimizer.dispose();
  return median(rates);
}

if (sections.has("step")) {
  console.log(`\nLeNet training step (batch 256, SGD, softmax cross-entropy; ${steps} steps per run, median run):`);
  const chosen = ["Conv2DBackpropFilter", "Conv2DBackpropInput", "BatchMatMul", "AvgPoolGrad"].map(
    (n) => [n, ours(n)] as const,
  );
  setKernel("Conv2DBackpropFilter", filterByLoops);
  setKernel("Conv2DBackpropInput", builtinInput);
  setKernel("BatchMatMul", builtinMatMul);
  setKernel("AvgPoolGrad", builtinAvgPoolGrad);
  console.log(`  built-in kernels + JS-loop dW:           ${(await lenetExamplesPerSec()).toFixed(0)} examples/sec`);
  for (const [name, func] of chosen) setKernel(name, func);
  console.log(`  registerWasmTrainingKernels (chosen):    ${(await lenetExamplesPerSec()).toFixed(0)} examples/sec`);
}
console.log(`\n${load()}`);
