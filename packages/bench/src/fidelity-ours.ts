/**
 * Child process of fidelity.ts: trains one network with one seed as `convnets train` does and prints one JSON
 * line (OursRun), so that each run starts from a fresh engine and wasm heap.
 *
 *   tsx bench/fidelity-ours.ts NETWORK --input-size S --examples N --epochs E --lr X --batch-size B --seed K
 *       [--backend wasm] [--threads T]
 *
 * The model is the network's spec built at S×S, trained by core's train() (d2l's train_ch6: Xavier-uniform
 * init from --seed, SGD, the first N training images reshuffled every epoch, test accuracy on all 10,000 test
 * images after each epoch): the loop and TrainStep that `convnets train` runs, without its run directory.
 */
import { parseArgs } from "node:util";
import { type EpochMetrics, loadFashionMnist, setupEngine, takeImages, train } from "@convnets/core";
import { findRow } from "./networks.js";

/** One training run of ours, as fidelity.ts reads it. */
export interface OursRun {
  network: string;
  seed: number;
  inputSize: number;
  examples: number;
  /** Test images each epoch's accuracy is measured on: all 10,000. */
  testImages: number;
  epochs: number;
  lr: number;
  batchSize: number;
  /** The engine as setupEngine describes it, thread count included: `wasm (simd, 2 threads)`. */
  engine: string;
  /** Per epoch: loss, train acc, test acc, examples/sec, seconds. */
  history: EpochMetrics[];
  /** Why the run stopped early (a diverged loss, out of memory). */
  error?: string;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "input-size": { type: "string" },
    examples: { type: "string" },
    epochs: { type: "string" },
    lr: { type: "string" },
    "batch-size": { type: "string" },
    seed: { type: "string", default: "0" },
    backend: { type: "string", default: "wasm" },
    threads: { type: "string" },
  },
});

function required(name: string): number {
  const text = values[name as keyof typeof values] as string | undefined;
  const n = Number(text);
  if (text === undefined || !Number.isFinite(n))
    throw new Error(`fidelity-ours: --${name} must be a number, got ${text}`);
  return n;
}

const spec = findRow(positionals[0] ?? "").spec;
const inputSize = required("input-size");
const examples = required("examples");
const epochs = required("epochs");
const lr = required("lr");
const batchSize = required("batch-size");
const seed = required("seed");

const engine = await setupEngine(values.backend, values.threads === undefined ? {} : { threads: values.threads });
const fashion = await loadFashionMnist();
const data = { train: takeImages(fashion.train, examples), test: fashion.test };
const model = spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });

const history: EpochMetrics[] = [];
let error: string | undefined;
try {
  await train(model, data, {
    epochs,
    lr,
    batchSize,
    inputSize,
    seed,
    onEpoch: (metrics) => {
      history.push(metrics);
      process.stderr.write(
        `  ours ${spec.name} seed ${seed} epoch ${metrics.epoch}: loss ${metrics.loss.toFixed(3)}, train acc ${metrics.trainAcc.toFixed(3)}, test acc ${metrics.testAcc.toFixed(3)}\n`,
      );
    },
  });
} catch (err) {
  error = String((err as Error).message ?? err).slice(0, 300);
}

const result: OursRun = {
  network: spec.name,
  seed,
  inputSize,
  examples: data.train.count,
  testImages: data.test.count,
  epochs,
  lr,
  batchSize,
  engine: engine.description,
  history,
  error,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
// The wasm module keeps handles (and worker threads) open; this child has nothing left to do.
process.exit(error ? 1 : 0);
