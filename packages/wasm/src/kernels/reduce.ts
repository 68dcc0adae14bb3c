import { type KernelConfig, type KernelFunc, Mean, Sum, type TensorInfo, util } from "@tensorflow/tfjs-core";
import { release, runKernel, type WasmBackend } from "./wasm.js";

/**
 * Sum and Mean over every axis but the last (a bias gradient, BatchNorm's per-channel statistics) on
 * the wasm backend's average pooling: the tensor viewed as [A, B, 1, C] is pooled with a B×1 window,
 * then [1, A, 1, C] with an A×1 window; Sum scales the mean back by A·B. XNNPACK's pooling runs
 * across the contiguous channels with SIMD; tfjs-backend-wasm 4.22's Sum and Mean first transpose the
 * whole tensor so that the reduced axes come last: 15–20 ms against 1.3 ms on ResNet-18's
 * [32, 48, 48, 64] (bench/kernels.ts). Every other reduction goes to the built-in kernel. The result
 * differs from a sequential sum by rounding only (the tests hold it to the cpu backend within 1e-5).
 */
export function makeLeadingAxesReduction(kind: "Sum" | "Mean", builtin: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
    const size = util.sizeFromShape(x.shape);
    if (!leading || x.dtype !== "float32" || size === 0) return builtin(args);
    const backend = args.backend as WasmBackend;
    const channels = x.shape[rank - 1] as number;
    const first = x.shape[0] as number;
    const rest = size / (first * channels);
    const pool = (input: TensorInfo, window: number) =>
      runKernel(backend, "AvgPool", { x: input }, { filterSize: [window, 1], strides: [window, 1], pad: "valid" });
    const perFirst = pool({ ...x, shape: [first, rest, 1, channels] }, rest);
    const mean = first === 1 ? perFirst : pool({ ...perFirst, shape: [1, first, 1, channels] }, first);
    if (mean !== perFirst) release(backend, perFirst);
    const out = backend.makeOutput(keepDims ? [...axes.map(() => 1), channels] : [channels], "float32");
    const values = backend.typedArrayFromHeap(out);
    values.set(backend.typedArrayFromHeap(mean));
    if (kind === "Sum") for (let c = 0; c < channels; c++) values[c] = (values[c] as number) * (size / channels);
    release(backend, mean);
    return out;
  };
}

export function reductionConfig(kind: "Sum" | "Mean", builtin: KernelFunc): KernelConfig {
  return {
    kernelName: kind === "Sum" ? Sum : Mean,
    backendName: "wasm",
    kernelFunc: makeLeadingAxesReduction(kind, builtin),
  };
}
