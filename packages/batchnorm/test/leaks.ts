import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { expect } from "vitest";
import { ConvnetsBatchNorm } from "../src/batchnorm.js";
import { randomArray } from "./reference.js";

/**
 * Trains four optimizer.minimize steps of a small model with a 4-D BatchNorm (after `first`, a
 * convolution or a dense layer on the channel axis) and a 2-D one, and expects as many tensors alive
 * after the last step as after the first (and, with `dataIds`, as many backend buffers).
 */
export function expectNoLeakAcrossSteps(first: tfl.layers.Layer, { dataIds = false } = {}): void {
  const input = tfl.input({ shape: [8, 8, 2] });
  let h = first.apply(input);
  h = new ConvnetsBatchNorm().apply(h);
  h = tfl.layers.flatten().apply(h);
  h = tfl.layers.dense({ units: 7 }).apply(h);
  h = new ConvnetsBatchNorm().apply(h);
  const model = tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 3 }).apply(h) as tfl.SymbolicTensor });
  const optimizer = tf.train.sgd(0.05);
  const target = tf.tensor2d(randomArray(10 * 3, 50), [10, 3]);
  let tensors = 0;
  let buffers = 0;
  for (let step = 0; step < 4; step++) {
    const x = tf.tensor4d(randomArray(10 * 8 * 8 * 2, 51 + step, 1, 0.5), [10, 8, 8, 2]);
    const loss = optimizer.minimize(
      () => tf.losses.meanSquaredError(target, model.apply(x, { training: true }) as tf.Tensor),
      true,
    );
    expect(Number.isFinite(loss!.dataSync()[0])).toBe(true);
    tf.dispose([loss!, x]);
    if (step === 0) {
      tensors = tf.memory().numTensors;
      buffers = tf.backend().numDataIds();
    }
  }
  expect(tf.memory().numTensors).toBe(tensors);
  if (dataIds) expect(tf.backend().numDataIds()).toBe(buffers);
  tf.dispose([target]);
  optimizer.dispose();
  model.dispose();
}
