import * as tf from "@tensorflow/tfjs-core";
import type { Batch } from "../spec.js";
import type { ImageSet } from "./image-set.js";

export interface BatchOptions {
  batchSize: number;
  /** Square side to resize to (bilinear). Default: the images' own size. */
  inputSize?: number;
  /** Shuffle the order (d2l shuffles the training set every epoch). Default false. */
  shuffle?: boolean;
  /** Seed of the shuffle; with `epoch`, fixes the order so a resumed run sees the same batches. */
  seed?: number;
  /** Epoch number mixed into the seed, so each epoch has its own order. */
  epoch?: number;
}

/** mulberry32: a small, fast, well-distributed 32-bit PRNG; enough for shuffling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates order of `count` indices, fixed by (seed, epoch). */
export function shuffledOrder(count: number, seed: number, epoch = 0): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  const random = seededRandom(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35));
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}

export function batchCount(set: ImageSet, batchSize: number): number {
  return Math.ceil(set.count / batchSize);
}

/**
 * Yields batches converted on demand: only one batch is ever float32 (60,000 images at 224² would be
 * 12 GB). The last, partial batch is kept. The caller disposes `xs` and `labels`.
 */
export function* batches(set: ImageSet, options: BatchOptions): Generator<Batch> {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const inputSize = options.inputSize ?? set.height;
  const order = options.shuffle ? shuffledOrder(set.count, options.seed ?? 0, options.epoch ?? 0) : undefined;
  const pixels = set.height * set.width;
  for (let start = 0; start < set.count; start += batchSize) {
    const size = Math.min(batchSize, set.count - start);
    const values = new Float32Array(size * pixels);
    const labels = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const index = order ? order[start + i]! : start + i;
      const src = set.images.subarray(index * pixels, (index + 1) * pixels);
      const offset = i * pixels;
      for (let p = 0; p < pixels; p++) values[offset + p] = src[p]! / 255;
      labels[i] = set.labels[index]!;
    }
    const xs = tf.tidy(() => {
      const images = tf.tensor4d(values, [size, set.height, set.width, 1]);
      if (inputSize === set.height && inputSize === set.width) return images;
      // Half-pixel centres, as torchvision's Resize (align_corners=False) that d2l uses.
      return tf.image.resizeBilinear(images, [inputSize, inputSize], false, true);
    });
    yield { xs, labels: tf.tensor1d(labels, "int32"), size };
  }
}
