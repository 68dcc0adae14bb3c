import type { TensorInfo } from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./wasm.js";

/*
 * Transposes the gradient kernels need, as JavaScript loops over the wasm heap: tfjs-backend-wasm
 * 4.22's Transpose walks the output element by element with an index computation each; these copy
 * short contiguous runs or cache-sized tiles. Measured on the dW convolution's operands (LeNet's dy
 * [256, 784, 6], ResNet-18's and DenseNet's x): 2.3 vs 6.5 ms, 2.5 vs 4.5 ms, 3.4 vs 6.6 ms, and
 * never slower on the other shapes of the seven networks.
 */

/** [A, B, C] → [B, A, C] (the two outer axes swapped; runs of C stay contiguous). */
export function swapOuterAxes(backend: WasmBackend, t: TensorInfo, [a, b, c]: [number, number, number]): TensorInfo {
  const out = backend.makeOutput([b, a, c], "float32");
  // Views after makeOutput: allocating may grow (and so detach) the wasm heap.
  const src = backend.typedArrayFromHeap(t);
  const dst = backend.typedArrayFromHeap(out);
  const tile = 8;
  for (let j0 = 0; j0 < b; j0 += tile) {
    const j1 = Math.min(b, j0 + tile);
    for (let i = 0; i < a; i++) {
      for (let j = j0; j < j1; j++) {
        const s = (i * b + j) * c;
        const d = (j * a + i) * c;
        for (let k = 0; k < c; k++) dst[d + k] = src[s + k] as number;
      }
    }
  }
  return out;
}

/** [A, B, C] → [C, B, A] (the outer and inner axes swapped), tile by tile. */
export function swapOuterAndInnerAxes(
  backend: WasmBackend,
  t: TensorInfo,
  [a, b, c]: [number, number, number],
): TensorInfo {
  const out = backend.makeOutput([c, b, a], "float32");
  const src = backend.typedArrayFromHeap(t);
  const dst = backend.typedArrayFromHeap(out);
  const tile = 16;
  const srcStride = b * c;
  for (let j = 0; j < b; j++) {
    for (let i0 = 0; i0 < a; i0 += tile) {
      const i1 = Math.min(a, i0 + tile);
      for (let k0 = 0; k0 < c; k0 += tile) {
        const k1 = Math.min(c, k0 + tile);
        for (let k = k0; k < k1; k++) {
          let d = (k * b + j) * a + i0;
          let s = (i0 * b + j) * c + k;
          for (let i = i0; i < i1; i++, d++, s += srcStride) dst[d] = src[s] as number;
        }
      }
    }
  }
  return out;
}

/**
 * W[kh, kw, a, b] → W'[KH−1−kh, KW−1−kw, b, a]: the filter turned 180° with its channel axes swapped,
 * in one cache-blocked pass. The wasm backend's Reverse then Transpose took 77 + 13 ms on ResNet-18's
 * 3×3×512×512 filter (Reverse computes an index per element), this about 6 ms.
 */
export function turnFilter(backend: WasmBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, a, b] = filter.shape as [number, number, number, number];
  const out = backend.makeOutput([kh, kw, b, a], "float32");
  // Views after makeOutput: allocating may grow (and so detach) the wasm heap.
  const src = backend.typedArrayFromHeap(filter);
  const dst = backend.typedArrayFromHeap(out);
  const taps = kh * kw;
  const block = a * b;
  const tile = 32;
  for (let t = 0; t < taps; t++) {
    const from = t * block;
    const to = (taps - 1 - t) * block;
    for (let i0 = 0; i0 < a; i0 += tile) {
      const i1 = Math.min(a, i0 + tile);
      for (let j0 = 0; j0 < b; j0 += tile) {
        const j1 = Math.min(b, j0 + tile);
        for (let i = i0; i < i1; i++) {
          let s = from + i * b + j0;
          let d = to + j0 * a + i;
          for (let j = j0; j < j1; j++, s++, d += a) dst[d] = src[s] as number;
        }
      }
    }
  }
  return out;
}
