export { type BatchOptions, batchCount, batches, seededRandom, shuffledOrder } from "./data/batches.js";
export {
  candidateDirs,
  DEBIAN_FASHION_MNIST_DIR,
  defaultCacheDir,
  downloadFashionMnist,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_SHA256,
  FASHION_MNIST_URL,
  type FashionMnist,
  type ImageSet,
  type LoadFashionMnistOptions,
  loadFashionMnist,
  takeImages,
} from "./data/fashion-mnist.js";
export { type IdxArray, IdxFormatError, parseIdx, readIdx } from "./data/idx.js";
export { ENGINE_PREFERENCES, type EngineInfo, type EngineOptions, type EnginePreference, setupEngine } from "./engine.js";
export { type Evaluation, type EvaluateOptions, evaluate } from "./evaluate.js";
export { initXavierUniform } from "./init.js";
export { fuseConvolutionRelu, skipInputGradient } from "./input-gradient.js";
export { loadModel, saveModel } from "./io.js";
export {
  type Batch,
  type BuildOptions,
  type ModelSpec,
  type Recipe,
  resolveInputShape,
  resolveNumClasses,
  smallestInputSize,
  type Window,
  windowOutputSize,
} from "./model.js";
export { formatSummary, type LayerRow, type ModelSummary, summary } from "./summary.js";
export { type LossGradients, lossGradients } from "./backprop.js";
export { type StepResult, TrainStep } from "./train-step.js";
export {
  type BatchProgress,
  DivergedError,
  type EpochMetrics,
  type TrainData,
  type TrainOptions,
  type TrainResult,
  train,
} from "./train.js";
