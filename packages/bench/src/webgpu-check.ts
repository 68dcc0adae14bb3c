/**
 * bench:webgpu-check — does the webgpu engine compute what wasm computes at a recipe's batch size, on this
 * machine's adapter? The tests (test/webgpu.test.ts, core's webgpu-kernels tests) compare small shapes on
 * whatever adapter CI has (lavapipe); tfjs picks its webgpu programs by shape and a real GPU runs them in
 * parallel, so this is the check to run where a GPU is lent.
 *
 *   pnpm --filter @convnets/bench bench:webgpu-check [--networks a,b] [--batch-size N] [--input-size N]
 *       [--steps S] [--lr-scale X] [--flag WEBGPU_MATMUL_PROGRAM_TYPE=3 …]
 *
 * For each network, from the same Xavier-uniform weights (seed 1) and the first N training images (default the
 * recipe's batch size, at the fidelity recipes' reduced input: 28 for LeNet, else the network's smallest input
 * or 32): the first step's gradient of every trainable variable on wasm and on webgpu, twice on webgpu (is it
 * deterministic?), and the losses of S TrainSteps (the loop's step) at the recipe's lr × --lr-scale. Prints the
 * worst variables by relative error (--flag sets a tfjs environment flag for the webgpu side, to find which of
 * tfjs's programs a difference comes from: WEBGPU_MATMUL_PROGRAM_TYPE 0–3, WEBGPU_CPU_FORWARD false, …), max |g_webgpu − g_wasm| / max |g_wasm| (the scale floored at 1e-3 of the
 * network's largest gradient).
 */
import { parseArgs } from "node:util";
import { initXavierUniform, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import { firstImages, maxAbsDifference } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { findRow, NETWORK_NAMES } from "./networks.js";
import { positiveInt } from "./options.js";

const { values } = parseArgs({
  options: {
    networks: { type: "string" },
    "batch-size": { type: "string" },
    "input-size": { type: "string" },
    steps: { type: "string", default: "3" },
    "lr-scale": { type: "string", default: "1" },
    flag: { type: "string", multiple: true, default: [] },
  },
});
const names = values.networks?.split(",") ?? [...NETWORK_NAMES];
const steps = positiveInt("steps", values.steps)!;
const lrScale = Number(values["lr-scale"]);
const flags = values.flag.map((text) => {
  const [name, value] = text.split("=");
  if (!name || value === undefined)
    throw new Error(`--flag ${text}: expected NAME=VALUE, e.g. WEBGPU_MATMUL_PROGRAM_TYPE=3`);
  return {
    name,
    value: value === "true" ? true : value === "false" ? false : Number.isNaN(Number(value)) ? value : Number(value),
  };
});
const mnist = await loadFashionMnist();

interface Side {
  grads: Float32Array[];
  losses: number[];
}

async function side(
  name: string,
  engine: "wasm" | "webgpu",
  start: Float32Array[] | undefined,
  batchSize: number,
  inputSize: number,
) {
  const spec = findRow(name).spec;
  await setupEngine(engine);
  if (engine === "webgpu") for (const { name, value } of flags) tf.env().set(name, value);
  const model = spec.build({ inputShape: [inputSize, inputSize, 1] });
  if (start) model.setWeights(model.getWeights().map((w, i) => tf.tensor(start[i]!, w.shape)));
  else initXavierUniform(model, 1);
  const weights = await Promise.all(model.getWeights().map(async (w) => Float32Array.from(await w.data())));
  const step = new TrainStep(model, spec.defaults.lr * lrScale, { seed: 3 }); // fuses conv+ReLU as the loop does
  const batch = firstImages(takeImages(mnist.train, batchSize), batchSize, inputSize);
  // The first step's gradients (its dropout masks), as the loop's step computes them, without the update.
  const gradients = async () => {
    const { loss, correct, grads } = step.gradients(batch.xs, batch.labels, 0);
    const out = await Promise.all(Object.values(grads).map(async (g) => Float32Array.from(await g.data())));
    tf.dispose([loss, correct, ...Object.values(grads)]);
    return { names: Object.keys(grads), values: out };
  };
  const first = await gradients();
  const again = engine === "webgpu" ? (await gradients()).values : undefined;
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { loss, correct } = step.run(batch.xs, batch.labels, i);
    losses.push((await loss.data())[0]!);
    tf.dispose([loss, correct]);
  }
  const grads = first.values;
  const varNames = first.names;
  tf.dispose([batch.xs, batch.labels]);
  step.dispose();
  model.dispose();
  return { weights, side: { grads, losses } as Side, again, varNames };
}

const maxAbs = (a: Float32Array) => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/**
 * max |a − b| / max |b|, the scale floored at `floor`: a conv bias that a BatchNorm follows has a gradient of
 * rounding noise only (the BatchNorm cancels it), which no relative error should be taken of.
 */
function relError(a: Float32Array, b: Float32Array, floor = 0): number {
  const diff = maxAbsDifference(a, b);
  const scale = Math.max(maxAbs(b), floor);
  return scale === 0 ? diff : diff / scale;
}

const info = await setupEngine("webgpu");
console.log(`adapter: ${info.gpu} → ${info.description}`);
for (const name of names) {
  const row = findRow(name);
  const batchSize = positiveInt("batch-size", values["batch-size"]) ?? row.spec.defaults.batchSize;
  const inputSize =
    positiveInt("input-size", values["input-size"]) ??
    (name.startsWith("lenet") ? 28 : Math.max(row.spec.minInputSize, 32));
  const ref = await side(name, "wasm", undefined, batchSize, inputSize);
  const gpu = await side(name, "webgpu", ref.weights, batchSize, inputSize);
  // Floor: 1e-3 of the largest gradient of the network.
  const floor = 1e-3 * Math.max(...ref.side.grads.map(maxAbs));
  const errors = ref.side.grads.map((g, i) => ({
    name: ref.varNames[i]!,
    err: relError(gpu.side.grads[i]!, g, floor),
  }));
  errors.sort((a, b) => b.err - a.err);
  const repeat = Math.max(...gpu.side.grads.map((g, i) => relError(gpu.again![i]!, g)));
  console.log(
    `${name} ${inputSize}×${inputSize} batch ${batchSize}: worst gradients ${errors
      .slice(0, 3)
      .map((e) => `${e.name} ${e.err.toExponential(1)}`)
      .join(", ")}; webgpu run twice differs by ${repeat.toExponential(1)}`,
  );
  console.log(
    `  losses wasm ${ref.side.losses.map((l) => l.toFixed(5)).join(" ")} | webgpu ${gpu.side.losses.map((l) => l.toFixed(5)).join(" ")}`,
  );
}
process.exit(0);
