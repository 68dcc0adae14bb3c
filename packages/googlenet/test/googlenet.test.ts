import "@tensorflow/tfjs-backend-cpu";
import { architectureChecks, outputShape, paramCount } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { googlenet, googlenetSpec, inception } from "../src/index.js";
import { GOOGLENET } from "./network.js";

// Parameter counts and shape tables (both stems), biases, JSON round trip, input sizes and the spec: the
// checks every network runs, from GoogLeNet's row. Structure only, on the cpu backend (no training here).
architectureChecks({ describe, it, expect, beforeAll, afterAll }, GOOGLENET);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("googlenet shapes (channels-last)", () => {
  it("gives each Inception block c1 + c2[1] + c3[1] + c4 channels", () => {
    const model = googlenet();
    const channels = (name: string) => (model.getLayer(name).outputShape as number[])[3];
    expect(channels("stage1_block1_concat")).toBe(64 + 128 + 32 + 32);
    expect(channels("stage1_block2_concat")).toBe(480);
    expect(["stage2_block1", "stage2_block2", "stage2_block3"].map((b) => channels(`${b}_concat`))).toEqual([
      512, 512, 512,
    ]);
    expect(channels("stage2_block4_concat")).toBe(528);
    expect(channels("stage2_block5_concat")).toBe(832);
    expect(channels("stage3_block1_concat")).toBe(832);
    expect(channels("stage3_block2_concat")).toBe(1024);
    model.dispose();
  });
});

describe("inception()", () => {
  it("builds the four paths on a symbolic tensor and concatenates them on the channel axis", () => {
    const x = tfl.input({ shape: [12, 12, 192] });
    const y = inception(x, { c1: 64, c2: [96, 128], c3: [16, 32], c4: 32 }, "blk");
    expect(y.shape).toEqual([null, 12, 12, 256]);
    const model = tfl.model({ inputs: x, outputs: y });
    expect(model.layers.map((l) => l.name).sort()).toEqual(
      [
        "blk_concat",
        "blk_branch1_conv",
        "blk_branch2_conv1",
        "blk_branch2_conv2",
        "blk_branch3_conv1",
        "blk_branch3_conv2",
        "blk_branch4_conv",
        "blk_branch4_pool",
        x.sourceLayer.name,
      ].sort(),
    );
    // Conv2d(192,64,1) + Conv2d(192,96,1) + Conv2d(96,128,3) + Conv2d(192,16,1) + Conv2d(16,32,5) + Conv2d(192,32,1)
    const expected =
      192 * 64 + 64 + (192 * 96 + 96) + (96 * 128 * 9 + 128) + (192 * 16 + 16) + (16 * 32 * 25 + 32) + (192 * 32 + 32);
    expect(paramCount(model.trainableWeights)).toBe(expected);
    model.dispose();
  });
});

describe("googlenet computes what the book's PyTorch layers compute", () => {
  // tfjs-core's numeric `pad` is PyTorch's padding (the same on every side, out = floor((n+2p−k)/s)+1);
  // tfjs-layers' 'same' is not at stride 2, so the stem and the pools must match the numeric form.
  it("pads the stride-2 stem conv and max pool symmetrically, like padding=3 and padding=1", () => {
    const model = googlenet({ inputShape: [10, 10, 1] });
    const conv = model.getLayer("stem_conv1");
    const pool = model.getLayer("stem_pool1");
    const probe = tfl.model({ inputs: model.inputs, outputs: [conv.output, pool.output] as tfl.SymbolicTensor[] });
    const x = tf.randomUniform([2, 10, 10, 1], 0, 1, "float32", 7);
    const [convOut, poolOut] = probe.predict(x) as tf.Tensor[];
    const [kernel, bias] = conv.getWeights();
    const expectedConv = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 2, 3), bias));
    const expectedPool = tf.maxPool(expectedConv as tf.Tensor4D, 3, 2, 1);
    expect(convOut.shape).toEqual([2, 5, 5, 64]);
    expect(poolOut.shape).toEqual([2, 3, 3, 64]);
    expect(tf.max(tf.abs(tf.sub(convOut, expectedConv))).dataSync()[0]).toBeLessThan(1e-5);
    expect(tf.max(tf.abs(tf.sub(poolOut, expectedPool))).dataSync()[0]).toBeLessThan(1e-5);
    // And tfjs's own 'same' would have given different numbers here: the explicit padding matters.
    const sameConv = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 2, "same"), bias));
    expect(tf.max(tf.abs(tf.sub(convOut, sameConv))).dataSync()[0]).toBeGreaterThan(1e-3);
    model.dispose();
  });
});

describe("googlenet input size", () => {
  it("is 1×1 with the 7×7 stem, and raises the minimum with a larger stem kernel, naming it when refusing", () => {
    expect(googlenetSpec.minInputSize).toBe(1);
    const model = googlenet({ stemKernelSize: 11, inputShape: [5, 5, 1] });
    expect(outputShape(model, "stem_conv1")).toEqual([null, 1, 1, 64]);
    model.dispose();
    expect(() => googlenet({ stemKernelSize: 11, inputShape: [4, 4, 1] })).toThrow(/smallest input .* is 5×5/);
  });

  it("refuses a stem kernel that is not a positive integer", () => {
    expect(() => googlenet({ stemKernelSize: 0 })).toThrow(/googlenet: stemKernelSize must be a positive integer/);
    expect(() => googlenet({ stemKernelSize: 2.5 })).toThrow(/stemKernelSize/);
  });
});
