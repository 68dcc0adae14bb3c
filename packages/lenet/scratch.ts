import * as tf from "@tensorflow/tfjs-core";
import { loadFashionMnist, setupEngine, summary, formatSummary, takeImages, train } from "@convnets/core";
import { lenet, lenetBN } from "./src/index.js";
const engine = await setupEngine(process.argv[2] ?? "cpu");
console.log(engine.description);
for (const build of [lenet, lenetBN]) {
  const m = build();
  console.log(formatSummary(summary(m)));
}
const data = await loadFashionMnist();
const sub = { train: takeImages(data.train, 256), test: takeImages(data.test, 256) };
for (const [build, lr] of [[lenet, 0.9], [lenetBN, 1.0]] as const) {
  const m = build();
  const t0 = Date.now();
  const r = await train(m, sub, { epochs: 20, lr, batchSize: 256 });
  console.log(build.name, (Date.now() - t0) / 1000, r.history.map((h) => h.loss.toFixed(4)).join(" "));
  console.log(r.history.map((h) => h.trainAcc.toFixed(3)).join(" "));
}
console.log(tf.memory().numTensors);
