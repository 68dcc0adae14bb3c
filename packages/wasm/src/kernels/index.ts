import {
  Add,
  AvgPoolGrad,
  BatchMatMul,
  Concat,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  engine,
  getKernel,
  Identity,
  type KernelConfig,
  type KernelFunc,
  MaxPoolGrad,
  Mean,
  Multiply,
  RealDiv,
  registerKernel,
  Slice,
  SplitV,
  Sub,
  Sum,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { avgPoolGradConfig } from "./avg_pool_grad.js";
import { batchMatMulConfig } from "./batch_mat_mul.js";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  batchNormTrainingBackwardConfig,
  batchNormTrainingForwardConfig,
} from "./batch_norm.js";
import { CHANNEL_BROADCAST_KERNELS, channelBroadcastConfig } from "./broadcast.js";
import { concatConfig } from "./concat.js";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.js";
import { conv2DBackpropInputConfig } from "./conv2d_backprop_input.js";
import { identityConfig } from "./identity.js";
import { maxPoolGradConfig } from "./max_pool_grad.js";
import { reductionConfig } from "./reduce.js";
import { RELU_GRAD, reluGradConfig } from "./relu_grad.js";
import { sliceConfig } from "./slice.js";
import { splitVConfig } from "./split_v.js";
import type { WasmBackend } from "./wasm.js";
import { wasmSimdSupported } from "./wasm_simd.js";

/** Why convnets registers a kernel on the wasm backend. */
export interface WasmTrainingKernel {
  name: string;
  /**
   * Against tfjs-backend-wasm 4.22: `missing`, it has none and training throws; `incorrect`, its kernel gives
   * wrong results; `faster`, its kernel is correct but a scalar loop many times slower than ours (Identity:
   * it copies the data where sharing it is enough); `fused`, a kernel tfjs does not define, that does in one
   * call the work of several of its kernels, for an op of convnets that looks it up and otherwise runs
   * those tfjs ops (BatchNormTrainingForward and BatchNormTrainingBackward, for `@convnets/batchnorm`;
   * ReluGrad, for `@convnets/core`'s ReLU gradients).
   */
  reason: "missing" | "incorrect" | "faster" | "fused";
}

/**
 * The kernels registerWasmTrainingKernels provides. Found by computing gradients on wasm for every op
 * the seven networks use (conv2d in all their geometries, pooling, activations, dense, concat, add,
 * mean, dropout, softmax cross-entropy, the from-scratch BatchNorm) and comparing them with the cpu
 * backend: only Conv2DBackpropFilter is missing; MaxPoolGrad is wrong for windows whose inputs are all
 * ≤ 0; Conv2DBackpropInput, transposed BatchMatMul and AvgPoolGrad are scalar loops that dominate a
 * training step (see bench/kernels.ts), as are Sum and Mean over all axes but the last and Add, Sub,
 * Multiply and RealDiv by a per-channel vector of few channels; Identity copies what it could share;
 * SplitV and Slice (the gradients of Concat and of padding) copy the whole input out of the heap first,
 * and Concat copies each row through a new JavaScript subarray.
 * BatchNormTrainingForward and BatchNormTrainingBackward (batch_norm.ts) are training-mode batch
 * normalisation in two calls instead of ~15 elementwise and reduction kernels per layer and step;
 * ReluGrad (relu_grad.ts) is a ReLU's gradient dy · step(y) in one pass instead of Step then Multiply.
 */
export const WASM_TRAINING_KERNELS: readonly WasmTrainingKernel[] = [
  { name: Conv2DBackpropFilter, reason: "missing" },
  { name: MaxPoolGrad, reason: "incorrect" },
  { name: Conv2DBackpropInput, reason: "faster" },
  { name: BatchMatMul, reason: "faster" },
  { name: AvgPoolGrad, reason: "faster" },
  { name: Identity, reason: "faster" },
  { name: Sum, reason: "faster" },
  { name: Mean, reason: "faster" },
  { name: Add, reason: "faster" },
  { name: Sub, reason: "faster" },
  { name: Multiply, reason: "faster" },
  { name: RealDiv, reason: "faster" },
  { name: SplitV, reason: "faster" },
  { name: Concat, reason: "faster" },
  { name: Slice, reason: "faster" },
  { name: BATCH_NORM_TRAINING_FORWARD, reason: "fused" },
  { name: BATCH_NORM_TRAINING_BACKWARD, reason: "fused" },
  { name: RELU_GRAD, reason: "fused" },
];

/** Kernel functions registered here, so that a second call neither re-registers nor wraps its own wrapper. */
const ours = new WeakSet<KernelFunc>();

function install(config: KernelConfig): void {
  const current = getKernel(config.kernelName, "wasm");
  if (current) unregisterKernel(config.kernelName, "wasm");
  ours.add(config.kernelFunc);
  registerKernel(config);
}

/**
 * Registers on the 'wasm' backend every kernel it lacks for training the convnets networks, replaces its
 * incorrect MaxPoolGrad, and replaces the built-in kernels listed as `faster` in WASM_TRAINING_KERNELS,
 * mostly with compositions of the backend's own XNNPACK operators or copies of contiguous runs (those
 * built-ins stay as fallbacks for the cases ours do not cover), and adds the `fused` kernels (batch
 * normalisation, ReluGrad) where their WebAssembly SIMD loops can run (wasm_simd.ts, wasmSimdSupported:
 * the engine has SIMD and, if the backend is already initialised, its memory can be found). Idempotent:
 * later calls change nothing. Returns the names of the kernels convnets provides on wasm
 * (WASM_TRAINING_KERNELS, less the fused ones where they were not registered). Works before or after the
 * wasm backend is initialised.
 */
export function registerWasmTrainingKernels(): string[] {
  const filter = getKernel(Conv2DBackpropFilter, "wasm");
  if (!filter || !ours.has(filter.kernelFunc)) install(conv2DBackpropFilterConfig);

  const maxPool = getKernel(MaxPoolGrad, "wasm");
  if (!maxPool || !ours.has(maxPool.kernelFunc)) install(maxPoolGradConfig);

  const input = getKernel(Conv2DBackpropInput, "wasm");
  if (!input || !ours.has(input.kernelFunc)) {
    install({ ...conv2DBackpropInputConfig(input?.kernelFunc), setupFunc: input?.setupFunc });
  }

  const matMul = getKernel(BatchMatMul, "wasm");
  if (!matMul) {
    throw new Error("the wasm backend has no BatchMatMul kernel: is @tensorflow/tfjs-backend-wasm@4.22.0 imported?");
  }
  if (!ours.has(matMul.kernelFunc)) install({ ...batchMatMulConfig(matMul.kernelFunc), setupFunc: matMul.setupFunc });

  const avgPool = getKernel(AvgPoolGrad, "wasm");
  if (!avgPool || !ours.has(avgPool.kernelFunc)) {
    install({ ...avgPoolGradConfig(avgPool?.kernelFunc), setupFunc: avgPool?.setupFunc });
  }

  const identity = getKernel(Identity, "wasm");
  if (!identity || !ours.has(identity.kernelFunc)) {
    install({ ...identityConfig(identity?.kernelFunc), setupFunc: identity?.setupFunc });
  }

  for (const kind of ["Sum", "Mean"] as const) {
    const reduction = getKernel(kind, "wasm");
    if (!reduction)
      throw new Error(`the wasm backend has no ${kind} kernel: is @tensorflow/tfjs-backend-wasm@4.22.0 imported?`);
    if (!ours.has(reduction.kernelFunc)) {
      install({ ...reductionConfig(kind, reduction.kernelFunc), setupFunc: reduction.setupFunc });
    }
  }

  for (const name of CHANNEL_BROADCAST_KERNELS) {
    const binary = getKernel(name, "wasm");
    if (!binary)
      throw new Error(`the wasm backend has no ${name} kernel: is @tensorflow/tfjs-backend-wasm@4.22.0 imported?`);
    if (!ours.has(binary.kernelFunc))
      install({ ...channelBroadcastConfig(name, binary.kernelFunc), setupFunc: binary.setupFunc });
  }

  for (const [name, config] of [
    [SplitV, splitVConfig],
    [Concat, concatConfig],
    [Slice, sliceConfig],
  ] as const) {
    const copy = getKernel(name, "wasm");
    if (!copy)
      throw new Error(`the wasm backend has no ${name} kernel: is @tensorflow/tfjs-backend-wasm@4.22.0 imported?`);
    if (!ours.has(copy.kernelFunc)) install({ ...config(copy.kernelFunc), setupFunc: copy.setupFunc });
  }

  // Only where their SIMD loops run: their JavaScript loops are slower than the tfjs ops they replace,
  // which @convnets/batchnorm and @convnets/core run when the kernels are not registered.
  const initialised = engine().registry["wasm"] as WasmBackend | undefined;
  if (wasmSimdSupported(initialised)) {
    for (const config of [batchNormTrainingForwardConfig, batchNormTrainingBackwardConfig, reluGradConfig]) {
      const fused = getKernel(config.kernelName, "wasm");
      if (!fused || !ours.has(fused.kernelFunc)) install(config);
    }
  }

  return WASM_TRAINING_KERNELS.filter((k) => k.reason !== "fused" || getKernel(k.name, "wasm")).map((k) => k.name);
}
