/**
 * What one training epoch of AlexNet costs at the seed's recipe (batch 128, images resized to
 * 224×224) on an engine: trains a few batches of real Fashion-MNIST with @convnets/core's `train`,
 * drops the first (warm-up), and extrapolates the median batch time to the 60,000 training images.
 * Evaluation on the test set, which `train` does after each epoch, is not included.
 *
 *   pnpm --filter @convnets/alexnet epoch-cost [--engine wasm] [--batches 5] [--batch-size 128] [--input-size 224]
 */
import { parseArgs } from "node:util";
import { loadFashionMnist, setupEngine, takeImages, train } from "@convnets/core";
import { alexnetSpec as spec } from "../src/index.js";

const { values } = parseArgs({
  options: {
    engine: { type: "string", default: "wasm" },
    batches: { type: "string", default: "5" },
    "batch-size": { type: "string", default: String(spec.defaults.batchSize) },
    "input-size": { type: "string", default: String(spec.defaults.inputSize) },
  },
});
const timedBatches = Number(values.batches);
const batchSize = Number(values["batch-size"]);
const inputSize = Number(values["input-size"]);

const engine = await setupEngine(values.engine);
const data = await loadFashionMnist();
const model = spec.build({ inputShape: [inputSize, inputSize, 1] });
console.log(`${spec.name} (${model.countParams().toLocaleString("en-US")} parameters) at ${inputSize}×${inputSize}, batch ${batchSize}, on ${engine.description}`);

const seconds: number[] = [];
let peakRss = 0;
let elapsed = 0;
const stop = new AbortController();
await train(
  model,
  { train: takeImages(data.train, batchSize * (timedBatches + 1)), test: takeImages(data.test, batchSize) },
  {
    epochs: 1,
    lr: spec.defaults.lr,
    batchSize,
    inputSize,
    signal: stop.signal,
    onBatch: (p) => {
      // `train` reports training seconds so far; the difference is this batch's step.
      const total = p.examples / p.examplesPerSec;
      const batchSeconds = total - elapsed;
      elapsed = total;
      seconds.push(batchSeconds);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const note = p.batch === 1 ? " (warm-up, not counted)" : "";
      console.log(`  batch ${p.batch}${note}: ${batchSeconds.toFixed(1)} s, loss ${p.loss.toFixed(3)}`);
      if (p.batch > timedBatches) stop.abort();
    },
  },
);

const timed = seconds.slice(1).sort((a, b) => a - b);
const median = timed[Math.floor(timed.length / 2)]!;
const examplesPerSec = batchSize / median;
const epochHours = 60_000 / examplesPerSec / 3600;
console.log(
  `median of ${timed.length} batches: ${median.toFixed(1)} s per batch of ${batchSize} → ${examplesPerSec.toFixed(1)} examples/sec on ${engine.description}; ` +
    `one epoch of 60,000 ≈ ${epochHours.toFixed(1)} h, the recipe's ${spec.defaults.epochs} epochs ≈ ${(epochHours * spec.defaults.epochs).toFixed(0)} h; ` +
    `peak resident memory ${(peakRss / 2 ** 30).toFixed(1)} GiB`,
);
