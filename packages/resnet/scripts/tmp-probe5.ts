import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { batchNorm } from "@convnets/batchnorm";
import { setupEngine } from "@convnets/core";
type Op = { name: string; shape: number[]; f: (x: tf.Tensor) => tf.Tensor };
let bnLayer: tfl.layers.Layer | undefined;
const ops: Op[] = [
  { name: "relu", shape: [8, 8, 8, 64], f: (x) => tf.relu(x) },
  { name: "maxPool3s2 on relu", shape: [8, 16, 16, 64], f: (x) => tf.maxPool(tf.relu(x) as tf.Tensor4D, 3, 2, "valid") },
  { name: "mean axes 012", shape: [8, 4, 4, 256], f: (x) => tf.mean(x, [0, 1, 2]) },
  { name: "bn math", shape: [8, 4, 4, 256], f: (x) => { const m = tf.mean(x, [0, 1, 2]); const c = tf.sub(x, m); const v = tf.mean(tf.square(c), [0, 1, 2]); return tf.div(c, tf.sqrt(tf.add(v, 1e-5))); } },
  { name: "bn layer", shape: [8, 4, 4, 256], f: (x) => { bnLayer ??= batchNorm({ name: "bn" }); return bnLayer.apply(x, { training: true }) as tf.Tensor; } },
  { name: "global avg", shape: [8, 2, 2, 512], f: (x) => tf.mean(x, [1, 2]) },
  { name: "add", shape: [8, 4, 4, 256], f: (x) => tf.add(x, tf.mul(x, 2)) },
];
const results: Record<string, Float32Array[]> = {};
for (const backend of ["wasm", "cpu"]) {
  await setupEngine(backend);
  bnLayer = undefined;
  results[backend] = ops.map((op, i) => {
    const x = tf.randomNormal(op.shape, 0.3, 1, "float32", 10 + i);
    const y = op.f(x);
    const dy = tf.randomNormal(y.shape, 0, 1, "float32", 30 + i);
    const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(op.f(a), dy)))(x);
    return dx.dataSync() as Float32Array;
  });
}
ops.forEach((op, i) => {
  const a = results.wasm![i]!, b = results.cpu![i]!;
  let n = 0, d = 0;
  for (let j = 0; j < a.length; j++) { n = Math.max(n, Math.abs(a[j]! - b[j]!)); d = Math.max(d, Math.abs(b[j]!)); }
  console.log(op.name, "dx rel", (n / d).toExponential(1));
});
