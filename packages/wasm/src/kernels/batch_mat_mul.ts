import {
  BatchMatMul,
  type BatchMatMulAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { release, runKernel, type WasmBackend } from "./wasm.js";

/**
 * BatchMatMul that keeps transposed products on XNNPACK.
 *
 * tfjs-backend-wasm 4.22 sends a single (unbatched) matrix product to XNNPACK only when neither
 * operand is transposed; with transposeA or transposeB it falls back to a scalar blocked loop that
 * bench/kernels.ts measures 20–25× slower. Every dense layer's backward pass is such a product
 * (dx = dy·Wᵀ, dW = xᵀ·dy), so this kernel transposes the operand explicitly (one copy) and hands the
 * plain product to the built-in kernel. Batched products (batch > 1) go to the built-in kernel as they are.
 */
export function makeBatchMatMul(builtin: KernelFunc): KernelFunc {
  return (args) => {
    const wasm = args.backend as WasmBackend;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    const unbatched =
      a.shape.length >= 2 &&
      util.sizeFromShape(a.shape.slice(0, -2)) === 1 &&
      b.shape.length >= 2 &&
      util.sizeFromShape(b.shape.slice(0, -2)) === 1;
    if (!(transposeA || transposeB) || !unbatched || a.dtype !== "float32" || b.dtype !== "float32") {
      return builtin(args);
    }
    const left = transposeA ? swapLastAxes(wasm, a) : a;
    const right = transposeB ? swapLastAxes(wasm, b) : b;
    const out = runKernel(wasm, builtin, { a: left, b: right }, { transposeA: false, transposeB: false });
    if (left !== a) release(wasm, left);
    if (right !== b) release(wasm, right);
    return out;
  };
}

function swapLastAxes(backend: WasmBackend, t: TensorInfo): TensorInfo {
  const rank = t.shape.length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  return runKernel(backend, "Transpose", { x: t }, { perm });
}

export function batchMatMulConfig(builtin: KernelFunc): KernelConfig {
  return { kernelName: BatchMatMul, backendName: "wasm", kernelFunc: makeBatchMatMul(builtin) };
}
