import type { TensorInfo } from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./wasm.js";

/** A tensor's byte offset in the wasm heap. */
export function heapOffset(backend: WasmBackend, info: TensorInfo): number {
  return backend.dataIdMap.get(info.dataId).memoryOffset;
}

/**
 * The whole wasm heap as bytes, the backend's own view (no allocation). Take it after the last
 * `makeOutput`: allocating may grow the heap and so replace the view.
 */
export function heapBytes(backend: WasmBackend): Uint8Array {
  return (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
}
