/**
 * batchNormTraining's kernel path: with `@convnets/core`'s BatchNormTrainingForward and
 * BatchNormTrainingBackward registered on wasm (setupEngine("wasm")), against its tfjs-ops path
 * (batchNormKernels.enabled = false) on the same backend, and that the path is taken only where it
 * applies.
 *
 * Error measure: relative error = max_i |kernels_i − ops_i| / max_i |ops_i|; bounds 1e-5 for y, mean
 * and variance, 1e-4 for the gradients.
 */
import { setupEngine } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BATCH_NORM_TRAINING_BACKWARD,
  BATCH_NORM_TRAINING_FORWARD,
  batchNormKernels,
  batchNormTraining,
  ConvnetsBatchNorm,
} from "../src/batchnorm.js";
import { expectNoLeakAcrossSteps } from "./leaks.js";
import { randomArray } from "./reference.js";

const EPS = 1e-5;

beforeAll(async () => {
  const engine = await setupEngine("wasm");
  expect(engine.backend).toBe("wasm");
  expect(engine.addedKernels).toContain(BATCH_NORM_TRAINING_FORWARD);
  expect(engine.addedKernels).toContain(BATCH_NORM_TRAINING_BACKWARD);
});

afterEach(() => {
  batchNormKernels.enabled = true;
});

/**
 * Activations around 50 with a standard deviation of 1 to 2 that differs per feature: the two-pass
 * variance matters. (Both paths round the mean to float32, 2e-6 here, so y agrees to ~1e-6 relative.)
 */
function activations(shape: number[], seed: number): tf.Tensor {
  const features = shape[shape.length - 1]!;
  const raw = randomArray(
    shape.reduce((a, b) => a * b, 1),
    seed,
    Math.sqrt(3),
  ); // uniform, std 1
  return tf.tensor(
    raw.map((v, i) => 50 + 0.3 * (i % features) + v * (1 + 0.25 * ((i % features) % 5))),
    shape,
  );
}

function relativeError(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  expect(ours.length).toBe(reference.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  expect(scale).toBeGreaterThan(0);
  return diff / scale;
}

const axesOf = (shape: number[]) => shape.slice(0, -1).map((_, i) => i);

/** y, mean, variance, then d(Σ y · r)/d x, gamma, beta, as numbers; the path set by batchNormKernels. */
function run(shape: number[], seed: number): Float32Array[] {
  const features = shape[shape.length - 1]!;
  const x = tf.variable(activations(shape, seed));
  const gamma = tf.variable(tf.tensor1d(randomArray(features, seed + 1, 0.5, 1)));
  const beta = tf.variable(tf.tensor1d(randomArray(features, seed + 2, 0.5)));
  const r = tf.tensor(randomArray(x.size, seed + 3), shape); // a random projection: Σ y has zero dx
  const forward = batchNormTraining(x, gamma, beta, axesOf(shape), EPS);
  const outputs = [forward.y, forward.mean, forward.variance].map((t) => t.dataSync() as Float32Array);
  const { value, grads } = tf.variableGrads(() => {
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, axesOf(shape), EPS);
    tf.dispose([mean, variance]);
    return tf.sum(tf.mul(y, r)) as tf.Scalar;
  }, [x, gamma, beta]);
  const gradients = [x, gamma, beta].map((v) => grads[v.name]!.dataSync() as Float32Array);
  tf.dispose([forward.y, forward.mean, forward.variance, value, ...Object.values(grads), x, gamma, beta, r]);
  return [...outputs, ...gradients];
}

/** The kernels batchNormTraining's forward and gradient run (tf.profile). */
async function kernelsRun(shape: number[], axes: number[]): Promise<string[]> {
  const x = activations(shape, 9);
  const features = shape[shape.length - 1]!;
  const gamma = tf.variable(tf.ones([features]));
  const beta = tf.variable(tf.zeros([features]));
  const profile = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => {
      const { y, mean, variance } = batchNormTraining(x, gamma, beta, axes, EPS);
      tf.dispose([mean, variance]);
      return tf.sum(tf.square(y)) as tf.Scalar;
    }, [gamma, beta]);
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([x, gamma, beta]);
  return profile.kernelNames;
}

const SHAPES: Record<string, number[]> = {
  "4-D NHWC, 6 channels (LeNet conv1's)": [8, 12, 12, 6],
  "4-D NHWC, 64 channels": [4, 10, 10, 64],
  "4-D NHWC, 3 channels (fewer than a vector)": [3, 5, 5, 3],
  "2-D [batch, 120]": [32, 120],
  "2-D [batch, 84]": [16, 84],
};

describe("batchNormTraining with BatchNormTrainingForward/Backward registered on wasm", () => {
  it("runs on wasm", () => {
    expect(tf.getBackend()).toBe("wasm");
  });

  describe.each(Object.entries(SHAPES))("%s", (_label, shape) => {
    it("gives the op path's y, mean, variance and gradients", () => {
      const kernels = run(shape, 1);
      batchNormKernels.enabled = false;
      const ops = run(shape, 1);
      ["y", "mean", "variance", "d/dx", "d/dgamma", "d/dbeta"].forEach((name, i) => {
        expect(relativeError(kernels[i]!, ops[i]!), name).toBeLessThanOrEqual(i < 3 ? 1e-5 : 1e-4);
      });
    });
  });

  it("takes the kernel path where it applies (all leading axes) and the op path elsewhere", async () => {
    const fused = await kernelsRun([4, 6, 6, 8], [0, 1, 2]);
    expect(fused).toContain(BATCH_NORM_TRAINING_FORWARD);
    expect(fused).toContain(BATCH_NORM_TRAINING_BACKWARD);
    expect(fused).not.toContain("Rsqrt");
    expect(await kernelsRun([16, 10], [0])).toContain(BATCH_NORM_TRAINING_FORWARD);

    // statistics over some leading axes only (forward only: the op's gradient assumes all of them): the ops
    const x = activations([4, 6, 6, 8], 10);
    const partial = await tf.profile(() => {
      const { y, mean, variance } = batchNormTraining(x, tf.ones([6, 6, 8]), tf.zeros([6, 6, 8]), [0], EPS);
      tf.dispose([y, mean, variance]);
    });
    x.dispose();
    expect(partial.kernelNames).not.toContain(BATCH_NORM_TRAINING_FORWARD);
    expect(partial.kernelNames).toContain("Rsqrt");
    // switched off: the ops
    batchNormKernels.enabled = false;
    const off = await kernelsRun([4, 6, 6, 8], [0, 1, 2]);
    expect(off).not.toContain(BATCH_NORM_TRAINING_FORWARD);
    expect(off).not.toContain(BATCH_NORM_TRAINING_BACKWARD);
  });

  it("leaks no tensor and no wasm memory, with or without the gradient tape", () => {
    const shape = [4, 6, 6, 8];
    const x = activations(shape, 20);
    const gamma = tf.variable(tf.ones([8]));
    const beta = tf.variable(tf.zeros([8]));
    const before = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    // tape off: y, mean and variance are new
    const { y, mean, variance } = batchNormTraining(x, gamma, beta, [0, 1, 2], EPS);
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose([y, mean, variance]);
    expect(tf.memory().numTensors).toBe(before);
    // tape on: the saved tensors are released with the backward pass
    const { value, grads } = tf.variableGrads(() => {
      const out = batchNormTraining(x, gamma, beta, [0, 1, 2], EPS);
      tf.dispose([out.mean, out.variance]);
      return tf.sum(tf.square(out.y)) as tf.Scalar;
    }, [gamma, beta]);
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.backend().numDataIds()).toBe(dataIds);
    tf.dispose([x, gamma, beta]);
  });

  it("as the layer: same training output and moving statistics as the op path over 3 steps", () => {
    const shape = [8, 6, 6, 5];
    const steps = () => {
      const layer = new ConvnetsBatchNorm();
      layer.build(shape);
      const outputs: Float32Array[] = [];
      for (let step = 0; step < 3; step++) {
        const x = activations(shape, 40 + step);
        outputs.push(tf.tidy(() => (layer.apply(x, { training: true }) as tf.Tensor).dataSync() as Float32Array));
        x.dispose();
      }
      const weights = layer.getWeights().map((w) => w.dataSync() as Float32Array);
      return { outputs, weights };
    };
    const kernels = steps();
    batchNormKernels.enabled = false;
    const ops = steps();
    kernels.outputs.forEach((y, i) => {
      expect(relativeError(y, ops.outputs[i]!), `y at step ${i}`).toBeLessThanOrEqual(1e-5);
    });
    const [, , kernelMean, kernelVariance] = kernels.weights;
    const [, , opMean, opVariance] = ops.weights;
    expect(relativeError(kernelMean!, opMean!)).toBeLessThanOrEqual(1e-6);
    expect(relativeError(kernelVariance!, opVariance!)).toBeLessThanOrEqual(1e-5);
  });

  it("leaks nothing across optimizer.minimize steps of a model with 4-D and 2-D BatchNorm", () => {
    expectNoLeakAcrossSteps(tfl.layers.conv2d({ filters: 6, kernelSize: 3 }), { dataIds: true });
  });
});
