import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { lossGradients, setupEngine } from "../src/index.js";

/** dy passed through unchanged: the gradient function hands back the very tensor it was given. */
const passThrough = tf.customGrad((...inputs) => ({
  value: tf.mul(inputs[0] as tf.Tensor, 1),
  gradFunc: (dy: tf.Tensor) => dy,
}));

/**
 * A small network with the shapes a backward pass must get right: a residual Add (a tensor with two
 * consumers), a concatenation (DenseNet), x·x (one tensor twice in one kernel), a gradient that
 * returns its dy, a variable used twice, pooling, and a dense head with softmax cross-entropy.
 */
function network(seed: number) {
  const v = (shape: number[], i: number) => tf.variable(tf.randomNormal(shape, 0, 0.3, "float32", seed + i));
  const w = {
    c1: v([3, 3, 1, 4], 1),
    c2: v([3, 3, 4, 4], 2),
    c3: v([1, 1, 8, 6], 3),
    b: v([6], 4),
    d: v([6 * 4 * 4, 5], 5),
  };
  const [c1, c2, c3] = [w.c1, w.c2, w.c3] as tf.Tensor4D[];
  const x = tf.randomUniform([4, 8, 8, 1], -1, 1, "float32", seed) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d([0, 3, 1, 4], "int32"), 5);
  const loss = () => {
    const h1 = tf.relu(tf.conv2d(x, c1!, 1, "same"));
    const h2 = tf.add(h1, tf.relu(tf.conv2d(h1, c2!, 1, "same"))) as tf.Tensor4D; // residual
    const h3 = tf.conv2d(h2, c2!, 1, "same"); // c2 used twice
    const joined = tf.concat([h2, passThrough(tf.mul(h3, h3)) as tf.Tensor4D], 3);
    const h4 = tf.maxPool(tf.add(tf.conv2d(joined, c3!, 1, "valid"), w.b) as tf.Tensor4D, 2, 2, "valid");
    const logits = tf.matMul(tf.reshape(h4, [4, -1]), w.d);
    return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  };
  return { variables: Object.values(w), loss, dispose: () => tf.dispose([...Object.values(w), x, labels]) };
}

/**
 * A plain stack of convolutions with a probe after each layer that records, while the backward pass
 * goes through it, how many data buffers are alive (tf.memory().numBytes would count shared data once
 * per tensor); all but the small kernels are the same size. tfjs's backward pass holds every layer's
 * gradient at once.
 */
function probedChain(layers: number) {
  let peak = 0;
  const probe = tf.customGrad((...inputs) => ({
    value: tf.clone(inputs[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      peak = Math.max(peak, tf.memory().numDataBuffers);
      return dy;
    },
  }));
  const kernels = Array.from(
    { length: layers },
    (_, i) => tf.variable(tf.randomNormal([3, 3, 8, 8], 0, 0.2, "float32", i)) as tf.Variable<tf.Rank.R4>,
  );
  const x = tf.randomUniform([8, 16, 16, 8], -1, 1, "float32", 99) as tf.Tensor4D;
  const loss = () =>
    tf.mean(kernels.reduce((h, k) => probe(tf.relu(tf.conv2d(h, k, 1, "same"))) as tf.Tensor4D, x)) as tf.Scalar;
  /** The most buffers alive during the backward pass of `gradients`, above those alive before it. */
  const backwardPeak = (gradients: () => tf.Tensor[]) => {
    const before = tf.memory().numDataBuffers;
    peak = 0;
    tf.dispose(gradients());
    return peak - before;
  };
  return { variables: kernels, loss, backwardPeak, dispose: () => tf.dispose([...kernels, x]) };
}

beforeAll(async () => {
  await setupEngine("wasm");
});

describe.each(["wasm", "cpu"])("lossGradients on %s", (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it("gives tfjs's own loss and gradients, bit for bit, and leaks no tensor", () => {
    const net = network(7);
    const before = tf.memory().numTensors;
    const ours = lossGradients(net.loss, net.variables);
    expect(tf.memory().numTensors).toBe(before + 1 + net.variables.length);
    const theirs = tf.variableGrads(net.loss, net.variables);
    expect(ours.value.dataSync()).toEqual(theirs.value.dataSync());
    net.variables.forEach((v, i) => {
      const mine = ours.grads[i]!;
      expect(mine.shape).toEqual(v.shape);
      expect(Array.from(mine.dataSync())).toEqual(Array.from(theirs.grads[v.name]!.dataSync()));
      expect(tf.tidy(() => tf.max(tf.abs(mine)).dataSync()[0])).toBeGreaterThan(0);
    });
    tf.dispose([ours.value, ...ours.grads.filter((g) => g !== null), theirs.value, ...Object.values(theirs.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    net.dispose();
  });

  it("gives null for a variable the loss does not depend on", () => {
    const net = network(3);
    const unused = tf.variable(tf.zeros([2]));
    const { value, grads } = lossGradients(net.loss, [...net.variables, unused]);
    expect(grads[net.variables.length]).toBeNull();
    tf.dispose([value, ...grads.filter((g) => g !== null), unused]);
    net.dispose();
  });

  it("holds at most two thirds of tfjs's buffers during the backward pass of a 12-layer chain", () => {
    const chain = probedChain(12);
    const ours = chain.backwardPeak(() => {
      const { value, grads } = lossGradients(chain.loss, chain.variables);
      return [value, ...grads.filter((g) => g !== null)];
    });
    const theirs = chain.backwardPeak(() => {
      const { value, grads } = tf.variableGrads(chain.loss, chain.variables);
      return [value, ...Object.values(grads)];
    });
    expect(theirs).toBeGreaterThan(0);
    expect(ours).toBeLessThan((theirs * 2) / 3);
    chain.dispose();
  });

  it("falls back to tfjs's own inside an outer gradient (higher order)", () => {
    const w = tf.variable(tf.tensor1d([0.5, -1, 2]));
    const x = tf.tensor1d([1, 2, 3]);
    const inner = () => tf.sum(tf.square(tf.mul(x, w))) as tf.Scalar; // d/dw = 2·x²·w
    const outer = tf.variableGrads(() => {
      const { value, grads } = lossGradients(inner, [w]);
      return tf.add(value, tf.sum(grads[0]!)) as tf.Scalar; // d/dw of Σ 2·x²·w is 2·x² more
    }, [w]);
    const expected = [1, 4, 9].map((x2, i) => 2 * x2 * [0.5, -1, 2][i]! + 2 * x2);
    expect(Array.from(outer.grads[w.name]!.dataSync())).toEqual(expected);
    tf.dispose([outer.value, ...Object.values(outer.grads), w, x]);
  });
});

it("refuses a loss that is not a scalar, naming it", async () => {
  await tf.setBackend("cpu");
  const v = tf.variable(tf.ones([3]));
  expect(() => lossGradients(() => tf.mul(v, 2) as unknown as tf.Scalar, [v])).toThrow(
    /must return a scalar tensor, got rank 1/,
  );
  v.dispose();
});

it("takes its own path in a fresh process's first step, before the engine has a tape", async () => {
  await tf.setBackend("cpu");
  const engine = tf.engine() as unknown as { state: { activeTape?: unknown } };
  const chain = probedChain(12);
  delete engine.state.activeTape; // as before any gradient was ever taken
  const ours = chain.backwardPeak(() => {
    const { value, grads } = lossGradients(chain.loss, chain.variables);
    return [value, ...grads.filter((g) => g !== null)];
  });
  expect(engine.state.activeTape).toBeNull(); // cleared after the pass, as tfjs's own does
  const theirs = chain.backwardPeak(() => {
    const { value, grads } = tf.variableGrads(chain.loss, chain.variables);
    return [value, ...Object.values(grads)];
  });
  expect(ours).toBeLessThan((theirs * 2) / 3);
  chain.dispose();
});
