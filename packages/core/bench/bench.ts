/**
 * Core benchmark: examples/sec of a training step and of inference for a LeNet-sized network on each
 * available engine (median of 5 runs), and resident memory after loading Fashion-MNIST.
 *
 *   pnpm --filter @convnets/core bench [--engines wasm,cpu] [--batches 20] [--runs 5]
 */
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { batches, type EnginePreference, loadFashionMnist, setupEngine, TrainStep, takeImages } from "../src/index.js";

const { values } = parseArgs({
  options: {
    engines: { type: "string", default: "tensorflow,wasm,cpu" },
    batches: { type: "string", default: "20" },
    runs: { type: "string", default: "5" },
    "batch-size": { type: "string", default: "256" },
  },
});
const runs = Number(values.runs);
const batchCount = Number(values.batches);
const batchSize = Number(values["batch-size"]);
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);

// Memory is measured in fresh plain-node processes (this one runs under tsx, which adds its own):
// a bare process, and one that imports the built core, sets up the engine and loads the data.
const rssOf = (code: string) =>
  Number(
    execFileSync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8", cwd: import.meta.dirname }),
  );
const bareRss = rssOf("process.stdout.write(String(process.memoryUsage().rss))");
const loadedRss = rssOf(
  'const c = await import("../dist/index.js"); await c.setupEngine("wasm"); globalThis.d = await c.loadFashionMnist(); process.stdout.write(String(process.memoryUsage().rss))',
);
console.log(
  `resident memory: bare node ${mb(bareRss)} MB; with core, the wasm engine and Fashion-MNIST loaded ${mb(loadedRss)} MB ` +
    `(${mb(loadedRss - bareRss)} MB above a bare process; the data itself is 55 MB of uint8)`,
);
const data = await loadFashionMnist();

/** The book's LeNet (d2l §7.6), the network this benchmark is sized by. */
function lenet() {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: "same", activation: "sigmoid" }),
      tfl.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 5, activation: "sigmoid" }),
      tfl.layers.averagePooling2d({ poolSize: 2, strides: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 120, activation: "sigmoid" }),
      tfl.layers.dense({ units: 84, activation: "sigmoid" }),
      tfl.layers.dense({ units: 10 }),
    ],
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const set = takeImages(data.train, batchCount * batchSize);

async function measure(step: (xs: tf.Tensor4D, labels: tf.Tensor1D) => Promise<void>): Promise<number> {
  const perRun: number[] = [];
  for (let r = 0; r <= runs; r++) {
    let examples = 0;
    let seconds = 0;
    for (const { xs, labels, size } of batches(set, { batchSize })) {
      const t = performance.now();
      await step(xs, labels);
      seconds += (performance.now() - t) / 1000;
      examples += size;
      tf.dispose([xs, labels]);
    }
    if (r > 0) perRun.push(examples / seconds); // run 0 warms up (kernel compilation, allocation)
  }
  return median(perRun);
}

const rows: string[][] = [];
for (const engine of values.engines.split(",") as EnginePreference[]) {
  let description: string;
  try {
    description = (await setupEngine(engine)).description;
  } catch (err) {
    console.log(`${engine}: skipped (${(err as Error).message.split(":")[0]})`);
    continue;
  }
  const model = lenet();
  const step = new TrainStep(model, 0.9);
  const trainPerSec = await measure(async (xs, labels) => {
    const { loss, correct } = step.run(xs, labels);
    await loss.data();
    tf.dispose([loss, correct]);
  });
  const inferPerSec = await measure(async (xs) => {
    const logits = model.predict(xs) as tf.Tensor;
    await logits.data();
    logits.dispose();
  });
  rows.push([description, trainPerSec.toFixed(0), inferPerSec.toFixed(0), mb(process.memoryUsage().rss)]);
  console.log(
    `${description}: train ${trainPerSec.toFixed(0)} examples/s, inference ${inferPerSec.toFixed(0)} examples/s`,
  );
  step.dispose();
  model.dispose();
}

console.log(`\nLeNet, batch ${batchSize}, ${batchCount} batches per run, median of ${runs} runs`);
console.log("| engine | train examples/s | inference examples/s | RSS MB |\n|---|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
