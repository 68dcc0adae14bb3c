import { initXavierUniform } from "@convnets/model";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { batchCount, batches } from "./data/batches.js";
import type { ImageSet } from "./data/image-set.js";
import { evaluate } from "./evaluate.js";
import { nextTask } from "./next-task.js";
import { TrainStep } from "./train-step.js";

export interface TrainData {
  train: ImageSet;
  test: ImageSet;
}

/** Metrics of one epoch, as d2l's `train_ch6` prints them. */
export interface EpochMetrics {
  /** 1-based. */
  epoch: number;
  /** Mean training loss over the epoch's examples. */
  loss: number;
  trainAcc: number;
  testAcc: number;
  /** Training examples per second, training time only (batch conversion + step, not evaluation). */
  examplesPerSec: number;
  /** Training seconds of this epoch. */
  seconds: number;
}

export interface BatchProgress {
  epoch: number;
  /** 1-based batch number within the epoch. */
  batch: number;
  batches: number;
  /** Examples done so far this epoch. */
  examples: number;
  /** Loss of this batch. */
  loss: number;
  /** Running mean loss and accuracy over the epoch so far. */
  meanLoss: number;
  trainAcc: number;
  examplesPerSec: number;
}

export interface TrainOptions {
  /** Total number of epochs of the run (with `initialEpoch`, the epochs already done are skipped). */
  epochs: number;
  lr: number;
  batchSize: number;
  /** Square side images are resized to. Default: the data's own (28). */
  inputSize?: number;
  /** Seed of the per-epoch shuffle, of the Xavier init and of the dropout masks (with the step). Default 0. */
  seed?: number;
  /** Epochs already completed (resume). Default 0. Shuffles continue as if the run had not stopped. */
  initialEpoch?: number;
  /** Re-initialise conv/dense layers before a fresh run: Xavier-uniform kernels (d2l's `init_weights`), biases U(±1/√fan_in) as PyTorch draws them. Default true. */
  initialize?: boolean;
  /** Stops after the current batch; the unfinished epoch is discarded and `aborted` is set. */
  signal?: AbortSignal;
  onBatch?: (progress: BatchProgress) => void | Promise<void>;
  /** Called after each epoch, e.g. to write a checkpoint; awaited before the next epoch starts. */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
  /**
   * Stop with a DivergedError when a batch's loss passes this many times max(first batch's loss, ln(classes));
   * `false` stops only on NaN or infinity. Default DIVERGENCE_FACTOR (10).
   */
  divergence?: number | false;
}

export interface TrainResult {
  /** Epochs completed by this call. */
  history: EpochMetrics[];
  /** True when the signal stopped the run before `epochs`. */
  aborted: boolean;
}

/**
 * How far above its start a batch's loss may go before the run counts as diverged: `DIVERGENCE_FACTOR` ×
 * max(the first batch's loss, ln(classes)). Softmax cross-entropy is ln(classes) for a network that guesses
 * uniformly (2.30 for Fashion-MNIST's 10), and a freshly initialised network starts near it. Ten times that
 * (23 for 10 classes) means the true class gets a probability of about e^-23 ≈ 1e-10 on average: the logits
 * have blown up, and SGD at that learning rate does not come back (LeNet-BN at lr 1e30 reaches 6e30). Healthy
 * runs stay far below: LeNet and LeNet-BN at their recipes peaked at 2.98 and 2.79 over two epochs of 15,360
 * images (seeds 0 and 1, batch 256). The first loss counts when it is higher, so a network that starts badly
 * but learns is not stopped either.
 */
export const DIVERGENCE_FACTOR = 10;

/** The loss above which a batch stops the run (see DIVERGENCE_FACTOR). */
export function divergenceBound(firstLoss: number, numClasses: number, factor = DIVERGENCE_FACTOR): number {
  return factor * Math.max(firstLoss, Math.log(Math.max(2, numClasses)));
}

/** A loss that is NaN, infinite, or past the divergence bound: the run diverged. */
export class DivergedError extends Error {
  constructor(
    readonly epoch: number,
    readonly batch: number,
    readonly loss: number,
    readonly lr: number,
    /** The bound the loss exceeded; undefined when the loss is not finite. */
    readonly bound?: number,
    /** The factor the bound was made with (TrainOptions.divergence). */
    readonly factor = DIVERGENCE_FACTOR,
  ) {
    super(
      `training diverged: loss is ${loss} at epoch ${epoch}, batch ${batch}` +
        (bound !== undefined && Number.isFinite(loss)
          ? `, above ${Number(bound.toPrecision(3))} (${factor} × max(first loss, ln classes))`
          : "") +
        ` (lr ${lr}); try a smaller learning rate`,
    );
    this.name = "DivergedError";
  }
}

/**
 * The wasm engine has a 4 GiB address space; a batch whose activations and gradients exceed it dies inside
 * WebAssembly with "memory access out of bounds" or "Aborted()". Say what happened and what to change.
 */
function explainOutOfMemory(err: unknown, batchSize: number, inputSize: number): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const wasm = tf.getBackend() === "wasm";
  if (
    !wasm ||
    !(
      err instanceof WebAssembly.RuntimeError ||
      /out of memory|memory access out of bounds|Aborted\(|Cannot enlarge memory|Invalid typed array length|Array buffer allocation failed/i.test(
        message,
      )
    )
  ) {
    return err;
  }
  return new Error(
    `the wasm engine ran out of memory (it can address at most 4 GiB) training batches of ${batchSize} at ${inputSize}×${inputSize}: ` +
      `use a smaller batch size (e.g. ${Math.max(1, batchSize >> 2)}) or input size, or a GPU through @tensorflow/tfjs-node-gpu (${message})`,
  );
}

function checkOptions(options: TrainOptions): void {
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && (!Number.isInteger(v) || v < 1))
      throw new Error(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt("epochs", options.epochs);
  positiveInt("batchSize", options.batchSize);
  positiveInt("inputSize", options.inputSize);
  if (!(options.lr > 0) || !Number.isFinite(options.lr))
    throw new Error(`lr must be a positive number, got ${options.lr}`);
  const initial = options.initialEpoch ?? 0;
  if (!Number.isInteger(initial) || initial < 0) throw new Error(`initialEpoch must be an integer ≥ 0, got ${initial}`);
}

/**
 * d2l's `train_ch6`: minibatch SGD on softmax cross-entropy of the model's logits, the training set
 * reshuffled every epoch; after each epoch the mean training loss, training accuracy, test accuracy
 * and training examples/sec. The model must output logits (no softmax).
 */
export async function train(model: LayersModel, data: TrainData, options: TrainOptions): Promise<TrainResult> {
  checkOptions(options);
  const { epochs, lr, batchSize, signal } = options;
  const seed = options.seed ?? 0;
  const initialEpoch = options.initialEpoch ?? 0;
  const inputSize = options.inputSize ?? data.train.height;
  if (initialEpoch === 0 && options.initialize !== false) initXavierUniform(model, seed);
  const step = new TrainStep(model, lr, { seed });
  const history: EpochMetrics[] = [];
  const totalBatches = batchCount(data.train, batchSize);
  const numClasses = (model.outputs[0]!.shape[1] as number | null) ?? 2;
  const factor = options.divergence ?? DIVERGENCE_FACTOR;
  let bound = Number.POSITIVE_INFINITY;

  try {
    for (let epoch = initialEpoch + 1; epoch <= epochs; epoch++) {
      let lossSum = 0;
      let correct = 0;
      let examples = 0;
      let seconds = 0;
      let batch = 0;
      let aborted = false;
      let start = performance.now();
      for (const { xs, labels, size } of batches(data.train, { batchSize, inputSize, shuffle: true, seed, epoch })) {
        batch++;
        let result: ReturnType<TrainStep["run"]>;
        try {
          result = step.run(xs, labels, (epoch - 1) * totalBatches + batch - 1);
        } catch (err) {
          tf.dispose([xs, labels]);
          throw explainOutOfMemory(err, batchSize, inputSize);
        }
        const { loss, correct: batchCorrect } = result;
        const [lossValue] = await loss.data();
        const [correctValue] = await batchCorrect.data();
        tf.dispose([xs, labels, loss, batchCorrect]);
        seconds += (performance.now() - start) / 1000;
        if (!Number.isFinite(lossValue)) throw new DivergedError(epoch, batch, lossValue!, lr);
        if (factor !== false && bound === Number.POSITIVE_INFINITY)
          bound = divergenceBound(lossValue!, numClasses, factor);
        if (factor !== false && lossValue! > bound)
          throw new DivergedError(epoch, batch, lossValue!, lr, bound, factor);
        lossSum += lossValue! * size;
        correct += correctValue!;
        examples += size;
        await options.onBatch?.({
          epoch,
          batch,
          batches: totalBatches,
          examples,
          loss: lossValue!,
          meanLoss: lossSum / examples,
          trainAcc: correct / examples,
          examplesPerSec: examples / seconds,
        });
        // Let signal handlers (Ctrl-C) and a page's clicks run between batches.
        await nextTask();
        if (signal?.aborted) {
          aborted = true;
          break;
        }
        start = performance.now();
      }
      if (aborted) return { history, aborted: true };
      const { accuracy: testAcc } = await evaluate(model, data.test, { batchSize, inputSize });
      const metrics: EpochMetrics = {
        epoch,
        loss: lossSum / examples,
        trainAcc: correct / examples,
        testAcc,
        examplesPerSec: examples / seconds,
        seconds,
      };
      history.push(metrics);
      await options.onEpoch?.(metrics);
      if (signal?.aborted && epoch < epochs) return { history, aborted: true };
    }
  } finally {
    step.dispose();
  }
  return { history, aborted: false };
}
