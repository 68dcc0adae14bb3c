import { type KernelConfig, type KernelFunc, type TensorInfo, util } from "@tensorflow/tfjs-core";
import { BATCH_NORM_TRAINING_BACKWARD, BATCH_NORM_TRAINING_FORWARD } from "./kernel_names.js";
import { heapBytes, heapOffset, release, type WasmBackend } from "./wasm.js";
import { BATCH_NORM_MAX_BLOCK_ROWS, type WasmSimdKernels, wasmSimdKernels } from "./wasm_simd.js";

/**
 * Kernel names of training-mode batch normalisation in two calls, the contract with
 * `@convnets/batchnorm`'s `batchNormTraining` (which uses them when the current backend has both,
 * its tfjs ops otherwise; it holds the same strings and does not import this package).
 *
 * BatchNormTrainingForward: inputs { x, gamma, beta } (x float32 [..., C], rank ≥ 2, statistics per
 * channel over all leading axes; gamma, beta [C]), attrs { epsilon }; outputs [y, centered, mean,
 * variance, invStd] with y and centered x's shape, the others [C]:
 *
 *     mean = Σ x / m,  centered = x − mean,  variance = Σ centered² / m  (m elements per channel)
 *     invStd = 1 / sqrt(variance + epsilon),  y = centered · (gamma · invStd) + beta
 *
 * BatchNormTrainingBackward: inputs { dy, centered, invStd, gamma }; outputs [dx, dGamma, dBeta]:
 *
 *     dBeta = Σ dy,  dGamma = Σ (dy · centered) · invStd,  a = gamma · invStd,
 *     b = −a · invStd · dGamma / m,  c = −a · dBeta / m,  dx = a · dy + b · centered + c
 */
export { BATCH_NORM_TRAINING_BACKWARD, BATCH_NORM_TRAINING_FORWARD };

/**
 * Tuning of the SIMD passes (tests and benchmarks change it). `order`: the loop order of the passes
 * over x seen as [rows, W] (wasm_simd.ts, batchNormPass): `columns` keeps a group of 16 columns' operands
 * and sums in registers while it walks a block of rows with a stride of W floats; `rows` streams
 * through memory, its column sums in memory. `auto` takes columns where a row is one group (W = 16:
 * the stride is the group, the walk sequential) and rows elsewhere: on [128, 24, 24, 128] (W = 128)
 * rows takes half the time of columns (the strided walk is slow to come from memory), on LeNet-BN's
 * shapes, which stay in cache, both are within noise. `blockBytes`: in column order, the bytes of a
 * block of rows (walked once per group, so it should stay in cache).
 */
export const batchNormLimits: { order: "auto" | "columns" | "rows"; blockBytes: number } = {
  order: "auto",
  blockBytes: 64 * 1024,
};

/** Floats per row of the [rows, W] view: a multiple of C and of 16 (of 4 when that would exceed this). */
const MAX_ROW_FLOATS = 1024;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
const lcm = (a: number, b: number) => (a / gcd(a, b)) * b;

/**
 * How the SIMD passes see a tensor of `size` floats with `channels` channels: W floats per row (a
 * multiple of the channel count, so column j is channel j mod C, and of 16 or at least 4, so a row is
 * whole vectors), `rows` whole rows (the last size − rows·W elements, fewer than W, are the JavaScript
 * tail), and the rows per block.
 */
function layout(size: number, channels: number): { width: number; rows: number; blockRows: number; byRows: boolean } {
  const wide = lcm(channels, 16);
  const width = wide <= MAX_ROW_FLOATS ? wide : lcm(channels, 4);
  const byRows = batchNormLimits.order === "rows" || (batchNormLimits.order === "auto" && width !== 16);
  const cached = Math.floor(batchNormLimits.blockBytes / (4 * width));
  const blockRows = byRows ? BATCH_NORM_MAX_BLOCK_ROWS : Math.max(1, Math.min(BATCH_NORM_MAX_BLOCK_ROWS, cached));
  return { width, rows: Math.floor(size / width), blockRows, byRows };
}

const NO_SIMD = { width: 0, rows: 0, blockRows: 0, byRows: false };

/** W float64 sums at a heap offset, folded into per-channel sums (column j is channel j mod C). */
function addColumnSums(heap: Uint8Array, offset: number, width: number, into: Float64Array): void {
  const view = new DataView(heap.buffer, heap.byteOffset + offset, 8 * width);
  const channels = into.length;
  for (let j = 0; j < width; j++) into[j % channels]! += view.getFloat64(8 * j, true);
}

/** The per-channel values repeated over the W columns of a row, as float32 at a heap offset. */
function writeColumns(heap: Uint8Array, offset: number, width: number, values: ArrayLike<number>): void {
  const out = new Float32Array(heap.buffer, heap.byteOffset + offset, width);
  for (let j = 0; j < width; j++) out[j] = values[j % values.length]!;
}

/** The channel count, after checking the operands: a float32 tensor of rank ≥ 2 and float32 vectors of C values. */
function checkOperands(kernel: string, full: [string, TensorInfo], vectors: Record<string, TensorInfo>): number {
  const [name, x] = full;
  const channels = x.shape[x.shape.length - 1];
  if (x.dtype !== "float32" || x.shape.length < 2 || channels === undefined) {
    throw new Error(`${kernel}: ${name} must be float32 of rank ≥ 2, got ${x.dtype} [${x.shape}]`);
  }
  for (const [vector, t] of Object.entries(vectors)) {
    if (t.dtype !== "float32" || util.sizeFromShape(t.shape) !== channels) {
      throw new Error(`${kernel}: ${vector} must be float32 with ${channels} values, got ${t.dtype} [${t.shape}]`);
    }
  }
  return channels;
}

/**
 * BatchNormTrainingForward on wasm: three passes over x (sums; centered and Σ centered²; y), each a
 * WebAssembly SIMD loop on the backend's heap (wasm_simd.ts, batchNormPass) over x seen as [rows, W],
 * with a JavaScript loop for the last < W elements. Sums are taken in float32 over blocks of at most
 * 128 rows and added up in float64; per-channel scalars in float64, rounded to float32 as the tfjs ops
 * would store them; elementwise results with the tfjs ops' float32 operations (no fused multiply-add).
 * Without the SIMD loops (wasmSimd.enabled = false, or a backend found to share its memory after the
 * kernels were registered: registerWasmTrainingKernels registers them only where SIMD runs) the
 * JavaScript loop does the whole tensor, sums in float64, 3–4× slower than the tfjs ops.
 */
export const batchNormTrainingForward: KernelFunc = ({ inputs, backend, attrs }) => {
  const wasm = backend as WasmBackend;
  const { x, gamma, beta } = inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  const epsilon = Math.fround((attrs as { epsilon: number }).epsilon);
  const channels = checkOperands(BATCH_NORM_TRAINING_FORWARD, ["x", x], { gamma, beta });
  const size = util.sizeFromShape(x.shape);
  const m = size / channels;

  const y = wasm.makeOutput(x.shape, "float32");
  const centered = wasm.makeOutput(x.shape, "float32");
  const mean = wasm.makeOutput([channels], "float32");
  const variance = wasm.makeOutput([channels], "float32");
  const invStd = wasm.makeOutput([channels], "float32");
  const simd = size > 0 ? wasmSimdKernels(wasm) : undefined;
  const { width, rows, blockRows, byRows } = simd ? layout(size, channels) : NO_SIMD;
  // Scratch: W float64 sums, W float32 accumulators (row order), two rows of per-column float32 operands.
  const scratch = rows > 0 ? wasm.makeOutput([5 * width], "float32") : undefined;
  // Views after the last makeOutput: allocating may grow (and so detach) the wasm heap.
  const heap = heapBytes(wasm);
  const xs = wasm.typedArrayFromHeap(x) as Float32Array;
  const cs = wasm.typedArrayFromHeap(centered) as Float32Array;
  const ys = wasm.typedArrayFromHeap(y) as Float32Array;
  const gammas = wasm.typedArrayFromHeap(gamma) as Float32Array;
  const betas = wasm.typedArrayFromHeap(beta) as Float32Array;
  const tail = rows * width; // first element of the JavaScript loops
  const rowBytes = 4 * width;
  const at = (info: TensorInfo) => heapOffset(wasm, info);
  const sums = scratch ? at(scratch) : 0;
  const acc = sums + 8 * width;
  const first = acc + rowBytes;
  const second = first + rowBytes;

  // Mean.
  const total = new Float64Array(channels);
  if (simd && scratch) {
    heap.fill(0, sums, sums + 8 * width);
    if (byRows) simd.bnSumsRows(at(x), sums, acc, rows, rowBytes, blockRows);
    else simd.bnSums(at(x), sums, rows, rowBytes, blockRows);
    addColumnSums(heap, sums, width, total);
  }
  for (let i = tail; i < size; i += channels) for (let c = 0; c < channels; c++) total[c]! += xs[i + c]!;
  const means = wasm.typedArrayFromHeap(mean) as Float32Array;
  for (let c = 0; c < channels; c++) means[c] = total[c]! / m;

  // centered = x − mean and the biased variance Σ centered² / m.
  total.fill(0);
  if (simd && scratch) {
    heap.fill(0, sums, sums + 8 * width);
    writeColumns(heap, first, width, means);
    if (byRows) simd.bnCenterRows(at(x), at(centered), first, sums, acc, rows, rowBytes, blockRows);
    else simd.bnCenter(at(x), at(centered), first, sums, rows, rowBytes, blockRows);
    addColumnSums(heap, sums, width, total);
  }
  for (let i = tail; i < size; i += channels) {
    for (let c = 0; c < channels; c++) {
      const d = Math.fround(xs[i + c]! - means[c]!);
      cs[i + c] = d;
      total[c]! += d * d;
    }
  }
  const variances = wasm.typedArrayFromHeap(variance) as Float32Array;
  const invStds = wasm.typedArrayFromHeap(invStd) as Float32Array;
  const scale = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    variances[c] = total[c]! / m;
    invStds[c] = 1 / Math.sqrt(Math.fround(variances[c]! + epsilon));
    scale[c] = gammas[c]! * invStds[c]!;
  }

  // y = centered · (gamma · invStd) + beta.
  if (simd && scratch) {
    writeColumns(heap, first, width, scale);
    writeColumns(heap, second, width, betas);
    const affine = byRows ? simd.bnAffineRows : simd.bnAffine;
    affine(at(centered), at(y), first, second, rows, rowBytes, blockRows);
  }
  for (let i = tail; i < size; i += channels) {
    for (let c = 0; c < channels; c++) ys[i + c] = Math.fround(cs[i + c]! * scale[c]!) + betas[c]!;
  }
  if (scratch) release(wasm, scratch);
  return [y, centered, mean, variance, invStd];
};

/**
 * BatchNormTrainingBackward on wasm: two passes (Σ dy and Σ dy · centered; dx), as the forward
 * kernel's: SIMD on [rows, W] plus a JavaScript tail, or JavaScript throughout without SIMD.
 */
export const batchNormTrainingBackward: KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as WasmBackend;
  const { dy, centered, invStd, gamma } = inputs as {
    dy: TensorInfo;
    centered: TensorInfo;
    invStd: TensorInfo;
    gamma: TensorInfo;
  };
  const channels = checkOperands(BATCH_NORM_TRAINING_BACKWARD, ["centered", centered], { invStd, gamma });
  if (dy.dtype !== "float32" || !util.arraysEqual(dy.shape, centered.shape)) {
    throw new Error(
      `${BATCH_NORM_TRAINING_BACKWARD}: dy must be float32 [${centered.shape}], got ${dy.dtype} [${dy.shape}]`,
    );
  }
  const size = util.sizeFromShape(dy.shape);
  const m = size / channels;

  const dx = wasm.makeOutput(dy.shape, "float32");
  const dGamma = wasm.makeOutput([channels], "float32");
  const dBeta = wasm.makeOutput([channels], "float32");
  const simd: WasmSimdKernels | undefined = size > 0 ? wasmSimdKernels(wasm) : undefined;
  const { width, rows, blockRows, byRows } = simd ? layout(size, channels) : NO_SIMD;
  // Scratch: 2·W float64 sums (Σ dy, Σ dy · centered), 2·W float32 accumulators (row order), then
  // three rows of per-column float32 operands.
  const scratch = rows > 0 ? wasm.makeOutput([9 * width], "float32") : undefined;
  const heap = heapBytes(wasm);
  const dys = wasm.typedArrayFromHeap(dy) as Float32Array;
  const cs = wasm.typedArrayFromHeap(centered) as Float32Array;
  const dxs = wasm.typedArrayFromHeap(dx) as Float32Array;
  const gammas = wasm.typedArrayFromHeap(gamma) as Float32Array;
  const invStds = wasm.typedArrayFromHeap(invStd) as Float32Array;
  const tail = rows * width;
  const rowBytes = 4 * width;
  const at = (info: TensorInfo) => heapOffset(wasm, info);
  const sums = scratch ? at(scratch) : 0;
  const acc = sums + 16 * width;
  const first = acc + 2 * rowBytes;

  const sumDy = new Float64Array(channels);
  const sumDyCentered = new Float64Array(channels);
  if (simd && scratch) {
    heap.fill(0, sums, sums + 16 * width);
    if (byRows) simd.bnGradSumsRows(at(dy), at(centered), sums, acc, rows, rowBytes, blockRows);
    else simd.bnGradSums(at(dy), at(centered), sums, rows, rowBytes, blockRows);
    addColumnSums(heap, sums, width, sumDy);
    addColumnSums(heap, sums + 8 * width, width, sumDyCentered);
  }
  for (let i = tail; i < size; i += channels) {
    for (let c = 0; c < channels; c++) {
      const g = dys[i + c]!;
      sumDy[c]! += g;
      sumDyCentered[c]! += g * cs[i + c]!;
    }
  }
  const dGammas = wasm.typedArrayFromHeap(dGamma) as Float32Array;
  const dBetas = wasm.typedArrayFromHeap(dBeta) as Float32Array;
  const a = new Float32Array(channels);
  const b = new Float32Array(channels);
  const c0 = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    dBetas[c] = sumDy[c]!;
    dGammas[c] = sumDyCentered[c]! * invStds[c]!;
    a[c] = gammas[c]! * invStds[c]!;
    b[c] = (-a[c]! * invStds[c]! * dGammas[c]!) / m;
    c0[c] = (-a[c]! * dBetas[c]!) / m;
  }

  if (simd && scratch) {
    writeColumns(heap, first, width, a);
    writeColumns(heap, first + rowBytes, width, b);
    writeColumns(heap, first + 2 * rowBytes, width, c0);
    const gradInput = byRows ? simd.bnGradInputRows : simd.bnGradInput;
    gradInput(at(dy), at(centered), at(dx), first, first + rowBytes, first + 2 * rowBytes, rows, rowBytes, blockRows);
  }
  for (let i = tail; i < size; i += channels) {
    for (let c = 0; c < channels; c++) {
      dxs[i + c] = Math.fround(Math.fround(dys[i + c]! * a[c]!) + Math.fround(cs[i + c]! * b[c]!)) + c0[c]!;
    }
  }
  if (scratch) release(wasm, scratch);
  return [dx, dGamma, dBeta];
};

export const batchNormTrainingForwardConfig: KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_FORWARD,
  backendName: "wasm",
  kernelFunc: batchNormTrainingForward,
};

export const batchNormTrainingBackwardConfig: KernelConfig = {
  kernelName: BATCH_NORM_TRAINING_BACKWARD,
  backendName: "wasm",
  kernelFunc: batchNormTrainingBackward,
};
