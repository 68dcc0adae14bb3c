import { batches, type ImageSet, TrainStep } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { median } from "./median.js";

export interface Estimate {
  /** Seconds per training batch (conversion + forward + backward + update), median of the timed batches. */
  trainBatchSeconds: number;
  /** Seconds per test batch (inference only). */
  testBatchSeconds: number;
  trainBatches: number;
  testBatches: number;
  /** Seconds for the epochs still to run. */
  totalSeconds: number;
  /** Training batches timed after the warm-up ones. */
  timed: number;
}

/** Untimed steps run at least this long before timing (one step, where a step takes longer). */
const WARM_UP_MS = 1500;

export interface EstimateOptions {
  lr: number;
  batchSize: number;
  inputSize: number;
  seed: number;
  epochs: number;
  /** Training batches to time after the warm-up one. Default 3. */
  timed?: number;
}

/**
 * Times a few real training steps and one test batch, and extrapolates to the whole run. Steps are
 * first run untimed for at least one step and WARM_UP_MS: the first pays for kernel set-up, and the
 * wasm engine's JavaScript kernels run several times slower until V8 has compiled them (LeNet: 95 ms
 * per step after one warm-up step, 55 ms once warm, so the estimate said 3m 52s for a 2m 19s run). The model's weights, moving statistics included, are
 * restored afterwards, so the run trains exactly as if no batch had been timed.
 */
export async function estimateRun(
  model: LayersModel,
  data: { train: ImageSet; test: ImageSet },
  options: EstimateOptions,
): Promise<Estimate> {
  const { lr, batchSize, inputSize, seed } = options;
  const snapshot = model.getWeights().map((w) => w.clone());
  const step = new TrainStep(model, lr);
  const steps: number[] = []; // seconds per step, warm-up steps first
  const timed = options.timed ?? 3;
  let warmUp = 0;
  const warmUpStart = performance.now();
  try {
    let start = performance.now();
    for (const { xs, labels } of batches(data.train, { batchSize, inputSize, shuffle: true, seed, epoch: 1 })) {
      const { loss, correct } = step.run(xs, labels);
      await loss.data();
      tf.dispose([xs, labels, loss, correct]);
      const now = performance.now();
      steps.push((now - start) / 1000);
      if (warmUp === steps.length - 1 && (warmUp === 0 || now - warmUpStart < WARM_UP_MS)) warmUp++;
      if (steps.length - warmUp >= timed) break;
      start = performance.now();
    }
  } finally {
    model.setWeights(snapshot);
    tf.dispose(snapshot);
    step.dispose();
  }
  // A training set too small to warm up on: its last step is the best there is.
  const times = steps.length > warmUp ? steps.slice(warmUp) : steps.slice(-1);
  const trainBatchSeconds = median(times);

  const testTimes: number[] = [];
  for (const { xs, labels } of batches(data.test, { batchSize, inputSize })) {
    const start = performance.now();
    const predicted = tf.tidy(() => tf.argMax(model.predict(xs) as tf.Tensor, 1));
    await predicted.data();
    tf.dispose([xs, labels, predicted]);
    testTimes.push((performance.now() - start) / 1000);
    if (testTimes.length >= 2) break;
  }
  const testBatchSeconds = testTimes[testTimes.length - 1]!;
  const trainBatches = Math.ceil(data.train.count / batchSize);
  const testBatches = Math.ceil(data.test.count / batchSize);
  return {
    trainBatchSeconds,
    testBatchSeconds,
    trainBatches,
    testBatches,
    totalSeconds: options.epochs * (trainBatches * trainBatchSeconds + testBatches * testBatchSeconds),
    timed: times.length,
  };
}
