export {
  registerWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
  type WasmTrainingKernel,
} from "./kernels/index.js";
export { kernelLimits } from "./kernels/wasm.js";
export { wasmSimd } from "./kernels/wasm_simd.js";
export {
  availableCores,
  MAX_THREADS,
  parseThreads,
  setupWasm,
  type WasmEngine,
  type WasmOptions,
} from "./setup.js";
