import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { batches } from "./data/batches.js";
import type { ImageSet } from "./data/fashion-mnist.js";

export interface EvaluateOptions {
  batchSize?: number;
  inputSize?: number;
}

export interface Evaluation {
  accuracy: number;
  /** `confusion[trueClass][predictedClass]` counts. */
  confusion: number[][];
  /** Accuracy of each true class (NaN for a class with no examples). */
  perClass: number[];
  /** Predicted class of every example, in the set's order. */
  predictions: Uint8Array;
  count: number;
}

/**
 * Accuracy, per-class accuracy and confusion matrix of a logits model on a set (inference mode). Reads
 * results asynchronously: a GPU engine (webgpu in Node) has no synchronous read.
 */
export async function evaluate(model: LayersModel, set: ImageSet, options: EvaluateOptions = {}): Promise<Evaluation> {
  const batchSize = options.batchSize ?? 256;
  const numClasses = model.outputs[0]!.shape[1] as number;
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  const predictions = new Uint8Array(set.count);
  let offset = 0;
  for (const { xs, labels, size } of batches(set, { batchSize, inputSize: options.inputSize })) {
    const predicted = tf.tidy(() => tf.argMax(model.predict(xs) as tf.Tensor2D, 1));
    let p: Int32Array | Float32Array | Uint8Array;
    let t: Int32Array | Float32Array | Uint8Array;
    try {
      [p, t] = (await Promise.all([predicted.data(), labels.data()])) as [Int32Array, Int32Array];
    } finally {
      tf.dispose([xs, labels, predicted]);
    }
    for (let i = 0; i < size; i++) {
      predictions[offset + i] = p[i]!;
      confusion[t[i]!]![p[i]!]!++;
    }
    offset += size;
  }
  const correct = confusion.reduce((sum, row, i) => sum + row[i]!, 0);
  const perClass = confusion.map((row, i) => row[i]! / row.reduce((a, b) => a + b, 0));
  return { accuracy: correct / set.count, confusion, perClass, predictions, count: set.count };
}
