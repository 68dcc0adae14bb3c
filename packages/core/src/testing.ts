/**
 * `@convnets/core/testing`: what the network packages' tests compute again and again, computed once. The
 * helpers below return plain numbers and arrays and assert nothing: the test says what they must be. The
 * checks every network runs (architecture, training, gradients) are suites built from one row per network,
 * in `testing/network-checks.ts`; they assert through the `describe`/`it`/`expect` the test passes in, so
 * core still needs no test runner.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initXavierUniform, type LayerRow, summary } from "@convnets/model";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel, LayerVariable, Shape } from "@tensorflow/tfjs-layers";
import { batches } from "./data/batches.js";
import { type ImageSet, takeImages } from "./data/fashion-mnist.js";
import { type EnginePreference, setupEngine } from "./engine.js";
import { loadModel, saveModel } from "./io.js";
import type { Batch } from "./spec.js";
import { TrainStep } from "./train-step.js";

/** The first `count` images of a set, resized to `inputSize`, as one batch (the caller disposes it). */
export function firstImages(set: ImageSet, count: number, inputSize: number): Batch {
  const { value } = batches(takeImages(set, count), { batchSize: count, inputSize }).next();
  if (!value) throw new Error("firstImages: the set has no images");
  return value;
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Parameters in `weights` counted from their shapes, as PyTorch's sum of `p.numel()`. */
export function paramCount(weights: readonly LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * b!, 1), 0);
}

/** A layer's output shape as tfjs infers it, batch dimension `null`: what the book's shape tables list. */
export function outputShape(model: LayersModel, layer: string): Shape | Shape[] {
  return model.getLayer(layer).outputShape;
}

/** PyTorch's class name for the tfjs layers the book's networks use. */
const TORCH_CLASS: Record<string, string> = {
  Conv2D: "Conv2d",
  ReLU: "ReLU",
  MaxPooling2D: "MaxPool2d",
  Flatten: "Flatten",
  Dense: "Linear",
  Dropout: "Dropout",
};

/** Which rows {@link bookWalk} prints, and under what name. */
export interface BookWalkOptions {
  /** Keeps a layer's row. Default: every layer. */
  keep?: (row: LayerRow) => boolean;
  /** The row's name where it is not PyTorch's class name (a `Sequential` block, …); `undefined` keeps that. */
  rename?: (row: LayerRow) => string | undefined;
}

/**
 * The model's shape walk as the book prints it (`for layer in net: X = layer(X); print(…)`), to compare with
 * the shapes the book's PyTorch code prints: one `[PyTorch class name, output shape]` row per kept layer of {@link summary}, the shape
 * channels first and without the batch dimension.
 */
export function bookWalk(model: LayersModel, options: BookWalkOptions = {}): [string, number[]][] {
  const { keep = () => true, rename = () => undefined } = options;
  return summary(model)
    .layers.filter(keep)
    .map((l) => {
      const s = l.outputShape;
      return [rename(l) ?? TORCH_CLASS[l.type] ?? l.type, s.length === 3 ? [s[2]!, s[0]!, s[1]!] : s];
    });
}

/** @deprecated Use {@link bookWalk}; this old name stays as an alias of it. */
export const seedWalk = bookWalk;
/** @deprecated Use {@link BookWalkOptions}. */
export type SeedWalkOptions = BookWalkOptions;

/** Mean softmax cross-entropy of a model's logits on a batch, in inference mode. */
function inferenceLoss(model: LayersModel, batch: Batch): number {
  return tf.tidy(() => {
    const logits = model.apply(batch.xs, { training: false }) as tf.Tensor2D;
    const loss = tf.losses.softmaxCrossEntropy(tf.oneHot(batch.labels, logits.shape[1]), logits);
    return loss.dataSync()[0]!;
  });
}

/**
 * The loss of `model` on one batch before and after `steps` SGD steps on that batch ({@link TrainStep}, the
 * training loop's step, at `lr`, which runs its own fused calls and leaves the model as it was): whether the network
 * learns at all. Both losses are measured in inference mode, so that they see the weights, not a dropout mask.
 */
export function lossBeforeAfterSgd(
  model: LayersModel,
  batch: Batch,
  options: { lr: number; steps: number },
): { before: number; after: number } {
  const step = new TrainStep(model, options.lr);
  try {
    const before = inferenceLoss(model, batch);
    for (let i = 0; i < options.steps; i++) {
      const { loss, correct } = step.run(batch.xs, batch.labels);
      tf.dispose([loss, correct]);
    }
    return { before, after: inferenceLoss(model, batch) };
  } finally {
    step.dispose();
  }
}

/** What {@link saveAndReload} gives back. */
export interface RoundTrip {
  /** The model as loadModel reads it back; the caller disposes it. */
  loaded: LayersModel;
  /** The saved model's predictions on the images. */
  expected: Float32Array;
  /** The loaded model's predictions on the same images. */
  actual: Float32Array;
}

/**
 * Saves `model` with saveModel, loads it back with loadModel and predicts `xs` with both. Into `dir` when
 * given (the test can then read the files); otherwise into a temporary directory, removed afterwards.
 */
export async function saveAndReload(model: LayersModel, xs: tf.Tensor4D, dir?: string): Promise<RoundTrip> {
  const scratch = dir === undefined ? await mkdtemp(join(tmpdir(), "convnets-round-trip-")) : undefined;
  try {
    const path = scratch === undefined ? dir! : join(scratch, "model");
    await saveModel(model, path);
    const loaded = await loadModel(path);
    return { loaded, expected: predictions(model, xs), actual: predictions(loaded, xs) };
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

function predictions(model: LayersModel, xs: tf.Tensor4D): Float32Array {
  return tf.tidy(() => Float32Array.from((model.predict(xs) as tf.Tensor).dataSync()));
}

/** How one trainable weight's gradient on a backend compares with a reference backend's. */
export interface GradientError {
  /** Index of the weight in `model.trainableWeights`. */
  weight: number;
  /** Max-norm of the reference gradient: max |g_ref|. */
  scale: number;
  /** Max-norm relative error: max |g − g_ref| / scale. */
  error: number;
}

/** The weights' gradients on two backends, compared. */
export interface GradientComparison {
  /** Trainable weights of the model built on `backend`. */
  weights: number;
  /** Trainable weights of the model built on `reference`. */
  referenceWeights: number;
  /** One entry per weight (as many as both models have). */
  errors: GradientError[];
}

/** Gradients of the training loss on `images` with respect to every trainable weight, on one backend. */
async function gradients(
  backend: EnginePreference,
  build: () => LayersModel,
  images: ImageSet,
  inputSize: number,
  seed: number,
): Promise<Float32Array[]> {
  await setupEngine(backend);
  const model = build();
  initXavierUniform(model, seed);
  const batch = firstImages(images, images.count, inputSize);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { grads } = tf.variableGrads(() => {
    const logits = model.apply(batch.xs, { training: true }) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(tf.oneHot(batch.labels, logits.shape[1]), logits) as tf.Scalar;
  }, variables);
  const result = variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
  tf.dispose([batch.xs, batch.labels, ...Object.values(grads)]);
  model.dispose();
  return result;
}

/**
 * The gradients of the training loss (softmax cross-entropy, training mode) on all of `images` at
 * `inputSize`, with respect to every trainable weight, computed on `backend` and on `reference` from the same
 * seeded Xavier-uniform weights, and their max-norm relative error weight by weight. Leaves `reference` the
 * active backend.
 */
export async function compareGradients(
  build: () => LayersModel,
  images: ImageSet,
  options: { inputSize: number; seed: number; backend: EnginePreference; reference: EnginePreference },
): Promise<GradientComparison> {
  const { inputSize, seed } = options;
  const tested = await gradients(options.backend, build, images, inputSize, seed);
  const reference = await gradients(options.reference, build, images, inputSize, seed);
  const errors = reference.slice(0, tested.length).map((b, weight) => {
    const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    return { weight, scale, error: maxAbsDifference(tested[weight]!, b) / scale };
  });
  return { weights: tested.length, referenceWeights: reference.length, errors };
}

export {
  type Assertion,
  architectureChecks,
  type BookWalk,
  gradientChecks,
  type LossFall,
  type NetworkCase,
  type ShapeWalk,
  type TestApi,
  trainingChecks,
} from "./testing/network-checks.js";
export { webgpuUnavailable } from "./webgpu.js";
