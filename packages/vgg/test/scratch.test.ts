import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { it } from "vitest";
import { vgg11 } from "../src/index.js";
it("timing", async () => {
  await tf.setBackend("cpu");
  for (const wd of [1, 4]) {
    let t = Date.now();
    const m = vgg11({ widthDivisor: wd });
    const n = m.trainableWeights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    console.log(wd, n, Date.now() - t, "ms build");
    t = Date.now();
    const json = m.toJSON(null, false);
    console.log(typeof json, Date.now() - t);
    m.dispose();
  }
});
