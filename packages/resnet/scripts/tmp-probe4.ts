import * as tf from "@tensorflow/tfjs-core";
import { setupEngine } from "@convnets/core";
type Case = { x: number[]; f: number[]; s: number; pad: "same" | "valid" };
const cases: Case[] = [
  { x: [8, 4, 4, 256], f: [3, 3, 256, 256], s: 1, pad: "same" },
  { x: [8, 10, 10, 128], f: [3, 3, 128, 256], s: 2, pad: "valid" },
  { x: [8, 2, 2, 512], f: [3, 3, 512, 512], s: 1, pad: "same" },
  { x: [8, 1, 1, 512], f: [3, 3, 512, 512], s: 1, pad: "same" },
  { x: [8, 16, 16, 64], f: [3, 3, 64, 64], s: 1, pad: "same" },
  { x: [8, 70, 70, 1], f: [7, 7, 1, 64], s: 2, pad: "valid" },
  { x: [8, 8, 8, 128], f: [1, 1, 128, 256], s: 2, pad: "valid" },
];
const results: Record<string, Float32Array[][]> = {};
for (const backend of ["wasm", "cpu"]) {
  await setupEngine(backend);
  results[backend] = cases.map((c, i) => {
    const x = tf.randomNormal(c.x, 0, 1, "float32", 10 + i);
    const f = tf.randomNormal(c.f, 0, 0.05, "float32", 20 + i);
    const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad);
    const dy = tf.randomNormal(y.shape, 0, 1, "float32", 30 + i);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), dy)));
    const [dx, df] = g([x, f]);
    return [y.dataSync() as Float32Array, dx!.dataSync() as Float32Array, df!.dataSync() as Float32Array];
  });
}
cases.forEach((c, i) => {
  const rel = (k: number) => {
    const a = results.wasm![i]![k]!, b = results.cpu![i]![k]!;
    let n = 0, d = 0;
    for (let j = 0; j < a.length; j++) { n = Math.max(n, Math.abs(a[j]! - b[j]!)); d = Math.max(d, Math.abs(b[j]!)); }
    return (n / d).toExponential(1);
  };
  console.log(JSON.stringify(c), "y", rel(0), "dx", rel(1), "df", rel(2));
});
