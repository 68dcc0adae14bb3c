/**
 * Explains a saved LeNet-BN's test accuracy: evaluates it with its moving statistics (what
 * inference uses), with each test batch's own statistics, and with the exact statistics of the
 * whole training set, and says how far each BatchNorm's moving statistics are from those.
 * Run by hand on a model saved by `scripts/reproduce.ts lenet-bn --save DIR`:
 *
 *     npx tsx scripts/bn-statistics.ts DIR [--backend wasm]
 */
import { parseArgs } from "node:util";
import { ConvnetsBatchNorm } from "@convnets/batchnorm";
import { batches, evaluate, type ImageSet, loadFashionMnist, loadModel, setupEngine } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import { model as functionalModel, type LayersModel, type SymbolicTensor } from "@tensorflow/tfjs-layers";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { backend: { type: "string", default: "wasm" } },
});
const dir = positionals[0];
if (!dir) {
  console.error(
    "usage: npx tsx scripts/bn-statistics.ts DIR [--backend wasm] (DIR: a model saved by reproduce.ts --save)",
  );
  process.exit(2);
}

const engine = await setupEngine(values.backend);
const data = await loadFashionMnist();
const model = await loadModel(dir);
const norms = model.layers.filter((l): l is ConvnetsBatchNorm => l instanceof ConvnetsBatchNorm);
if (norms.length === 0) throw new Error(`${dir}: the model has no ConvnetsBatchNorm layer; nothing to explain`);
console.log(`${model.name} from ${dir} on ${engine.description}`);
console.log(`test acc, moving statistics (inference): ${(await evaluate(model, data.test)).accuracy.toFixed(4)}`);
console.log(
  `test acc, each batch of 256 its own statistics: ${batchStatisticsAccuracy(await loadModel(dir), data.test)}`,
);

// Exact per-feature mean and (biased) variance of each BatchNorm's input over the training set,
// layer by layer, each later layer seeing the earlier ones already switched to exact statistics.
for (const norm of norms) {
  const { mean, variance } = populationStatistics(model, norm, data.train);
  const [gamma, beta, movingMean, movingVariance] = norm.getWeights();
  const mm = movingMean!.dataSync();
  const mv = movingVariance!.dataSync();
  let meanGap = 0;
  let varianceRatio = 0;
  for (let c = 0; c < mean.length; c++) {
    meanGap = Math.max(meanGap, Math.abs(mm[c]! - mean[c]!) / Math.sqrt(variance[c]!));
    varianceRatio = Math.max(varianceRatio, Math.abs(Math.log(mv[c]! / variance[c]!)));
  }
  console.log(
    `${norm.name}: moving mean up to ${meanGap.toFixed(3)} std from the training-set mean; ` +
      `moving variance up to ×${Math.exp(varianceRatio).toFixed(3)} off`,
  );
  norm.setWeights([gamma!, beta!, tf.tensor1d(mean), tf.tensor1d(variance)]);
}
console.log(`test acc, training-set statistics: ${(await evaluate(model, data.test)).accuracy.toFixed(4)}`);

function batchStatisticsAccuracy(m: LayersModel, set: ImageSet): string {
  let correct = 0;
  for (const { xs, labels } of batches(set, { batchSize: 256 })) {
    correct += tf.tidy(() => {
      const predicted = tf.argMax(m.apply(xs, { training: true }) as tf.Tensor, 1);
      return tf.sum(tf.cast(tf.equal(predicted, labels), "int32")).dataSync()[0]!;
    });
    tf.dispose([xs, labels]);
  }
  return (correct / set.count).toFixed(4);
}

function populationStatistics(m: LayersModel, norm: ConvnetsBatchNorm, set: ImageSet) {
  const upTo = functionalModel({ inputs: m.inputs, outputs: norm.input as SymbolicTensor });
  const features = norm.getWeights()[0]!.shape[0]!;
  const pass = (visit: (value: number, feature: number) => void) => {
    for (const { xs, labels } of batches(set, { batchSize: 1000 })) {
      const h = upTo.predict(xs) as tf.Tensor;
      const values = h.dataSync();
      for (let i = 0; i < values.length; i++) visit(values[i]!, i % features);
      tf.dispose([xs, labels, h]);
    }
  };
  const sum = new Float64Array(features);
  let rows = 0;
  pass((v, c) => {
    sum[c]! += v;
    if (c === 0) rows++;
  });
  const mean = Array.from(sum, (s) => s / rows);
  const squares = new Float64Array(features);
  pass((v, c) => {
    squares[c]! += (v - mean[c]!) ** 2;
  });
  return { mean, variance: Array.from(squares, (s) => s / rows) };
}
