export {
  registerWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
  type WasmTrainingKernel,
} from "./kernels/index.js";
export {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  CUSTOM_KERNEL_NAMES,
  RELU_GRAD,
} from "./kernels/kernel_names.js";
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
