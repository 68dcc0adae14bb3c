/**
 * Child process of `bench:gpu`: training steps per second of one network on one engine, as one JSON line
 * (StepRate), so that each measurement starts from a fresh engine (and a crash or out-of-memory costs one row).
 *
 *   tsx src/step-rate.ts NETWORK --backend webgpu|wasm [--threads N|all] [--input-size S] [--batch-size B]
 *       [--steps N] [--warmup W] [--data-dir DIR]
 *
 * A step is the training loop's (TrainStep: forward, loss, backward, SGD update) with the loss read back to the
 * host, timed from its start to that read; the median of N steps after W warm-up steps (shader compilation on
 * webgpu). The batch is the first B Fashion-MNIST training images at S×S, as python/step_rate.py takes them.
 */
import { parseArgs } from "node:util";
import { batches, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import { findRow } from "./networks.js";
import { positiveInt } from "./options.js";

/** One measurement of ours, as bench:gpu reads it (python/step_rate.py prints the same fields for PyTorch). */
export interface StepRate {
  side: "ours";
  network: string;
  backend: string;
  engine: string;
  /** wasm: the threads that really run. */
  threads?: number;
  inputSize: number;
  batchSize: number;
  steps: number;
  warmup: number;
  stepMs: number[];
  medianStepMs: number;
  examplesPerSec: number;
  notes?: string[];
  error?: string;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: "string", default: "webgpu" },
    threads: { type: "string" },
    "input-size": { type: "string" },
    "batch-size": { type: "string" },
    steps: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    "data-dir": { type: "string" },
  },
});
const row = findRow(positionals[0] ?? "lenet");
const inputSize = positiveInt("input-size", values["input-size"]) ?? row.spec.defaults.inputSize;
const batchSize = positiveInt("batch-size", values["batch-size"]) ?? row.spec.defaults.batchSize;
const steps = positiveInt("steps", values.steps)!;
const warmup = Number(values.warmup);
const threads =
  values.threads === undefined || values.threads === "all" ? undefined : positiveInt("threads", values.threads);
const base = {
  side: "ours" as const,
  network: row.spec.name,
  backend: values.backend,
  inputSize,
  batchSize,
  steps,
  warmup,
};

try {
  const engine = await setupEngine(values.backend, { threads });
  const data = await loadFashionMnist({ dir: values["data-dir"] });
  const [batch] = [...batches(takeImages(data.train, batchSize), { batchSize, inputSize })];
  const { xs, labels } = batch!;
  const model = row.spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });
  const step = new TrainStep(model, row.spec.defaults.lr);
  const run = async () => {
    const { loss, correct } = step.run(xs, labels);
    await loss.data();
    tf.dispose([loss, correct]);
  };
  for (let i = 0; i < warmup; i++) await run();
  const stepMs: number[] = [];
  for (let i = 0; i < steps; i++) {
    const start = performance.now();
    await run();
    stepMs.push(performance.now() - start);
  }
  const medianStepMs = [...stepMs].sort((a, b) => a - b)[Math.floor(steps / 2)]!;
  const result: StepRate = {
    ...base,
    engine: engine.description,
    ...(engine.threads !== undefined ? { threads: engine.threads } : {}),
    stepMs,
    medianStepMs,
    examplesPerSec: (xs.shape[0] * 1000) / medianStepMs,
    ...(engine.notes?.length ? { notes: engine.notes } : {}),
  };
  console.log(JSON.stringify(result));
  process.exit(0);
} catch (err) {
  console.log(
    JSON.stringify({
      ...base,
      engine: values.backend,
      stepMs: [],
      medianStepMs: 0,
      examplesPerSec: 0,
      error: (err as Error).message.split("\n")[0],
    }),
  );
  process.exit(1);
}
