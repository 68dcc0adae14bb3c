/**
 * Child process of compare.ts: trains one network on wasm and prints one JSON line (OursResult), so
 * the peak resident memory it reports is that network's alone.
 *
 *   tsx bench/train-ours.ts NETWORK --input-size S --batch-size B --batches N --runs R
 *
 * It mirrors the PyTorch peer's `bench` (python/peer.py): the first N×B Fashion-MNIST training images, converted and
 * resized once before timing, one warm-up pass, then R timed passes over them; the median rate. A step
 * is core's TrainStep (forward, softmax cross-entropy, gradients, SGD update), finished when its loss
 * has been read back.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type Batch, batches, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import { median } from "@convnets/trainer";
import * as tf from "@tensorflow/tfjs-core";
import { findRow } from "./networks.js";

export interface OursResult {
  network: string;
  inputSize: number;
  batchSize: number;
  /** Examples per pass. */
  examples: number;
  engine: string;
  /** Examples/sec of each timed pass; empty when the run failed. */
  passRates: number[];
  examplesPerSec?: number;
  /** Peak resident set of the process (VmHWM): Node, data, engine, model and training together. */
  peakRssBytes: number;
  /** The wasm heap at the end; it grows and never shrinks, so this is its peak. */
  wasmHeapBytes?: number;
  error?: string;
}

/** VmHWM on Linux; elsewhere Node's maxRSS (the same quantity, in kB). */
function peakRssBytes(): number {
  const status = (() => {
    try {
      return readFileSync("/proc/self/status", "utf8");
    } catch {
      return "";
    }
  })();
  const kb = status.match(/^VmHWM:\s+(\d+) kB/m)?.[1];
  return (kb ? Number(kb) : process.resourceUsage().maxRSS) * 1024;
}

const wasmHeapBytes = () => (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.byteLength;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "input-size": { type: "string" },
    "batch-size": { type: "string" },
    batches: { type: "string" },
    runs: { type: "string" },
  },
});
const row = findRow(positionals[0] ?? "");
const inputSize = Number(values["input-size"] ?? row.inputSize);
const batchSize = Number(values["batch-size"] ?? row.batchSize);
const batchCount = Number(values.batches ?? row.batches);
const runs = Number(values.runs ?? row.runs ?? 3);

const engine = await setupEngine("wasm");
const data = await loadFashionMnist();
const set = takeImages(data.train, batchCount * batchSize);
const prepared: Batch[] = [...batches(set, { batchSize, inputSize })];
const model = row.spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });
const step = new TrainStep(model, row.spec.defaults.lr);

const passRates: number[] = [];
let error: string | undefined;
try {
  for (let pass = 0; pass <= runs; pass++) {
    const start = performance.now();
    for (const { xs, labels } of prepared) {
      const { loss, correct } = step.run(xs, labels);
      await loss.data();
      tf.dispose([loss, correct]);
    }
    // Pass 0 warms up (first allocations, kernel set-up), as the reference's first pass does.
    if (pass > 0) passRates.push(set.count / ((performance.now() - start) / 1000));
  }
} catch (err) {
  const heap = wasmHeapBytes();
  // A failed wasm allocation surfaces as an unrelated TypeError; the heap size tells what happened.
  const full = heap !== undefined && heap > 3.5 * 2 ** 30;
  error = full
    ? `out of memory: the wasm heap reached ${(heap / 2 ** 30).toFixed(2)} GiB of its 4 GiB`
    : String((err as Error).message ?? err).slice(0, 300);
}

const result: OursResult = {
  network: row.spec.name,
  inputSize,
  batchSize,
  examples: set.count,
  engine: engine.description,
  passRates,
  examplesPerSec: error ? undefined : median(passRates),
  peakRssBytes: peakRssBytes(),
  wasmHeapBytes: wasmHeapBytes(),
  error,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
// The wasm module keeps handles open; this child has nothing left to do.
process.exit(error ? 1 : 0);
