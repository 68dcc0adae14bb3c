import * as tf from "@tensorflow/tfjs-core";
import { batches, loadFashionMnist, setupEngine, takeImages } from "@convnets/core";
import { resnet18 } from "../src/index.js";
import { densenet } from "../../densenet/src/index.js";
import { googlenet } from "../../googlenet/src/index.js";
const which = process.argv[2]!;
const size = Number(process.argv[3] ?? 16);
const build = () => which === "resnet" ? resnet18({ inputShape: [size, size, 1] }) : which === "densenet" ? densenet({ inputShape: [size, size, 1] }) : googlenet({ inputShape: [size, size, 1] });
const mnist = await loadFashionMnist();
const grads: Record<string, Record<string, Float32Array>> = {};
let weights: tf.Tensor[] | undefined;
let saved: Float32Array[] = [];
const shapes: number[][] = [];
for (const backend of ["wasm", "cpu"]) {
  await setupEngine(backend);
  tf.setBackend(backend);
  const model = build();
  if (!weights) { saved = model.getWeights().map((w) => w.dataSync() as Float32Array); model.getWeights().forEach((w) => shapes.push(w.shape)); weights = []; }
  model.setWeights(saved.map((d, i) => tf.tensor(d, shapes[i])));
  const { value } = batches(takeImages(mnist.train, 8), { batchSize: 8, inputSize: size }).next();
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value: loss, grads: g } = tf.variableGrads(() => {
    const logits = model.apply(value!.xs, { training: true }) as tf.Tensor2D;
    return tf.losses.softmaxCrossEntropy(tf.oneHot(value!.labels, 10), logits) as tf.Scalar;
  }, vars);
  console.log(backend, "loss", loss.dataSync()[0]);
  grads[backend] = Object.fromEntries(Object.entries(g).map(([k, t]) => [k.replace(/_\d+$/, ""), t.dataSync() as Float32Array]));
}
const rows: [number, number, number, string][] = [];
const wasmKeys = Object.keys(grads.wasm!);
const cpuKeys = Object.keys(grads.cpu!);
wasmKeys.forEach((k, i) => {
  const a = grads.wasm![k]!; const b = grads.cpu![cpuKeys[i]!]!;
  let num = 0, den = 0;
  for (let j = 0; j < a.length; j++) { num = Math.max(num, Math.abs(a[j]! - b[j]!)); den = Math.max(den, Math.abs(b[j]!)); }
  if (den > 1e-4) rows.push([num / (den + 1e-12), num, den, k]);
});
rows.sort((x, y) => y[0] - x[0]);
console.log("weights compared", wasmKeys.length);
for (const r of rows.slice(0, 14)) console.log(r[3], "rel", r[0].toExponential(2), "absdiff", r[1].toExponential(2), "max|g|", r[2].toExponential(2));
