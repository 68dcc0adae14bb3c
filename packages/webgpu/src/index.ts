import {
  _FusedMatMul,
  BatchMatMul,
  Conv2DBackpropFilter,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  Transpose,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.js";
import { matMulConfig } from "./mat_mul.js";

export { splitK, TARGET_WORKGROUPS } from "./conv2d_backprop_filter.js";

/** Why `@convnets/webgpu` registers a kernel on the 'webgpu' backend. */
export interface WebgpuTrainingKernel {
  name: string;
  /**
   * Against tfjs-backend-webgpu 4.22: `incorrect`, its kernel gives wrong results on some shapes (here and
   * only there, tfjs's kernel runs on a corrected input); `faster`, its kernel is correct but leaves most of
   * a GPU idle.
   */
  reason: "incorrect" | "faster";
}

/**
 * The kernels registerWebgpuTrainingKernels provides:
 * - BatchMatMul and _FusedMatMul: tfjs's split-K product with `transposeB` (one product, inner size ≥ 2000,
 *   few output tiles) reads B along the wrong axis (relative error ~1.5): a dense layer's input gradient
 *   dy · Wᵀ at AlexNet's and VGG's widths. There B is transposed first.
 * - Conv2DBackpropFilter: tfjs's is one invocation per weight with a serial loop over batch × output
 *   positions; ours is a tiled product with that reduction split across workgroups (conv2d_backprop_filter.ts).
 * tfjs's Conv2DBackpropInput is already a tiled product for channels-last inputs (Conv2DDerInputMMProgram):
 * not replaced.
 */
export const WEBGPU_TRAINING_KERNELS: readonly WebgpuTrainingKernel[] = [
  { name: BatchMatMul, reason: "incorrect" },
  { name: _FusedMatMul, reason: "incorrect" },
  { name: Conv2DBackpropFilter, reason: "faster" },
];

/** Kernel functions registered here, so that a second call neither re-registers nor wraps its own wrapper. */
const ours = new WeakSet<KernelFunc>();

function install(config: KernelConfig): void {
  if (getKernel(config.kernelName, "webgpu")) unregisterKernel(config.kernelName, "webgpu");
  ours.add(config.kernelFunc);
  registerKernel(config);
}

function builtin(name: string): KernelConfig {
  const kernel = getKernel(name, "webgpu");
  if (!kernel) throw new Error(`the webgpu backend has no ${name} kernel: import @tensorflow/tfjs-backend-webgpu@4.22.0 first`);
  return kernel;
}

/**
 * Registers on tfjs's 'webgpu' backend the kernels of WEBGPU_TRAINING_KERNELS. Call it after
 * `@tensorflow/tfjs-backend-webgpu` is imported (its kernels are wrapped or kept as fallbacks); before or
 * after `tf.setBackend('webgpu')`. Idempotent: later calls change nothing. Returns the kernel names.
 */
export function registerWebgpuTrainingKernels(): string[] {
  const transpose = builtin(Transpose);
  for (const name of [BatchMatMul, _FusedMatMul]) {
    const current = builtin(name);
    if (!ours.has(current.kernelFunc)) install(matMulConfig(current, transpose));
  }
  const filter = builtin(Conv2DBackpropFilter);
  if (!ours.has(filter.kernelFunc)) install(conv2DBackpropFilterConfig(filter.kernelFunc));
  return WEBGPU_TRAINING_KERNELS.map((k) => k.name);
}
