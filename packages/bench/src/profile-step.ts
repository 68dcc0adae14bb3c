/**
 * Where a training step's time goes on wasm: time per kernel (forward and backward), and the time
 * outside kernels (tfjs-layers' apply, the gradient tape, tidy bookkeeping, the optimizer's JS).
 *
 *   tsx bench/profile-step.ts [NETWORK] [--batch-size B] [--input-size S] [--steps N]
 *
 * The step time is the median of N plain steps. The kernel times come from tf.profile of N more
 * steps (kernels on wasm run synchronously, so their wall time is their cost); profiling adds
 * overhead of its own, so "outside kernels" is the plain step time minus the kernel times.
 */
import { parseArgs } from "node:util";
import { batches, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import { formatTable } from "@convnets/trainer";
import * as tf from "@tensorflow/tfjs-core";
import { findRow } from "./networks.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "batch-size": { type: "string" },
    "input-size": { type: "string" },
    steps: { type: "string", default: "10" },
    calls: { type: "boolean", default: false },
  },
});
const row = findRow(positionals[0] ?? "lenet");
const batchSize = Number(values["batch-size"] ?? row.batchSize);
const inputSize = Number(values["input-size"] ?? row.inputSize);
const steps = Number(values.steps);

const engine = await setupEngine("wasm");
tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", false); // profiling would otherwise read every output back
const data = await loadFashionMnist();
const [batch] = [...batches(takeImages(data.train, batchSize), { batchSize, inputSize })];
const { xs, labels } = batch!;
const model = row.spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });
const step = new TrainStep(model, row.spec.defaults.lr);
const runStep = async () => {
  const { loss, correct } = step.run(xs, labels);
  await loss.data();
  tf.dispose([loss, correct]);
};

for (let i = 0; i < 3; i++) await runStep(); // warm-up
const stepMs: number[] = [];
for (let i = 0; i < steps; i++) {
  const start = performance.now();
  await runStep();
  stepMs.push(performance.now() - start);
}
stepMs.sort((a, b) => a - b);
const medianStep = stepMs[Math.floor(steps / 2)]!;

// tf.profile also lists ops that wrap a custom gradient (fusedConv2d__op around FusedConv2D); their time
// is their kernels' time, so only registered kernels are counted.
const isKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
const byKernel = new Map<string, { calls: number; ms: number }>();
const byCall = new Map<string, number>();
let kernelCalls = 0;
for (let i = 0; i < steps; i++) {
  const info = await tf.profile(runStep);
  for (const k of info.kernels.filter((k) => isKernel(k.name))) {
    const call = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(" ")} -> ${k.outputShapes.map((s) => `[${s}]`).join(" ")}`;
    byCall.set(call, (byCall.get(call) ?? 0) + (k.kernelTimeMs as number));
    const entry = byKernel.get(k.name) ?? { calls: 0, ms: 0 };
    entry.calls += 1;
    entry.ms += k.kernelTimeMs as number;
    byKernel.set(k.name, entry);
    kernelCalls += 1;
  }
}
const kernelMs = [...byKernel.values()].reduce((a, k) => a + k.ms, 0) / steps;
const rows = [...byKernel.entries()]
  .map(([name, k]) => ({ name, calls: k.calls / steps, ms: k.ms / steps }))
  .sort((a, b) => b.ms - a.ms);
const pct = (ms: number) => `${((100 * ms) / medianStep).toFixed(1)}%`;
const added = new Set(engine.addedKernels);

console.log(
  `${row.spec.name} ${inputSize}×${inputSize}, batch ${batchSize}, ${engine.description}: ` +
    `step ${medianStep.toFixed(1)} ms (median of ${steps}; ${((batchSize * 1000) / medianStep).toFixed(0)} examples/s), ` +
    `${kernelCalls / steps} kernel calls per step`,
);
console.log(
  formatTable(
    ["kernel", "calls/step", "ms/step", "share", "µs/call"],
    [
      ...rows.map((r) => [
        added.has(r.name) ? `${r.name} (convnets)` : r.name,
        String(r.calls),
        r.ms.toFixed(2),
        pct(r.ms),
        ((1000 * r.ms) / r.calls).toFixed(0),
      ]),
      ["all kernels", String(kernelCalls / steps), kernelMs.toFixed(2), pct(kernelMs), ""],
      ["outside kernels", "", (medianStep - kernelMs).toFixed(2), pct(medianStep - kernelMs), ""],
    ],
    ["left", "right", "right", "right", "right"],
  ),
);
if (values.calls) {
  // Each distinct call (kernel and shapes), slowest first: which layer a kernel's time belongs to.
  console.log("\nms/step  call");
  for (const [call, ms] of [...byCall.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) {
    console.log(`${(ms / steps).toFixed(2).padStart(7)}  ${call}`);
  }
}
process.exit(0);
