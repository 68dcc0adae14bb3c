import type { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { getKernel, type KernelFunc, type NamedAttrMap, type TensorInfo } from "@tensorflow/tfjs-core";
import { wasmSimdKernels } from "./wasm_simd.js";

/** The backend object tfjs hands to a wasm kernel. */
export type WasmBackend = BackendWasm;

/**
 * Tuning shared by the kernels. `tempBytes`: temporaries above this size are split (over the batch) so
 * that large networks stay far below wasm's 4 GB address space; XNNPACK copies and packs a
 * convolution's filter, so a temporary used as a filter costs about three times its size while the
 * operator is alive. Tests lower it to exercise the split. `gemmBlockPixels`: output pixels per block of
 * the filter gradient's blocked matrix product (conv2d_backprop_filter.ts, blockedGemm).
 */
export const kernelLimits = { tempBytes: 64 * 2 ** 20, gemmBlockPixels: 2048 };

/** How many examples of a batch to process at once so that their temporaries stay within kernelLimits.tempBytes (at least 1). */
export function examplesPerChunk(batchSize: number, bytesPerExample: number): number {
  return Math.max(1, Math.min(batchSize, Math.floor(kernelLimits.tempBytes / bytesPerExample)));
}

/**
 * Runs a wasm kernel directly on tensor infos, outside the engine: no tape, no tensor tracking, so the
 * caller must `release` what it gets back. `kernel` is a kernel name or a kernel function kept aside.
 */
export function runKernel(
  backend: WasmBackend,
  kernel: string | KernelFunc,
  inputs: Record<string, TensorInfo>,
  attrs: NamedAttrMap = {},
): TensorInfo {
  let kernelFunc: KernelFunc;
  if (typeof kernel === "string") {
    const config = getKernel(kernel, "wasm");
    if (!config) throw new Error(`wasm kernel '${kernel}' is not registered; is @tensorflow/tfjs-backend-wasm loaded?`);
    kernelFunc = config.kernelFunc;
  } else {
    kernelFunc = kernel;
  }
  const out = kernelFunc({ inputs, attrs, backend });
  if (Array.isArray(out))
    throw new Error(`wasm kernel '${String(kernel)}' returned ${out.length} outputs, expected one`);
  return out;
}

/** Frees the wasm memory of temporaries made by `runKernel` or `backend.makeOutput`. */
export function release(backend: WasmBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** A tensor's byte offset in the wasm heap. */
export function heapOffset(backend: WasmBackend, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset;
}

/**
 * The whole wasm heap as bytes, the backend's own view (no allocation) while it covers the memory. Take
 * it after the last `makeOutput`: allocating may grow the heap and so replace the view. In the threaded
 * build the glue refreshes its views only when its own code next looks (a pthread may have grown the
 * shared memory), so a stale one is replaced here by a view of the memory as it is.
 */
export function heapBytes(backend: WasmBackend): Uint8Array {
  const module = backend.wasm as unknown as { HEAPU8: Uint8Array; wasmMemory?: WebAssembly.Memory };
  const memory = module.wasmMemory;
  if (memory && module.HEAPU8.buffer !== memory.buffer) return new Uint8Array(memory.buffer);
  return module.HEAPU8;
}

/**
 * Copies `count` runs of `runBytes` bytes within the heap, run i from `from + i·fromStride` to
 * `to + i·toStride` (byte offsets): one `memory.copy` per run in the SIMD module (wasm_simd.ts,
 * copyRows), else one `copyWithin` per run. Take the offsets after the last `makeOutput`.
 */
export function copyRuns(
  backend: WasmBackend,
  from: number,
  to: number,
  count: number,
  runBytes: number,
  fromStride: number,
  toStride: number,
): void {
  const simd = wasmSimdKernels(backend);
  if (simd) {
    simd.copyRows(from, to, 1, count, runBytes, fromStride, toStride, 0, 0);
    return;
  }
  const heap = heapBytes(backend);
  for (let i = 0; i < count; i++, from += fromStride, to += toStride) heap.copyWithin(to, from, from + runBytes);
}
