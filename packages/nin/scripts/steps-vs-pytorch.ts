/**
 * Does our NiN take PyTorch's steps? Trains ours (core's TrainStep: forward, softmax cross-entropy, gradients, SGD)
 * from Xavier-uniform weights with PyTorch's default biases (core's initXavierUniform) on the first K × B training
 * images in order, then has PyTorch (our PyTorch peer's `nin`, packages/bench/python/peer.py) load the same starting weights and take
 * the same K steps on the same input tensors, and prints both sides' losses and how far the weights' updates lie
 * apart. Dropout is off on both sides (its masks cannot be the same across two frameworks); everything else is the
 * training step `convnets train nin` runs. Needs PyTorch (`apt-get install python3-torch`, run with /usr/bin/python3):
 *
 *     npx tsx scripts/steps-vs-pytorch.ts [--steps 30] [--input-size 67] [--batch-size 32] [--lr 0.05] [--seed 0]
 *         [--peer PATH] [--python /usr/bin/python3]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { batches, initXavierUniform, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import { ninSpec } from "../src/index.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "30" },
    "input-size": { type: "string", default: String(ninSpec.minInputSize) },
    "batch-size": { type: "string", default: "32" },
    lr: { type: "string", default: "0.05" },
    seed: { type: "string", default: "0" },
    // Our PyTorch peer of the networks, in the private bench package of this repository.
    peer: { type: "string", default: resolve(import.meta.dirname, "../../bench/python/peer.py") },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const whole = (name: string, min: number) => {
  const text = values[name as keyof typeof values] as string;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${text}: give a whole number of at least ${min}`);
  return n;
};
const steps = whole("steps", 1);
const inputSize = whole("input-size", ninSpec.minInputSize);
const batchSize = whole("batch-size", 1);
const seed = whole("seed", 0);
const lr = Number(values.lr);
if (!(lr > 0)) throw new Error(`--lr ${values.lr}: give a positive learning rate`);

const engine = await setupEngine("wasm", { threads: 1 });
const data = await loadFashionMnist();
const model = ninSpec.build({ inputShape: [inputSize, inputSize, 1] });
for (const layer of model.layers) {
  if (layer.getClassName() === "Dropout") (layer as unknown as { rate: number }).rate = 0;
}
initXavierUniform(model, seed);
const dump = () => model.weights.map((w) => ({ name: w.name, shape: w.shape, data: Array.from(w.read().dataSync()) }));
const start = dump();
const step = new TrainStep(model, lr, { seed });
const losses: number[] = [];
const inputs = new Float32Array(steps * batchSize * inputSize * inputSize);
const labels = new Int32Array(steps * batchSize);
let taken = 0;
for (const b of batches(takeImages(data.train, steps * batchSize), { batchSize, inputSize })) {
  inputs.set(b.xs.dataSync(), taken * inputSize * inputSize);
  labels.set(b.labels.dataSync(), taken);
  taken += b.size;
  const { loss, correct } = step.run(b.xs, b.labels);
  losses.push(loss.dataSync()[0]!);
  tf.dispose([loss, correct, b.xs, b.labels]);
}
const dir = mkdtempSync(join(tmpdir(), "convnets-nin-"));
try {
  writeFileSync(join(dir, "inputs.f32"), inputs);
  writeFileSync(join(dir, "labels.i32"), labels);
  const file = join(dir, "ours.json");
  writeFileSync(
    file,
    JSON.stringify({ start, end: dump(), losses, engine: engine.description, inputSize, batchSize, lr }),
  );
  const py = spawnSync(values.python, [join(import.meta.dirname, "steps_vs_pytorch.py"), file, values.peer], {
    stdio: "inherit",
  });
  process.exitCode = py.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
