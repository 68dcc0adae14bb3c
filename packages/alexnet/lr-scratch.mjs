import { setupEngine, loadFashionMnist, batches, takeImages } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
const [pkg, fn, size, n, steps, ...lrs] = process.argv.slice(2);
const mod = await import(`/work/main/packages/${pkg}/dist/index.js`);
await setupEngine("wasm");
const data = await loadFashionMnist();
const b = batches(takeImages(data.train, Number(n)), { batchSize: Number(n), inputSize: Number(size) }).next().value;
for (const lr of lrs) {
  const m = mod[fn]({ inputShape: [Number(size), Number(size), 1], widthDivisor: pkg === "vgg" ? 8 : undefined });
  const opt = tf.train.sgd(Number(lr));
  const loss = (t) => tf.losses.softmaxCrossEntropy(tf.oneHot(b.labels, 10), m.apply(b.xs, { training: t }));
  const evalLoss = () => tf.tidy(() => loss(false).dataSync()[0].toFixed(3));
  const trace = [evalLoss()];
  const t = Date.now();
  for (let i = 0; i < Number(steps); i++) { tf.tidy(() => { opt.minimize(() => loss(true)); }); trace.push(evalLoss()); }
  console.log(pkg, "lr", lr, trace.join(" "), (Date.now() - t) / Number(steps), "ms/step");
  m.dispose(); opt.dispose();
}
