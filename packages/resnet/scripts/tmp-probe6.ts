import * as tf from "@tensorflow/tfjs-core";
import { batches, loadFashionMnist, setupEngine, takeImages } from "@convnets/core";
import { resnet18 } from "../src/index.js";
const size = Number(process.argv[2] ?? 64);
const backend = process.argv[3] ?? "cpu";
await setupEngine(backend);
const mnist = await loadFashionMnist();
const model = resnet18({ inputShape: [size, size, 1] });
const { value } = batches(takeImages(mnist.train, 8), { batchSize: 8, inputSize: size }).next();
const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
function grads(): Record<string, Float32Array> {
  const { grads: g } = tf.variableGrads(() => {
    const logits = model.apply(value!.xs, { training: true }) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(tf.oneHot(value!.labels, 10), logits) as tf.Scalar;
  }, vars);
  return Object.fromEntries(Object.entries(g).map(([k, t]) => [k, t.dataSync() as Float32Array]));
}
const a = grads();
// Perturb every weight by a relative 1e-6, like float32 rounding differences between engines.
for (const v of vars) v.assign(tf.mul(v, tf.add(1, tf.randomUniform(v.shape, -1e-6, 1e-6))));
const b = grads();
const rows: [number, string][] = [];
for (const k of Object.keys(a)) {
  let n = 0, d = 0;
  for (let j = 0; j < a[k]!.length; j++) { n = Math.max(n, Math.abs(a[k]![j]! - b[k]![j]!)); d = Math.max(d, Math.abs(a[k]![j]!)); }
  if (d > 1e-4) rows.push([n / d, k]);
}
rows.sort((x, y) => y[0] - x[0]);
console.log(backend, size, rows.slice(0, 4).map(([r, k]) => `${k} ${r.toExponential(1)}`).join(", "));
