/**
 * Host time per training step on Dawn's null adapter: no GPU work runs, so a step's wall time is what the
 * host spends (tfjs's bookkeeping, shader keys, uniforms, bind groups, submits). Also the dispatches per step.
 *
 *   CONVNETS_DAWN_BACKEND=null node bench/host-step.mjs ours|tfjs lenet|resnet18 SIZE BATCH [STEPS]
 *
 * `ours`: the webgpu engine as @convnets/core starts it, with this package's kernels; `tfjs`: tfjs's own
 * Conv2DBackpropFilter registered back and the fused kernels unregistered (@convnets/batchnorm and core then
 * run tfjs ops). Run from this workspace, after `pnpm build`: the networks come from the trainer's
 * dependencies (this package may not depend on them). Prints one JSON line: median and fastest step, in ms.
 */
import { createRequire } from "node:module";
import { resolve } from "node:path";

const root = resolve(import.meta.dirname, "../../..");
const trainer = createRequire(`${root}/packages/trainer/package.json`);
const coreReq = createRequire(`${root}/packages/core/package.json`);
const core = await import(trainer.resolve("@convnets/core"));
const tf = await import(trainer.resolve("@tensorflow/tfjs-core"));
const webgpu = await import(coreReq.resolve("@convnets/webgpu"));
const specs = {
  lenet: (await import(trainer.resolve("@convnets/lenet"))).lenetSpec,
  resnet18: (await import(trainer.resolve("@convnets/resnet"))).resnet18Spec,
};
const [mode, net, size, batch, steps = "10"] = process.argv.slice(2);
const info = await core.setupEngine("webgpu");
if (mode === "tfjs") {
  for (const name of [webgpu.BATCH_NORM_TRAINING_FORWARD, webgpu.BATCH_NORM_TRAINING_BACKWARD, webgpu.RELU_GRAD])
    tf.unregisterKernel(name, "webgpu");
  tf.unregisterKernel(tf.Conv2DBackpropFilter, "webgpu");
  tf.registerKernel(webgpu.replacedKernel(tf.Conv2DBackpropFilter));
}
const backend = tf.backend();
let dispatches = 0;
const run = backend.runWebGPUProgram.bind(backend);
backend.runWebGPUProgram = (...args) => {
  dispatches++;
  return run(...args);
};
const spec = specs[net];
const S = Number(size),
  B = Number(batch);
const model = spec.build({ inputShape: [S, S, 1] });
const step = new core.TrainStep(model, spec.defaults.lr, { seed: 1 });
const xs = tf.randomUniform([B, S, S, 1], 0, 1, "float32", 1);
const labels = tf.tensor1d(
  Array.from({ length: B }, (_, i) => i % 10),
  "int32",
);
const once = async () => {
  const { loss, correct } = step.run(xs, labels);
  await loss.data();
  tf.dispose([loss, correct]);
};
for (let i = 0; i < 3; i++) await once();
const times = [];
let perStep = 0;
for (let i = 0; i < Number(steps); i++) {
  const before = dispatches;
  const t = performance.now();
  await once();
  times.push(performance.now() - t);
  perStep = dispatches - before;
}
times.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    engine: info.description,
    mode,
    net,
    size: S,
    batch: B,
    medianMs: +times[times.length >> 1].toFixed(2),
    minMs: +times[0].toFixed(2),
    dispatchesPerStep: perStep,
  }),
);
process.exit(0);
