/**
 * The custom kernels convnets registers on TensorFlow.js backends, by name: one typed home, as tfjs-core's
 * `kernel_names.ts` is for tfjs's own. `@convnets/batchnorm` and `@convnets/core` look them up by these names;
 * the engine packages register them under the same names. `@convnets/wasm` (and `@convnets/webgpu`) import nothing
 * of convnets, so that a plain tfjs user can take either alone: each keeps its own copy of the names it registers,
 * and its tests check that copy equals this one.
 */

/**
 * Training-mode batch normalisation, forward (statistics per channel over all leading axes, channels last):
 * inputs `{ x, gamma, beta }`, attrs `{ epsilon }`; outputs `[y, centered, mean, variance, invStd]`.
 */
export const BatchNormTrainingForward = "BatchNormTrainingForward";
export type BatchNormTrainingForward = typeof BatchNormTrainingForward;

/** Its closed-form gradient: inputs `{ dy, centered, invStd, gamma }`; outputs `[dx, dGamma, dBeta]`. */
export const BatchNormTrainingBackward = "BatchNormTrainingBackward";
export type BatchNormTrainingBackward = typeof BatchNormTrainingBackward;

/** A ReLU's gradient from its output (or input): inputs `{ dy, y }`, dx = dy · step(y). */
export const ReluGrad = "ReluGrad";
export type ReluGrad = typeof ReluGrad;

/** Every custom kernel name, for a backend package's check that its copy is the same. */
export const CONVNETS_KERNEL_NAMES = [BatchNormTrainingForward, BatchNormTrainingBackward, ReluGrad] as const;
export type ConvnetsKernelName = (typeof CONVNETS_KERNEL_NAMES)[number];
