// Importing this module registers ConvnetsBatchNorm with tfjs's serialization registry
// (a side effect, declared in package.json's sideEffects), so saved models load.
export { type BatchNormArgs, batchNorm, ConvnetsBatchNorm, type LayerArgs } from "./batchnorm.js";
