/**
 * The names of the custom kernels this package registers (tfjs defines none of them). `@convnets/model` is their
 * typed home, which `@convnets/batchnorm` and `@convnets/core` look them up by; this package imports nothing of
 * convnets, so that a plain tfjs user can take it alone, and keeps this one copy instead, which a test checks
 * equals the model package's (test/kernel-names.test.ts).
 */

/** Training-mode batch normalisation, forward: see batch_norm.ts. */
export const BATCH_NORM_TRAINING_FORWARD = "BatchNormTrainingForward";
/** Its closed-form gradient: see batch_norm.ts. */
export const BATCH_NORM_TRAINING_BACKWARD = "BatchNormTrainingBackward";
/** A ReLU's gradient from its output: see relu_grad.ts. */
export const RELU_GRAD = "ReluGrad";

/** Every custom kernel name this package registers. */
export const CUSTOM_KERNEL_NAMES = [BATCH_NORM_TRAINING_FORWARD, BATCH_NORM_TRAINING_BACKWARD, RELU_GRAD] as const;
