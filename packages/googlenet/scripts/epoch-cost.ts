/**
 * What one epoch of Fashion-MNIST (60,000 images) costs at the seed's recipe: times a few training
 * batches with core's training loop (one warm-up batch first: kernel set-up, allocation), takes the
 * median batch time and extrapolates. Examples/sec counts training batches only, as d2l does.
 *
 *   npx tsx scripts/epoch-cost.ts [--model googlenet] [--batch-size 128] [--batches 3] [--backend wasm]
 */
import { parseArgs } from "node:util";
import { loadFashionMnist, type ModelSpec, setupEngine, takeImages, train } from "@convnets/core";
import { googlenetSpec } from "../src/index.js";

const SPECS: Record<string, ModelSpec> = { googlenet: googlenetSpec };
const TRAIN_EXAMPLES = 60_000;

const { values } = parseArgs({
  options: {
    model: { type: "string", default: Object.keys(SPECS)[0] },
    "batch-size": { type: "string" },
    batches: { type: "string", default: "3" },
    backend: { type: "string", default: "wasm" },
  },
});
const spec = SPECS[values.model!];
if (!spec) throw new Error(`--model: unknown model "${values.model}"; use one of ${Object.keys(SPECS).join(", ")}`);
const { inputSize, lr } = spec.defaults;
const batchSize = Number(values["batch-size"] ?? spec.defaults.batchSize);
const timedBatches = Number(values.batches);

const engine = await setupEngine(values.backend);
const mnist = await loadFashionMnist();
const model = spec.build();
const data = {
  train: takeImages(mnist.train, batchSize * (timedBatches + 1)),
  test: takeImages(mnist.test, 1),
};
console.log(
  `${spec.name} at ${inputSize}×${inputSize}, batch ${batchSize} (recipe: ${spec.defaults.batchSize}), on ${engine.description}`,
);

const seconds: number[] = [];
let last = performance.now();
await train(model, data, {
  epochs: 1,
  lr,
  batchSize,
  inputSize,
  onBatch: ({ batch }) => {
    const now = performance.now();
    const s = (now - last) / 1000;
    last = now;
    console.log(`  batch ${batch}: ${s.toFixed(2)} s${batch === 1 ? " (warm-up, not counted)" : ""}`);
    if (batch > 1) seconds.push(s);
  },
});

const median = [...seconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)]!;
const examplesPerSec = batchSize / median;
const epochSeconds = TRAIN_EXAMPLES / examplesPerSec;
const hms = (s: number) => `${Math.floor(s / 3600)} h ${String(Math.round((s % 3600) / 60)).padStart(2, "0")} min`;
console.log(`median batch ${median.toFixed(2)} s over ${seconds.length} batches → ${examplesPerSec.toFixed(1)} examples/sec`);
console.log(
  `one epoch (${TRAIN_EXAMPLES.toLocaleString("en")} examples): ~${hms(epochSeconds)}; the recipe's ${spec.defaults.epochs} epochs: ~${hms(spec.defaults.epochs * epochSeconds)} (training only, on ${engine.description})`,
);
model.dispose();
