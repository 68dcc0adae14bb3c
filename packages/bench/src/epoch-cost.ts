/**
 * What one epoch of Fashion-MNIST (60,000 images) costs at the book's recipe: times a few training
 * batches with core's training loop (one warm-up batch first: kernel set-up, allocation), takes the
 * median batch time and extrapolates. Examples/sec counts training batches only, as d2l does.
 * Wall-clock time is what a user waits; the process's CPU time is printed beside it, because on a
 * machine shared with other jobs the wall clock includes time the engine (one thread) spent waiting.
 *
 * One script for every network (it used to be copied into each network package):
 *
 *   pnpm --filter @convnets/bench epoch-cost <model> [--batch-size N] [--input-size N] [--batches 5]
 *     [--backend wasm|tensorflow|cpu] [--width-divisor N (vgg11 only)]
 */
import { parseArgs } from "node:util";
import { loadFashionMnist, type ModelSpec, setupEngine, takeImages, train } from "@convnets/core";
import { registeredModels } from "@convnets/trainer";

/** Every network the installed network packages register (importing them registers them). */
const SPECS: Record<string, ModelSpec<any>> = Object.fromEntries(
  (await registeredModels(process.cwd())).models.map((m) => [m.name, m.spec]),
);
const TRAIN_EXAMPLES = 60_000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: "string" },
    "batch-size": { type: "string" },
    "input-size": { type: "string" },
    "width-divisor": { type: "string" },
    batches: { type: "string", default: "5" },
    backend: { type: "string", default: "wasm" },
  },
});
const name = values.model ?? positionals[0];
const spec = name ? SPECS[name] : undefined;
if (!spec) throw new Error(`model: unknown or missing "${name ?? ""}"; use one of ${Object.keys(SPECS).join(", ")}`);
const { lr } = spec.defaults;
const inputSize = Number(values["input-size"] ?? spec.defaults.inputSize);
const batchSize = Number(values["batch-size"] ?? spec.defaults.batchSize);
const timedBatches = Number(values.batches);

const engine = await setupEngine(values.backend);
const mnist = await loadFashionMnist();
const widthDivisor = values["width-divisor"] === undefined ? undefined : Number(values["width-divisor"]);
const model = spec.build({ inputShape: [inputSize, inputSize, 1], ...(widthDivisor ? { widthDivisor } : {}) });
const data = {
  train: takeImages(mnist.train, batchSize * (timedBatches + 1)),
  test: takeImages(mnist.test, 1),
};
console.log(
  `${spec.name}${widthDivisor ? `, channels ÷ ${widthDivisor}` : ""} (${model.countParams().toLocaleString("en-US")} parameters) at ${inputSize}×${inputSize}, batch ${batchSize} (recipe: ${spec.defaults.batchSize}), on ${engine.description}`,
);

const seconds: number[] = [];
const cpuSeconds: number[] = [];
let last = performance.now();
let lastCpu = process.cpuUsage();
// On wasm a batch too large for its 4 GiB heap ends here with core's error saying so.
await train(model, data, {
  epochs: 1,
  lr,
  batchSize,
  inputSize,
  onBatch: ({ batch }) => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const s = (now - last) / 1000;
    const c = (cpu.user + cpu.system) / 1e6;
    last = now;
    lastCpu = process.cpuUsage();
    console.log(
      `  batch ${batch}: ${s.toFixed(2)} s (CPU ${c.toFixed(2)} s)${batch === 1 ? " (warm-up, not counted)" : ""}`,
    );
    if (batch > 1) {
      seconds.push(s);
      cpuSeconds.push(c);
    }
  },
});

const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const median = medianOf(seconds);
const examplesPerSec = batchSize / median;
const epochSeconds = TRAIN_EXAMPLES / examplesPerSec;
const hms = (s: number) => {
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
};
console.log(
  `median batch ${median.toFixed(2)} s over ${seconds.length} batches → ${examplesPerSec.toFixed(1)} examples/sec ` +
    `(CPU time: median ${medianOf(cpuSeconds).toFixed(2)} s → ${(batchSize / medianOf(cpuSeconds)).toFixed(1)} examples/sec)`,
);
const cpuEpochSeconds = (TRAIN_EXAMPLES / batchSize) * medianOf(cpuSeconds);
console.log(
  `one epoch (${TRAIN_EXAMPLES.toLocaleString("en")} examples): ~${hms(epochSeconds)} by the wall clock, ~${hms(cpuEpochSeconds)} by CPU time; ` +
    `the recipe's ${spec.defaults.epochs} epochs: ~${hms(spec.defaults.epochs * epochSeconds)} / ~${hms(spec.defaults.epochs * cpuEpochSeconds)} (training only, on ${engine.description})`,
);
model.dispose();
