// Importing this module registers ConvnetsBatchNorm with tfjs's serialization registry
// (a side effect, declared in package.json's sideEffects), so saved models load.
export {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  type BatchNormArgs,
  batchNorm,
  batchNormKernels,
  ConvnetsBatchNorm,
  type LayerArgs,
} from "./batchnorm.js";
