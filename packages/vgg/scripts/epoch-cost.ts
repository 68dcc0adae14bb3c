/**
 * What one training epoch of VGG-11 costs at the seed's recipe (batch 128, images resized to
 * 224×224, channels ÷ 4 as the book trains it unless --width-divisor says otherwise) on an
 * engine: trains a few batches of real Fashion-MNIST with @convnets/core's `train`, drops the
 * first (warm-up), and extrapolates the median batch time to the 60,000 training images.
 * Evaluation on the test set, which `train` does after each epoch, is not included.
 *
 * It also reports the process's CPU seconds per batch: the wasm engine computes on one thread, so
 * on a machine shared with other work the CPU time is the better guess of the time it would take
 * alone, and the load average says how shared the machine was.
 *
 *   pnpm --filter @convnets/vgg epoch-cost [--backend wasm|tensorflow|cpu] [--width-divisor 4] [--batches 3] [--batch-size 128] [--input-size 224]
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { loadFashionMnist, setupEngine, takeImages, train } from "@convnets/core";
import { VGG11_BOOK_WIDTH_DIVISOR, vgg11Spec as spec } from "../src/index.js";

// pnpm forwards a `--` separator to the script; parseArgs would take everything after it as positional.
const args = process.argv.slice(2).filter((arg, i) => !(i === 0 && arg === "--"));
const { values } = parseArgs({
  args,
  options: {
    backend: { type: "string" },
    batches: { type: "string", default: "3" },
    "batch-size": { type: "string", default: String(spec.defaults.batchSize) },
    "input-size": { type: "string", default: String(spec.defaults.inputSize) },
    "width-divisor": { type: "string", default: String(VGG11_BOOK_WIDTH_DIVISOR) },
  },
});
function positiveInt(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}
const timedBatches = positiveInt("batches", values.batches);
const batchSize = positiveInt("batch-size", values["batch-size"]);
const inputSize = positiveInt("input-size", values["input-size"]);
const widthDivisor = positiveInt("width-divisor", values["width-divisor"]);

// wasm unless told otherwise: the point is what an epoch costs without a GPU.
const engine = await setupEngine(values.backend ?? process.env.CONVNETS_BACKEND ?? "wasm");
const data = await loadFashionMnist();
const model = spec.build({ inputShape: [inputSize, inputSize, 1], widthDivisor });
console.log(`${spec.name}, channels ÷ ${widthDivisor} (${model.countParams().toLocaleString("en-US")} parameters) at ${inputSize}×${inputSize}, batch ${batchSize}, on ${engine.description}`);

const seconds: number[] = [];
const cpuSeconds: number[] = [];
let peakRss = 0;
let elapsed = 0;
let cpu = process.cpuUsage();
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
      const used = process.cpuUsage(cpu);
      cpu = process.cpuUsage();
      cpuSeconds.push((used.user + used.system) / 1e6);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      const note = p.batch === 1 ? " (warm-up, not counted)" : "";
      console.log(
        `  batch ${p.batch}${note}: ${batchSeconds.toFixed(1)} s (${cpuSeconds.at(-1)!.toFixed(1)} CPU s), loss ${p.loss.toFixed(3)}, load average ${loadavg()[0]!.toFixed(1)}`,
      );
      if (p.batch > timedBatches) stop.abort();
    },
  },
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const wall = median(seconds.slice(1));
const cpuTime = median(cpuSeconds.slice(1));
const hours = (secondsPerBatch: number) => (60_000 / batchSize) * secondsPerBatch / 3600;
console.log(
  `median of ${seconds.length - 1} batches of ${batchSize} on ${engine.description}:\n` +
    `  wall clock ${wall.toFixed(1)} s → ${(batchSize / wall).toFixed(1)} examples/sec, one epoch of 60,000 ≈ ${hours(wall).toFixed(1)} h, ` +
    `the recipe's ${spec.defaults.epochs} epochs ≈ ${(hours(wall) * spec.defaults.epochs).toFixed(0)} h\n` +
    `  CPU time   ${cpuTime.toFixed(1)} s → ${(batchSize / cpuTime).toFixed(1)} examples/sec, one epoch ≈ ${hours(cpuTime).toFixed(1)} h, ` +
    `${spec.defaults.epochs} epochs ≈ ${(hours(cpuTime) * spec.defaults.epochs).toFixed(0)} h\n` +
    `  load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} cores; peak resident memory ${(peakRss / 2 ** 30).toFixed(1)} GiB`,
);
