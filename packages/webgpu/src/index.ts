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
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  batchNormTrainingBackwardConfig,
  batchNormTrainingForwardConfig,
} from "./batch_norm.js";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.js";
import { matMulConfig } from "./mat_mul.js";
import { RELU_GRAD, reluGradConfig } from "./relu_grad.js";

export { BATCH_NORM_TRAINING_BACKWARD, BATCH_NORM_TRAINING_FORWARD, splitRows } from "./batch_norm.js";
export { splitK, TARGET_WORKGROUPS } from "./conv2d_backprop_filter.js";
export { RELU_GRAD } from "./relu_grad.js";

/** Why `@convnets/webgpu` registers a kernel on the 'webgpu' backend. */
export interface WebgpuTrainingKernel {
  name: string;
  /**
   * Against tfjs-backend-webgpu 4.22: `incorrect`, its kernel gives wrong results on some shapes (here and
   * only there, tfjs's kernel runs on a corrected input); `faster`, its kernel is correct but leaves most of
   * a GPU idle; `fused`, a kernel tfjs does not define, doing in one call the work of several of its kernels
   * (for `@convnets/batchnorm` and `@convnets/core`, which look these names up and run tfjs ops without them).
   */
  reason: "incorrect" | "faster" | "fused";
}

/**
 * The kernels registerWebgpuTrainingKernels provides:
 * - BatchMatMul and _FusedMatMul: tfjs's split-K product with `transposeB` (one product, inner size ≥ 2000,
 *   few output tiles) reads B along the wrong axis (relative error ~1.5): a dense layer's input gradient
 *   dy · Wᵀ at AlexNet's and VGG's widths. There B is transposed first.
 * - Conv2DBackpropFilter: tfjs's is one invocation per weight with a serial loop over batch × output
 *   positions; ours is a tiled product with that reduction split across workgroups (conv2d_backprop_filter.ts).
 * - BatchNormTrainingForward and BatchNormTrainingBackward (batch_norm.ts): training-mode batch
 *   normalisation, statistics in one pass over x, the gradient in two, where tfjs ops take ~15 kernels each way.
 * - ReluGrad (relu_grad.ts): a ReLU's gradient dy · step(y) in one pass instead of Step then Multiply.
 * tfjs's Conv2DBackpropInput is already a tiled product for channels-last inputs (Conv2DDerInputMMProgram):
 * not replaced.
 */
export const WEBGPU_TRAINING_KERNELS: readonly WebgpuTrainingKernel[] = [
  { name: BatchMatMul, reason: "incorrect" },
  { name: _FusedMatMul, reason: "incorrect" },
  { name: Conv2DBackpropFilter, reason: "faster" },
  { name: BATCH_NORM_TRAINING_FORWARD, reason: "fused" },
  { name: BATCH_NORM_TRAINING_BACKWARD, reason: "fused" },
  { name: RELU_GRAD, reason: "fused" },
];

/** Kernel functions registered here, so that a second call neither re-registers nor wraps its own wrapper. */
const ours = new WeakSet<KernelFunc>();
/** tfjs's kernels that ours replaced, by name. */
const replaced = new Map<string, KernelConfig>();

function install(config: KernelConfig): void {
  const current = getKernel(config.kernelName, "webgpu");
  if (current) {
    if (!ours.has(current.kernelFunc)) replaced.set(config.kernelName, current);
    unregisterKernel(config.kernelName, "webgpu");
  }
  ours.add(config.kernelFunc);
  registerKernel(config);
}

/**
 * tfjs-backend-webgpu's own kernel that registerWebgpuTrainingKernels replaced under `name`, for comparisons
 * (tests, benchmarks: register it back to measure tfjs's); undefined where none was replaced (the fused
 * kernels are new names).
 */
export function replacedKernel(name: string): KernelConfig | undefined {
  return replaced.get(name);
}

function builtin(name: string): KernelConfig {
  const kernel = getKernel(name, "webgpu");
  if (!kernel)
    throw new Error(`the webgpu backend has no ${name} kernel: import @tensorflow/tfjs-backend-webgpu@4.22.0 first`);
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
  for (const config of [batchNormTrainingForwardConfig, batchNormTrainingBackwardConfig, reluGradConfig]) {
    const current = getKernel(config.kernelName, "webgpu");
    if (!current || !ours.has(current.kernelFunc)) install(config);
  }
  return WEBGPU_TRAINING_KERNELS.map((k) => k.name);
}
