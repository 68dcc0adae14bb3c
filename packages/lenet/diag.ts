import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@convnets/batchnorm";
import { batches, evaluate, loadFashionMnist, loadModel, setupEngine } from "@convnets/core";
const engine = await setupEngine("wasm");
const data = await loadFashionMnist();
const model = await loadModel(process.argv[2]!);
console.log(engine.description);
console.log("test acc, moving stats:", evaluate(model, data.test).accuracy);
console.log("train acc, moving stats:", evaluate(model, data.train).accuracy);
// test acc with each test batch's own statistics (training mode) on a throwaway copy
const copy = await loadModel(process.argv[2]!);
let correct = 0;
for (const { xs, labels, size } of batches(data.test, { batchSize: 256 })) {
  const c = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(copy.apply(xs, { training: true }) as tf.Tensor, 1), labels), "int32")).dataSync()[0]!);
  correct += c; tf.dispose([xs, labels]); void size;
}
console.log("test acc, batch stats (256):", correct / data.test.count);
// population statistics over the training set, layer by layer
for (const bnName of ["conv1_bn", "conv2_bn", "dense1_bn", "dense2_bn"]) {
  const bn = model.getLayer(bnName);
  const sub = tfl.model({ inputs: model.inputs, outputs: bn.input as tfl.SymbolicTensor });
  const c = bn.getWeights()[0]!.shape[0]!;
  const sum = new Float64Array(c), sq = new Float64Array(c); let n = 0;
  for (const { xs, labels } of batches(data.train, { batchSize: 1000 })) {
    const h = sub.predict(xs) as tf.Tensor;
    const v = h.dataSync(); n += v.length / c;
    for (let i = 0; i < v.length; i++) { sum[i % c] += v[i]!; }
    tf.dispose([xs, labels, h]);
    void sq;
  }
  const mean = Array.from(sum, (s) => s / n);
  const varr = new Float64Array(c);
  for (const { xs, labels } of batches(data.train, { batchSize: 1000 })) {
    const h = sub.predict(xs) as tf.Tensor; const v = h.dataSync();
    for (let i = 0; i < v.length; i++) { const d = v[i]! - mean[i % c]!; varr[i % c] += d * d / n; }
    tf.dispose([xs, labels, h]);
  }
  const [g, b, mm, mv] = bn.getWeights();
  const mmv = Array.from(mm!.dataSync()), mvv = Array.from(mv!.dataSync());
  const dm = Math.max(...mean.map((m, i) => Math.abs(m - mmv[i]!) / Math.sqrt(varr[i]!)));
  const dv = Math.max(...Array.from(varr, (v, i) => Math.abs(Math.log(mvv[i]! / v))));
  console.log(`${bnName}: max |moving mean - pop mean|/pop std ${dm.toFixed(3)}, max |log(moving var / pop var)| ${dv.toFixed(3)}`);
  bn.setWeights([g!, b!, tf.tensor1d(mean), tf.tensor1d(Array.from(varr))]);
}
console.log("test acc, population stats:", evaluate(model, data.test).accuracy);
console.log("train acc, population stats:", evaluate(model, data.train).accuracy);
