import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { batchNormPasses } from "./batch_norm_simd.js";
import {
  accumulateBody,
  filterFewChannelsBody,
  filterOneChannelBody,
  tapColumnsBody,
  transposeChannelsBody,
} from "./conv2d_backprop_filter_simd.js";
import { col2imBody } from "./conv2d_backprop_input_simd.js";
import { copyRowsBody } from "./copy_rows_simd.js";
import { maxPoolGradBody } from "./max_pool_grad_simd.js";
import { reluGradBody } from "./relu_grad_simd.js";
import { assembleModule as assemble } from "./wasm_assembler.js";

/** The backend object tfjs hands to a wasm kernel (wasm.ts's WasmBackend, not imported: wasm.ts imports this file). */
type WasmBackend = BackendWasm;

/**
 * Kernels written directly in WebAssembly (with 128-bit SIMD) that run on the wasm backend's own
 * memory: a small module, assembled here at first use (wasm_assembler.ts) from the bodies beside each kernel
 * (max_pool_grad_simd.ts, conv2d_backprop_filter_simd.ts, conv2d_backprop_input_simd.ts, relu_grad_simd.ts,
 * batch_norm_simd.ts, copy_rows_simd.ts), imports the
 * backend's `WebAssembly.Memory`, so its functions read and write tensors in place given their heap
 * offsets. It is for loops that neither XNNPACK nor the backend offer and that JavaScript runs
 * several times slower: MaxPoolGrad's running argmax (a compare and two selects per input, 4 lanes
 * at a time here), the filter gradient of a stride-1 convolution with one or a few input channels
 * (which XNNPACK's convolution, given CI images of N channels, runs poorly), the transposed columns
 * (colsᵀ) the other filter gradients multiply with dy, col2im for Conv2DBackpropInput (bench/kernels.ts), and the passes of training-mode batch normalisation
 * (batch_norm.ts, bench/batch_norm.ts).
 *
 * Not available (`wasmSimdKernels` returns undefined, callers use their JavaScript loops) where the
 * engine lacks WebAssembly SIMD or the backend's memory cannot be found. On the multi-threaded build
 * the module imports the backend's shared memory. `wasmSimd.enabled = false` forces the JavaScript loops (tests, benchmarks).
 */
export const wasmSimd = { enabled: true };

export interface WasmSimdKernels {
  /**
   * dx of max pooling, NHWC, channels a multiple of 4, dx zeroed by the caller. All pointers are byte
   * offsets in the heap; `scratch` holds 8·C bytes. See maxPoolGradBody.
   */
  maxPoolGrad(
    x: number,
    dy: number,
    dx: number,
    scratch: number,
    batch: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /**
   * dW += the stride-1 filter gradient of a one-channel convolution, from x zero-padded to
   * [count, Hp, Wp] and dy transposed to [count, CO, OH, OW4] (OW4 a multiple of 4, zero tail,
   * Wp = OW4 + KW − 1, Hp = OH + KH − 1); dW [KH, KW, 1, CO]; `scratch` holds 128 bytes, 16-aligned.
   * See filterOneChannelBody.
   */
  filterOneChannel(
    x: number,
    dy: number,
    dW: number,
    scratch: number,
    count: number,
    outChannels: number,
    outHeight: number,
    paddedOutWidth: number,
    filterHeight: number,
    filterWidth: number,
    paddedWidth: number,
    paddedHeight: number,
  ): void;
  /**
   * dW += the stride-1 filter gradient of a convolution with few input channels, vectorized over the
   * output channels: x [count, H, W, CI] as it is, dy [count, OH, OW, CO4] and dW [KH, KW, CI, CO4]
   * with CO4 a multiple of 4; input channels taken `channelBlock` (1..FEW_CHANNELS_BLOCK) at a time.
   * See filterFewChannelsBody.
   */
  filterFewChannels(
    x: number,
    dy: number,
    dW: number,
    count: number,
    inHeight: number,
    inWidth: number,
    inChannels: number,
    outHeight: number,
    outWidth: number,
    paddedOutChannels: number,
    filterHeight: number,
    filterWidth: number,
    padTop: number,
    padLeft: number,
    channelBlock: number,
  ): void;
  /** [count, OH, OW, C] → [count, C, OH, OW4], OW4 ≥ OW (tail untouched). */
  transposeChannels(
    src: number,
    dst: number,
    count: number,
    outHeight: number,
    outWidth: number,
    channels: number,
    paddedOutWidth: number,
  ): void;
  /**
   * dx [count, inH, inW, C] += col2im of cols [count·outH·outW, KH·KW·C] (the rows of dy·Wᵀ), any
   * stride and padding. See col2imBody.
   */
  col2im(
    cols: number,
    dx: number,
    count: number,
    inHeight: number,
    inWidth: number,
    channels: number,
    outHeight: number,
    outWidth: number,
    filterHeight: number,
    filterWidth: number,
    strideHeight: number,
    strideWidth: number,
    padTop: number,
    padLeft: number,
  ): void;
  /**
   * Batch normalisation's passes (batch_norm.ts) over row-major operands seen as [rows, W], W a
   * multiple of 4 floats, `rowBytes` = 4·W; per-column operands (`mean`, `scale`, …) hold W floats and
   * `sums` W float64 (2·W for bnGradSums: Σdy, then Σdy·centered), added to. Column sums are taken in
   * float32 over blocks of `blockRows` rows (≤ BATCH_NORM_MAX_BLOCK_ROWS), each block's then added into
   * the float64 sums. Each pass exists in two loop orders (see batchNormPass): by columns (these) and
   * by rows (the `…Rows` functions, which take an `acc` area of W floats per column sum).
   * bnSums: sums += Σ_rows x.
   */
  bnSums(x: number, sums: number, rows: number, rowBytes: number, blockRows: number): void;
  bnSumsRows(x: number, sums: number, acc: number, rows: number, rowBytes: number, blockRows: number): void;
  /** centered = x − mean; sums += Σ_rows centered². */
  bnCenter(
    x: number,
    centered: number,
    mean: number,
    sums: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  bnCenterRows(
    x: number,
    centered: number,
    mean: number,
    sums: number,
    acc: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  /** y = centered · scale + shift. */
  bnAffine(
    centered: number,
    y: number,
    scale: number,
    shift: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  bnAffineRows(
    centered: number,
    y: number,
    scale: number,
    shift: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  /** sums[0, W) += Σ_rows dy; sums[W, 2W) += Σ_rows dy · centered. */
  bnGradSums(dy: number, centered: number, sums: number, rows: number, rowBytes: number, blockRows: number): void;
  bnGradSumsRows(
    dy: number,
    centered: number,
    sums: number,
    acc: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  /** dx = (dy · a + centered · b) + c. */
  bnGradInput(
    dy: number,
    centered: number,
    dx: number,
    a: number,
    b: number,
    c: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  bnGradInputRows(
    dy: number,
    centered: number,
    dx: number,
    a: number,
    b: number,
    c: number,
    rows: number,
    rowBytes: number,
    blockRows: number,
  ): void;
  /**
   * What one filter tap sees, transposed: for each of `count` examples and `rows` output rows, `pixels`
   * input pixels of C floats each (`srcPixel` bytes apart) become C runs of `pixels` floats
   * (`dstChannel` bytes apart); src and dst advance by their own row and example strides (bytes).
   * The rows of colsᵀ that Conv2DBackpropFilter multiplies with dy. See tapColumnsBody.
   */
  tapColumns(
    src: number,
    dst: number,
    count: number,
    rows: number,
    pixels: number,
    channels: number,
    srcPixel: number,
    srcRow: number,
    srcExample: number,
    dstChannel: number,
    dstRow: number,
    dstExample: number,
  ): void;
  /** dst[i] += src[i] for `count` floats (the same bits as a JavaScript loop on Float32Arrays). */
  accumulate(dst: number, src: number, count: number): void;
  /**
   * dx[i] = dy[i] · step(y[i]) for the first `count` floats rounded down to a multiple of 4 (the caller
   * does the rest): step is 1 where y > 0, NaN where y is NaN, else 0, so the same bits as tfjs's
   * Step then Multiply. See reluGradBody.
   */
  reluGrad(dy: number, y: number, dx: number, count: number): void;
  /** `count` blocks of `rows` rows of `rowBytes` bytes, each side with its own row and block strides (bytes). */
  copyRows(
    src: number,
    dst: number,
    count: number,
    rows: number,
    rowBytes: number,
    srcRowBytes: number,
    dstRowBytes: number,
    srcBlockBytes: number,
    dstBlockBytes: number,
  ): void;
}

/** The backend's memory (shared in its multi-threaded build), or undefined where it cannot be found. */
function backendMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  const module = backend.wasm as unknown as { asm?: { memory?: unknown }; wasmMemory?: unknown; HEAPU8?: Uint8Array };
  const memory = module.asm?.memory ?? module.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  if (!isShared(memory) && memory.buffer !== module.HEAPU8?.buffer) return undefined;
  return memory;
}

const isShared = (memory: WebAssembly.Memory) =>
  typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;

/** The assembled module for a plain memory and for a shared one (the threaded build's: 4 GiB at most); null where this engine cannot compile it. */
const compiled: { plain?: WebAssembly.Module | null; shared?: WebAssembly.Module | null } = {};
const instances = new WeakMap<WebAssembly.Memory, WasmSimdKernels>();

/** The assembled module, or null where this engine cannot compile it (no WebAssembly SIMD, or no shared memory). */
function compiledModule(shared = false): WebAssembly.Module | null {
  const kind = shared ? "shared" : "plain";
  if (compiled[kind] === undefined) {
    const bytes = assembleModule(shared);
    compiled[kind] = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled[kind];
}

/**
 * Whether the kernels can run, whatever `wasmSimd.enabled` says: this engine compiles the module and,
 * given an initialised backend, its memory can be found (given none, only the first is known).
 */
export function wasmSimdSupported(backend: WasmBackend | undefined): boolean {
  if (backend === undefined) return compiledModule() !== null;
  const memory = backendMemory(backend);
  return memory !== undefined && compiledModule(isShared(memory)) !== null;
}

/** The kernels bound to this backend's memory, or undefined (see wasmSimd). */
export function wasmSimdKernels(backend: WasmBackend): WasmSimdKernels | undefined {
  if (!wasmSimd.enabled) return undefined;
  const memory = backendMemory(backend);
  if (!memory) return undefined;
  const known = instances.get(memory);
  if (known) return known;
  const module = compiledModule(isShared(memory));
  if (module === null) return undefined;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const kernels = instance.exports as unknown as WasmSimdKernels;
  instances.set(memory, kernels);
  return kernels;
}

export { BATCH_NORM_MAX_BLOCK_ROWS } from "./batch_norm_simd.js";
export { FEW_CHANNELS_BLOCK } from "./conv2d_backprop_filter_simd.js";

/** The module with every kernel body (each beside its kernel, in a `*_simd.ts` file). */
function assembleModule(shared = false): Uint8Array<ArrayBuffer> {
  return assemble(
    [
      { name: "maxPoolGrad", ...maxPoolGradBody() },
      { name: "filterOneChannel", ...filterOneChannelBody() },
      { name: "filterFewChannels", ...filterFewChannelsBody() },
      { name: "transposeChannels", ...transposeChannelsBody() },
      { name: "copyRows", ...copyRowsBody() },
      { name: "tapColumns", ...tapColumnsBody() },
      { name: "accumulate", ...accumulateBody() },
      { name: "reluGrad", ...reluGradBody() },
      { name: "col2im", ...col2imBody() },
      ...batchNormPasses(),
    ],
    shared,
  );
}

/** For tests: the assembled module's bytes. */
export const assembledModuleForTests = (): Uint8Array<ArrayBuffer> => assembleModule();
