import "@tensorflow/tfjs-backend-cpu";
import { ConvnetsBatchNorm } from "@convnets/batchnorm";
import { architectureChecks } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LENETS } from "./network.js";

// Parameter and moving-statistic counts, the book's shape tables, biases, JSON round trip, input sizes and the
// spec: the checks every network runs, from the two LeNets' rows. Building needs a backend for the initial
// weights; no training happens in this file.
for (const row of LENETS) architectureChecks({ describe, it, expect, beforeAll, afterAll }, row);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe.each(LENETS.map((c) => [c.spec.name, c] as const))("%s", (name, c) => {
  const withBatchNorm = c.batchNorms.count > 0;

  it("puts the book's BatchNorm (and only it) where the book does", () => {
    const model = c.build();
    const norms = model.layers.filter((l) => l.getClassName() === "ConvnetsBatchNorm");
    expect(norms.every((l) => l instanceof ConvnetsBatchNorm)).toBe(true);
    expect(norms.map((l) => l.name)).toEqual(withBatchNorm ? ["conv1_bn", "conv2_bn", "fc1_bn", "fc2_bn"] : []);
    for (const l of norms) {
      expect((l as ConvnetsBatchNorm).momentum).toBe(0.9);
      expect((l as ConvnetsBatchNorm).epsilon).toBe(1e-5);
    }
    // logits: the last layer has no activation
    expect(model.getLayer("logits").getConfig()["activation"]).toBe("linear");
    expect(model.getLayer("conv1_sigmoid").getConfig()["activation"]).toBe("sigmoid");
    expect(model.getLayer("pool1").getClassName()).toBe("AveragePooling2D");
    expect(model.name).toBe(name);
  });

  it("initialises kernels Xavier-uniform and biases at zero", () => {
    const model = c.build();
    for (const layerName of ["conv1", "conv2", "fc1", "fc2", "logits"]) {
      const [kernel, bias] = model.getLayer(layerName).getWeights();
      const shape = kernel!.shape;
      const receptive = size(shape.slice(0, -2));
      const limit = Math.sqrt(6 / ((shape.at(-2)! + shape.at(-1)!) * receptive));
      const values = Array.from(kernel!.dataSync());
      const maxAbs = values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // The weights are float32: tfjs draws them between ±limit rounded to float32, which may lie above limit.
      expect(maxAbs, layerName).toBeLessThanOrEqual(Math.fround(limit));
      expect(maxAbs, layerName).toBeGreaterThan(0.8 * limit);
      expect(
        Array.from(bias!.dataSync()).every((v) => v === 0),
        layerName,
      ).toBe(true);
    }
    // the variance of U(-a, a) is a²/3; dense1 has enough weights to check it
    const kernel = model.getLayer("fc1").getWeights()[0]!;
    const values = Array.from(kernel.dataSync());
    const limit = Math.sqrt(6 / (kernel.shape[0]! + kernel.shape[1]!));
    const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
    expect(variance / ((limit * limit) / 3)).toBeCloseTo(1, 1);
  });
});
