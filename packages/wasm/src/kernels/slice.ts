import {
  type KernelConfig,
  type KernelFunc,
  Slice,
  type SliceAttrs,
  slice_util,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { copyRuns, heapOffset, type WasmBackend } from "./wasm.js";

/**
 * Slice (the gradient of padding, crops) as one memmove per contiguous run. The trailing axes that
 * the slice keeps whole merge with the last cropped one into a run; the runs along the axis before it
 * are one copyRuns call (wasm.ts: a `memory.copy` each in the SIMD module, else `copyWithin`; no
 * allocation, any numeric dtype), and the axes before that are walked like an odometer.
 * tfjs-backend-wasm 4.22 first copies the whole input out of the heap (readSync), then copies each
 * innermost row through a new subarray: 7–14 ms against 2.3 ms for cropping [32,50,50,64] to
 * [32,48,48,64] (bench/kernels.ts). Strings, scalars and empty slices go to the built-in kernel.
 */
export function makeSlice(builtin: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { begin, size } = args.attrs as unknown as SliceAttrs;
    const rank = x.shape.length;
    if (x.dtype === "string" || x.dtype === "complex64" || rank === 0) return builtin(args);
    const [start, extent] = slice_util.parseSliceParams(x, begin, size);
    if (util.sizeFromShape(extent) === 0) return builtin(args);
    const shape = x.shape;
    // Axis k: the last one the slice does not keep whole; a run covers it and every axis after it.
    let k = rank - 1;
    while (k > 0 && start[k] === 0 && extent[k] === shape[k]) k--;
    const elementBytes = util.bytesPerElement(x.dtype);
    const strides = [...util.computeStrides(shape), 1].map((s) => s * elementBytes);
    const run = (extent[k] as number) * (strides[k] as number);
    let from = heapOffset(backend, x) + start.reduce((sum, b, i) => sum + b * (strides[i] as number), 0);
    const out = backend.makeOutput(extent, x.dtype);
    let to = heapOffset(backend, out);
    // Axis k − 1's runs go in one copyRuns call (one run when k = 0); the axes before it are walked like an odometer.
    const inner = k > 0 ? (extent[k - 1] as number) : 1;
    const innerStride = k > 0 ? (strides[k - 1] as number) : 0;
    const walked = Math.max(0, k - 1);
    const outer = util.sizeFromShape(extent.slice(0, walked));
    const counters = new Array<number>(walked).fill(0);
    for (let n = 0; n < outer; n++, to += inner * run) {
      copyRuns(backend, from, to, inner, run, innerStride, run);
      // Next index of axes 0..k−2, last fastest.
      for (let a = k - 2; a >= 0; a--) {
        const count = (counters[a] as number) + 1;
        from += strides[a] as number;
        if (count < (extent[a] as number)) {
          counters[a] = count;
          break;
        }
        from -= count * (strides[a] as number);
        counters[a] = 0;
      }
    }
    return out;
  };
}

export function sliceConfig(builtin: KernelFunc): KernelConfig {
  return { kernelName: Slice, backendName: "wasm", kernelFunc: makeSlice(builtin) };
}
