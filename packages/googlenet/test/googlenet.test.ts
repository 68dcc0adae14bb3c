import "@tensorflow/tfjs-backend-cpu";
import { outputShape, paramCount } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { googlenet, googlenetMinInputSize, googlenetSpec, inception } from "../src/index.js";

// Structure only: building and shape inference run on the cpu backend (no training here).
beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("googlenet parameters (REFERENCE.md §1)", () => {
  it("has 5,977,530 trainable parameters with the 7×7 stem", () => {
    const model = googlenet();
    expect(paramCount(model.trainableWeights)).toBe(5_977_530);
    expect(model.nonTrainableWeights).toHaveLength(0);
    model.dispose();
  });

  it("has 5,974,458 trainable parameters with the seed code's 1×1 stem", () => {
    const model = googlenet({ stemKernelSize: 1 });
    expect(paramCount(model.trainableWeights)).toBe(5_974_458);
    model.dispose();
  });
});

describe("googlenet shapes (channels-last)", () => {
  it("walks the shape table at 96 with the 7×7 stem: 24, 12, 6, 3, 1024, 10", () => {
    const model = googlenet();
    expect(model.inputs[0].shape).toEqual([null, 96, 96, 1]);
    expect(outputShape(model, "b1_conv7x7")).toEqual([null, 48, 48, 64]);
    expect(outputShape(model, "b1_pool")).toEqual([null, 24, 24, 64]);
    expect(outputShape(model, "b2_pool")).toEqual([null, 12, 12, 192]);
    expect(outputShape(model, "b3_pool")).toEqual([null, 6, 6, 480]);
    expect(outputShape(model, "b4_pool")).toEqual([null, 3, 3, 832]);
    expect(outputShape(model, "b5_global_avg")).toEqual([null, 1024]);
    expect(model.outputs[0].shape).toEqual([null, 10]);
    model.dispose();
  });

  it("reproduces the seed's printed table (26, 13, 7, 4) with its 1×1 stem", () => {
    const model = googlenet({ stemKernelSize: 1 });
    expect(outputShape(model, "b1_pool")).toEqual([null, 26, 26, 64]);
    expect(outputShape(model, "b2_pool")).toEqual([null, 13, 13, 192]);
    expect(outputShape(model, "b3_pool")).toEqual([null, 7, 7, 480]);
    expect(outputShape(model, "b4_pool")).toEqual([null, 4, 4, 832]);
    expect(outputShape(model, "b5_global_avg")).toEqual([null, 1024]);
    model.dispose();
  });

  it("gives each Inception block c1 + c2[1] + c3[1] + c4 channels", () => {
    const model = googlenet();
    const channels = (name: string) => (model.getLayer(name).outputShape as number[])[3];
    expect(channels("b3_inception1_concat")).toBe(64 + 128 + 32 + 32);
    expect(channels("b3_inception2_concat")).toBe(480);
    expect(["b4_inception1", "b4_inception2", "b4_inception3"].map((b) => channels(`${b}_concat`))).toEqual([
      512, 512, 512,
    ]);
    expect(channels("b4_inception4_concat")).toBe(528);
    expect(channels("b4_inception5_concat")).toBe(832);
    expect(channels("b5_inception1_concat")).toBe(832);
    expect(channels("b5_inception2_concat")).toBe(1024);
    model.dispose();
  });

  it("honours numClasses and a non-square, 3-channel inputShape", () => {
    const model = googlenet({ numClasses: 7, inputShape: [64, 80, 3] });
    expect(outputShape(model, "b1_pool")).toEqual([null, 16, 20, 64]);
    expect(model.outputs[0].shape).toEqual([null, 7]);
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
        "blk_p1_conv1x1",
        "blk_p2_conv1x1",
        "blk_p2_conv3x3",
        "blk_p3_conv1x1",
        "blk_p3_conv5x5",
        "blk_p4_conv1x1",
        "blk_p4_pool3x3",
        x.sourceLayer.name,
      ].sort(),
    );
    // Conv2d(192,64,1) + Conv2d(192,96,1) + Conv2d(96,128,3) + Conv2d(192,16,1) + Conv2d(16,32,5) + Conv2d(192,32,1)
    const expected = 192 * 64 + 64 + (192 * 96 + 96) + (96 * 128 * 9 + 128) + (192 * 16 + 16) + (16 * 32 * 25 + 32) + (192 * 32 + 32);
    expect(paramCount(model.trainableWeights)).toBe(expected);
    model.dispose();
  });
});

describe("googlenet computes what the seed's PyTorch layers compute", () => {
  // tfjs-core's numeric `pad` is PyTorch's padding (the same on every side, out = floor((n+2p−k)/s)+1);
  // tfjs-layers' 'same' is not at stride 2, so the stem and the pools must match the numeric form.
  it("pads the stride-2 stem conv and max pool symmetrically, like padding=3 and padding=1", () => {
    const model = googlenet({ inputShape: [10, 10, 1] });
    const conv = model.getLayer("b1_conv7x7");
    const pool = model.getLayer("b1_pool");
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
  it("accepts inputs down to 1×1, because every stride-2 layer is padded (out = ceil(n/2))", () => {
    expect(googlenetSpec.minInputSize).toBe(1);
    expect(googlenetMinInputSize(7)).toBe(1);
    const model = googlenet({ inputShape: [1, 1, 1] });
    expect(outputShape(model, "b4_pool")).toEqual([null, 1, 1, 832]);
    const y = model.predict(tf.ones([2, 1, 1, 1])) as tf.Tensor;
    expect(y.shape).toEqual([2, 10]);
    model.dispose();
  });

  it("refuses 0×0 (below the minimum of 1)", () => {
    expect(() => googlenet({ inputShape: [0, 0, 1] })).toThrow(/googlenet: inputShape/);
  });

  it("raises the minimum with a larger stem kernel and names it when refusing", () => {
    expect(googlenetMinInputSize(11)).toBe(5);
    const model = googlenet({ stemKernelSize: 11, inputShape: [5, 5, 1] });
    expect(outputShape(model, "b1_conv11x11")).toEqual([null, 1, 1, 64]);
    model.dispose();
    expect(() => googlenet({ stemKernelSize: 11, inputShape: [4, 4, 1] })).toThrow(/smallest input .* is 5×5/);
  });

  it("refuses a stem kernel that is not a positive integer", () => {
    expect(() => googlenet({ stemKernelSize: 0 })).toThrow(/googlenet: stemKernelSize must be a positive integer/);
    expect(() => googlenet({ stemKernelSize: 2.5 })).toThrow(/stemKernelSize/);
  });
});

describe("googlenetSpec", () => {
  it("carries the seed's recipe (REFERENCE.md §2) and builds the default model", () => {
    expect(googlenetSpec.name).toBe("googlenet");
    expect(googlenetSpec.seedSection).toBe("3.4");
    expect(googlenetSpec.defaults).toEqual({ inputSize: 96, lr: 0.1, batchSize: 128, epochs: 10 });
    const model = googlenetSpec.build();
    expect(model.inputs[0].shape).toEqual([null, 96, 96, 1]);
    expect(paramCount(model.trainableWeights)).toBe(5_977_530);
    model.dispose();
  });
});
