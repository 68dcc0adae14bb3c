/**
 * `@convnets/model`: what a network package needs to define a network, and what a trainer needs to find one — the
 * ModelSpec contract, the registry, layer helpers that give predictable names, input checks, window arithmetic, the
 * shape walk, the book's initial weights and the custom kernel names. Only tfjs-core and tfjs-layers: no engine, no
 * data, no `node:` module, so a network package stays small and runs in a browser bundle.
 */

export { initXavierUniform } from "./init.js";
export * as kernelNames from "./kernel-names.js";
export { CONVNETS_KERNEL_NAMES, type ConvnetsKernelName } from "./kernel-names.js";
export {
  activation,
  applyTo,
  avgPool,
  type ConvArgs,
  conv,
  convRelu,
  dense,
  denseReluDropout,
  dropout,
  flatten,
  globalAvgPoolClassifier,
  INPUT,
  imageInput,
  LOGITS,
  logits,
  maxPool,
  XAVIER_INIT,
} from "./layers.js";
export { LAYER_NAME } from "./naming.js";
export {
  createModel,
  editDistance,
  findModelSpec,
  getModelSpec,
  listModels,
  registerModel,
  unregisterModel,
} from "./registry.js";
export { resolveInputShape, resolveNumClasses } from "./shapes.js";
export type { BuildOptions, ModelSpec, Recipe } from "./spec.js";
export { formatSummary, type LayerRow, type ModelSummary, summary } from "./summary.js";
export { smallestInputSize, type Window, windowOutputSize } from "./windows.js";
