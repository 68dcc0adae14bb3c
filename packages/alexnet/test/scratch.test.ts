import "@tensorflow/tfjs-backend-cpu";
import { batches, loadFashionMnist, takeImages } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import { it } from "vitest";
import { alexnet } from "../src/index.js";
it("train dynamics", async () => {
  await tf.setBackend("cpu");
  const data = await loadFashionMnist();
  const { xs, labels } = batches(takeImages(data.train, 64), { batchSize: 64, inputSize: 65 }).next().value!;
  const onehot = tf.oneHot(labels, 10);
  for (const lr of [0.01, 0.05]) {
    const m = alexnet({ inputShape: [65, 65, 1] });
    const opt = tf.train.sgd(lr);
    const loss = (training: boolean) => tf.losses.softmaxCrossEntropy(onehot, m.apply(xs, { training }) as tf.Tensor) as tf.Scalar;
    const before = tf.tidy(() => loss(false).dataSync()[0]);
    const t = Date.now();
    const trace = [];
    for (let i = 0; i < 10; i++) trace.push(tf.tidy(() => opt.minimize(() => loss(true), true)!.dataSync()[0]!.toFixed(3)));
    const after = tf.tidy(() => loss(false).dataSync()[0]);
    console.log(lr, before, after, trace.join(" "), Date.now() - t, "ms");
    m.dispose(); opt.dispose();
  }
});
