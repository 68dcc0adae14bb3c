import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  SplitV,
  type SplitVAttrs,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { copyRuns, heapOffset, type WasmBackend } from "./wasm.js";

/**
 * SplitV (the gradient of Concat) as one memmove per contiguous run: along axis k, each output is
 * a run of sizes[j]·(elements after k) for every index of the axes before k, so whichever the axis,
 * an output is `outer` copies within the heap (copyRuns: no allocation, any numeric dtype).
 * tfjs-backend-wasm 4.22 slices once per output, and each slice first copies the whole input out of
 * the heap (readSync) then copies every row through a new subarray: 6 ms against 1.3 ms for
 * GoogLeNet's [32,12,12,480] → 128/192/96/64 (bench/kernels.ts; up to 20 ms on a loaded machine).
 * Strings and empty tensors go to the built-in kernel.
 */
export function makeSplitV(builtin: KernelFunc): KernelFunc {
  return (args) => {
    const backend = args.backend as WasmBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as SplitVAttrs;
    if (x.dtype === "string" || x.dtype === "complex64" || util.sizeFromShape(x.shape) === 0) return builtin(args);
    const along = util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = backend_util.prepareSplitSize(x, numOrSizeSplits, along);
    const outer = util.sizeFromShape(x.shape.slice(0, along));
    const bytes = util.sizeFromShape(x.shape.slice(along + 1)) * util.bytesPerElement(x.dtype);
    const outputs = sizes.map((s) => {
      const shape = [...x.shape];
      shape[along] = s;
      return backend.makeOutput(shape, x.dtype);
    });
    const rowBytes = (x.shape[along] as number) * bytes;
    let first = heapOffset(backend, x);
    outputs.forEach((out, j) => {
      const run = (sizes[j] as number) * bytes;
      copyRuns(backend, first, heapOffset(backend, out), outer, run, rowBytes, run);
      first += run;
    });
    return outputs;
  };
}

export function splitVConfig(builtin: KernelFunc): KernelConfig {
  return { kernelName: SplitV, backendName: "wasm", kernelFunc: makeSplitV(builtin) };
}
