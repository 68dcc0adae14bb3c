/**
 * BatchMatMul with transposeB at a dense layer's input-gradient shapes (dy · Wᵀ at AlexNet's and VGG's widths,
 * small batches): tfjs-backend-webgpu 4.22's split-K program is wrong there; ours matches the cpu backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { replacedKernel } from "../src/index.js";
import { on, randomValues, relativeError, type Webgpu, webgpu } from "./setup.js";

const gpu: Webgpu = await webgpu();

const product = (m: number, k: number, n: number) => () =>
  tf.matMul(tf.tensor(randomValues(m * k, 1), [m, k]), tf.tensor(randomValues(n * k, 2), [n, k]), false, true);

describe.skipIf(!gpu.ok)("BatchMatMul with transposeB on webgpu", () => {
  it.each([
    [4, 4096, 256],
    [32, 4096, 32],
    [4, 2048, 4096],
  ])("m=%i, k=%i, n=%i: within 1e-5 of the cpu backend", async (m, k, n) => {
    const [expected] = await on("cpu", product(m, k, n));
    const [actual] = await on("webgpu", product(m, k, n));
    expect(relativeError(actual!, expected!)).toBeLessThanOrEqual(1e-5);
  });

  it("tfjs's own kernel, registered back, is wrong on [4, 4096] × [256, 4096]ᵀ (what the test above would catch)", async () => {
    const [expected] = await on("cpu", product(4, 4096, 256));
    const ours = tf.getKernel(tf.BatchMatMul, "webgpu")!;
    tf.unregisterKernel(tf.BatchMatMul, "webgpu");
    tf.registerKernel(replacedKernel(tf.BatchMatMul)!);
    try {
      const [actual] = await on("webgpu", product(4, 4096, 256));
      expect(relativeError(actual!, expected!)).toBeGreaterThan(0.1);
    } finally {
      tf.unregisterKernel(tf.BatchMatMul, "webgpu");
      tf.registerKernel(ours);
    }
  });
});
