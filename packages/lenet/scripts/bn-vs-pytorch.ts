/**
 * Are our LeNet-BN's BatchNorm moving statistics PyTorch's? Trains ours (core's TrainStep, lr 1.0, the first
 * K × 256 training images in order, no shuffle) from Xavier-uniform weights, then has PyTorch (our PyTorch
 * peer's lenet-bn, packages/bench/python/peer.py: nn.BatchNorm with momentum 0.1, eps 1e-5) take the same K steps on the same
 * batches from the same weights, and prints both sides' losses and each BatchNorm's moving mean and variance
 * apart. Needs PyTorch (`apt-get install python3-torch`, run with /usr/bin/python3):
 *
 *     npx tsx scripts/bn-vs-pytorch.ts [--steps 30] [--seed 0] [--peer PATH] [--python /usr/bin/python3]
 *
 * PyTorch's moving variance uses the unbiased batch variance (× n/(n−1)), ours the book's biased one: the dense
 * layers' (n = 256) differ by up to 256/255, the convolutions' (n = 256 × h × w) by far less.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { batches, initXavierUniform, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import { lenetBNSpec } from "../src/index.js";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "30" },
    seed: { type: "string", default: "0" },
    // Our PyTorch peer of the networks, in the private bench package of this repository.
    peer: { type: "string", default: resolve(import.meta.dirname, "../../bench/python/peer.py") },
    python: { type: "string", default: "/usr/bin/python3" },
  },
});
const steps = Number(values.steps);
const seed = Number(values.seed);
if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps ${values.steps}: must be a positive integer`);

const engine = await setupEngine("wasm", { threads: 1 });
const data = await loadFashionMnist();
const model = lenetBNSpec.build({ inputShape: [28, 28, 1] });
initXavierUniform(model, seed);
const dump = () => model.weights.map((w) => ({ name: w.name, shape: w.shape, data: Array.from(w.read().dataSync()) }));
const start = dump();
const step = new TrainStep(model, 1.0, { seed });
const losses: number[] = [];
for (const b of batches(takeImages(data.train, steps * 256), { batchSize: 256, inputSize: 28 })) {
  const { loss, correct } = step.run(b.xs, b.labels);
  losses.push(loss.dataSync()[0]!);
  tf.dispose([loss, correct, b.xs, b.labels]);
}
const dir = mkdtempSync(join(tmpdir(), "convnets-bn-"));
try {
  const file = join(dir, "ours.json");
  writeFileSync(file, JSON.stringify({ start, end: dump(), losses, engine: engine.description }));
  const py = spawnSync(values.python, [join(import.meta.dirname, "bn_vs_pytorch.py"), file, values.peer], {
    stdio: "inherit",
  });
  process.exitCode = py.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
