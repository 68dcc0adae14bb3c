import { loadFashionMnist, setupEngine, takeImages, train } from "@convnets/core";
import { resnet18 } from "../src/index.js";
import { densenet } from "../../densenet/src/index.js";
import { googlenet } from "../../googlenet/src/index.js";
await setupEngine("wasm");
const mnist = await loadFashionMnist();
const data = { train: takeImages(mnist.train, 64), test: takeImages(mnist.test, 32) };
const which = process.argv[2]!;
for (const seed of [1, 2, 3, 4]) {
  const model = which === "resnet" ? resnet18({ inputShape: [32, 32, 1] }) : which === "densenet" ? densenet({ inputShape: [32, 32, 1] }) : googlenet({ inputShape: [32, 32, 1] });
  const lr = which === "resnet" ? 0.05 : 0.1;
  const t = performance.now();
  const { history } = await train(model, data, { epochs: 3, lr, batchSize: 32, inputSize: 32, seed });
  console.log(which, seed, history.map((h) => h.loss.toFixed(4)).join(" "), ((performance.now() - t) / 1000).toFixed(1) + "s");
  model.dispose();
}
