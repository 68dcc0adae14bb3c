import { type KernelConfig, type KernelFunc, type TensorInfo, util } from "@tensorflow/tfjs-core";
import { RELU_GRAD } from "./kernel_names.js";
import { heapOffset, type WasmBackend } from "./wasm.js";
import { wasmSimdKernels } from "./wasm_simd.js";

/**
 * Kernel name of a ReLU's gradient from its output, as TensorFlow's `ReluGrad`: inputs `{ dy, y }`
 * (float32, same shape; y the ReLU's output, or its input: y > 0 exactly where x > 0), output
 * dx = dy · step(y), no attrs. tfjs defines no such kernel; `@convnets/core` looks it up for the ReLU
 * gradients of a training step (fused convolution + ReLU, and ReLU layers differentiated from their
 * outputs) and runs tfjs's `mul(dy, step(y))` where it is not registered.
 */
export { RELU_GRAD };

/**
 * ReluGrad in one pass: the WebAssembly SIMD loop (wasm_simd.ts, reluGrad) over all but the last
 * (size mod 4) elements, JavaScript for those, or JavaScript for all without SIMD. The same bits as
 * tfjs-backend-wasm's Step then Multiply (NaN where y is NaN, −0 where dy < 0 and y ≤ 0), which read
 * and write 5 tensor-sized streams and allocate step(y); this reads 2 and writes 1.
 */
export const reluGrad: KernelFunc = ({ inputs, backend }) => {
  const wasm = backend as WasmBackend;
  const { dy, y } = inputs as { dy: TensorInfo; y: TensorInfo };
  if (dy.dtype !== "float32" || y.dtype !== "float32") {
    throw new Error(`${RELU_GRAD} on wasm: dy is ${dy.dtype} and y is ${y.dtype}; both must be float32`);
  }
  if (dy.shape.length !== y.shape.length || dy.shape.some((d, i) => d !== y.shape[i])) {
    throw new Error(`${RELU_GRAD} on wasm: dy [${dy.shape}] and y [${y.shape}] must have the same shape`);
  }
  const dx = wasm.makeOutput(dy.shape, "float32");
  const count = util.sizeFromShape(dy.shape);
  const simd = wasmSimdKernels(wasm);
  const vectorized = simd ? count - (count % 4) : 0;
  simd?.reluGrad(heapOffset(wasm, dy), heapOffset(wasm, y), heapOffset(wasm, dx), count);
  // Views after the last makeOutput (allocating may grow the heap).
  const dyValues = wasm.typedArrayFromHeap(dy);
  const yValues = wasm.typedArrayFromHeap(y);
  const dxValues = wasm.typedArrayFromHeap(dx);
  for (let i = vectorized; i < count; i++) {
    const v = yValues[i] as number;
    dxValues[i] = (dyValues[i] as number) * (v > 0 ? 1 : Number.isNaN(v) ? v : 0);
  }
  return dx;
};

export const reluGradConfig: KernelConfig = { kernelName: RELU_GRAD, backendName: "wasm", kernelFunc: reluGrad };
