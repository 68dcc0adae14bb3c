/**
 * `@convnets/core/browser`: the part of core that runs in a browser page as it runs in Node — the training
 * loop (`train`, `TrainStep`, `lossGradients`), `evaluate`, batches, the IDX parser and image sets,
 * summaries, the chart of the training curves, and everything of `@convnets/model`. No `node:` module
 * is on its import path (a test bundles it for the browser and checks); what reads or writes files,
 * downloads, or picks an engine by probing the machine is in the Node entry, `@convnets/core`, which
 * re-exports all of this.
 */
export { type LossGradients, lossGradients } from "./backprop.js";
export { CURVE_SERIES, type CurvesSpec, curvesSpec } from "./curves.js";
export { type BatchOptions, batchCount, batches, seededRandom, shuffledOrder } from "./data/batches.js";
export {
  type IdxArray,
  IdxFormatError,
  IdxParser,
  parseIdx,
  readIdxStream,
} from "./data/idx.js";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_FILES,
  type ImageSet,
  readImageSets,
  takeImages,
  toImageSet,
} from "./data/image-set.js";
export { type EvaluateOptions, type Evaluation, evaluate } from "./evaluate.js";
export { fuseConvolutionRelu, reluGradientFromOutput, skipInputGradient, TrainingCalls } from "./input-gradient.js";
export * from "./model.js";
export {
  type BatchProgress,
  DIVERGENCE_FACTOR,
  DivergedError,
  divergenceBound,
  type EpochMetrics,
  type TrainData,
  type TrainOptions,
  type TrainResult,
  train,
} from "./train.js";
export { type StepResult, TrainStep } from "./train-step.js";
