/**
 * `@convnets/core/model`: what a network package needs to define a model — the ModelSpec contract, input
 * checks and window arithmetic — and nothing that touches Node (no fs, no engine, no data; only tfjs-layers), so network
 * packages stay usable in a browser bundle.
 */
export { applyTo, type ConvArgs, conv, convRelu, globalAvgPoolClassifier, maxPool } from "./layers.js";
export { resolveInputShape, resolveNumClasses } from "./shapes.js";
export type { Batch, BuildOptions, ModelSpec, Recipe } from "./spec.js";
export { smallestInputSize, type Window, windowOutputSize } from "./windows.js";
