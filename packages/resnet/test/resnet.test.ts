import "@tensorflow/tfjs-backend-cpu";
import { architectureChecks, outputShape, paramCount } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { residual, resnet, resnet18, resnet18Spec, resnet34, resnet34Spec, resnetBlock } from "../src/index.js";
import { RESNET18 } from "./network.js";

// ResNet-18's parameter and moving-statistic counts, shape tables at 96 and 224, biases, JSON round trip, input
// sizes and the spec: the checks every network runs, from its row. Structure only, on the cpu backend
// (training is in training.test.ts).
architectureChecks({ describe, it, expect, beforeAll, afterAll }, RESNET18);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("resnet34", () => {
  it("resnet34 has 21,290,250 trainable parameters (stages 3, 4, 6, 3)", () => {
    // Counted as PyTorch counts the book's blocks (conv bias included, BN gamma and beta):
    // stem 3,200 + 128; residual(cin, c) = 9·cin·c + c + 2c + 9·c² + c + 2c (+ cin·c + c with projection);
    // stage1 3×r(64,64), stage2 r(64,128,proj) + 3×r(128,128), stage3 r(128,256,proj) + 5×r(256,256),
    // stage4 r(256,512,proj) + 2×r(512,512); dense 5,130. The same formula gives resnet18's 11,178,378.
    const model = resnet34();
    expect(paramCount(model.trainableWeights)).toBe(21_290_250);
    expect(model.name).toBe("resnet34");
    expect(model.layers.some((l) => l.name === "stage3_block6_add")).toBe(true);
    expect(model.layers.some((l) => l.name === "stage4_block7_add")).toBe(false);
    model.dispose();
  });

  it("resnet34 ends at 512×3×3 at 96 too", () => {
    const model = resnet34();
    expect(outputShape(model, "stage4_block3_relu2")).toEqual([null, 3, 3, 512]);
    model.dispose();
  });
});

describe("residual() and resnetBlock()", () => {
  it("names a projected block's layers after the book's Residual", () => {
    const x = tfl.input({ shape: [12, 12, 64] });
    const y = residual(x, { filters: 128, strides: 2, useProjection: true }, "blk");
    expect(y.shape).toEqual([null, 6, 6, 128]);
    const model = tfl.model({ inputs: x, outputs: y });
    const names = model.layers.map((l) => l.name).filter((n) => n.startsWith("blk"));
    expect(names.sort()).toEqual(
      [
        "blk_add",
        "blk_bn1",
        "blk_bn2",
        "blk_conv1",
        "blk_conv1_pad",
        "blk_conv2",
        "blk_shortcut_conv",
        "blk_relu1",
        "blk_relu2",
      ].sort(),
    );
    // conv1 9·64·128+128, bn1 256, conv2 9·128²+128, bn2 256, conv3 64·128+128
    expect(paramCount(model.trainableWeights)).toBe(
      9 * 64 * 128 + 128 + 256 + 9 * 128 * 128 + 128 + 256 + 64 * 128 + 128,
    );
    model.dispose();
  });

  it("refuses a shortcut that cannot be added without a projection, saying what to pass", () => {
    const x = tfl.input({ shape: [12, 12, 64] });
    expect(() => residual(x, { filters: 128 }, "blk")).toThrow(/residual blk: .*64 channels.*useProjection: true/);
    expect(() => residual(x, { filters: 64, strides: 2 }, "blk2")).toThrow(/useProjection: true/);
  });

  it("downsamples in the first block unless firstBlock", () => {
    const x = tfl.input({ shape: [12, 12, 64] });
    expect(resnetBlock(x, { filters: 64, numResiduals: 2, firstBlock: true }, "s2").shape).toEqual([null, 12, 12, 64]);
    expect(resnetBlock(x, { filters: 128, numResiduals: 2 }, "s3").shape).toEqual([null, 6, 6, 128]);
    expect(() => resnetBlock(x, { filters: 64, numResiduals: 0 }, "s4")).toThrow(
      /numResiduals must be a positive integer/,
    );
  });

  it("refuses an empty or fractional stage table", () => {
    expect(() => resnet([])).toThrow(/resnet: stages must list/);
    expect(() => resnet([2, 1.5])).toThrow(/resnet: stages must list/);
  });

  it("names a custom depth after its block count", () => {
    const model = resnet([1, 1, 1, 1], { inputShape: [32, 32, 1] });
    expect(model.name).toBe("resnet10");
    model.dispose();
  });
});

describe("resnet computes what the book's PyTorch layers compute", () => {
  // tfjs-core's numeric `pad` is PyTorch's padding (the same on every side); tfjs-layers' 'same' is
  // not at stride 2 on even inputs, so every stride-2 layer must match the numeric form.
  it("pads the stem conv, stem pool and the stride-2 residual conv symmetrically", () => {
    const model = resnet18({ inputShape: [16, 16, 1] });
    const names = [
      "stem_relu",
      "stem_pool",
      "stage1_block2_relu2",
      "stage2_block1_conv1",
      "stage2_block1_shortcut_conv",
    ];
    const probe = tfl.model({
      inputs: model.inputs,
      outputs: names.map((n) => model.getLayer(n).output as tfl.SymbolicTensor),
    });
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, "float32", 3) as tf.Tensor4D;
    const [stemRelu, stemPool, stage2Out, conv1, conv3] = probe.predict(x) as tf.Tensor4D[];
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];

    const [k1, b1] = model.getLayer("stem_conv").getWeights() as [tf.Tensor4D, tf.Tensor];
    const stemConv = tf.add(tf.conv2d(x, k1, 2, 3), b1);
    // Inference-mode BatchNorm with fresh statistics (mean 0, var 1, gamma 1, beta 0) is x / sqrt(1 + 1e-5).
    const expectedStemRelu = tf.relu(tf.div(stemConv, Math.sqrt(1 + 1e-5)));
    expect(maxDiff(stemRelu!, expectedStemRelu)).toBeLessThan(1e-5);
    expect(maxDiff(stemPool!, tf.maxPool(stemRelu!, 3, 2, 1))).toBeLessThan(1e-6);

    const [k2, b2] = model.getLayer("stage2_block1_conv1").getWeights() as [tf.Tensor4D, tf.Tensor];
    expect(conv1!.shape).toEqual([2, 2, 2, 128]);
    expect(maxDiff(conv1!, tf.add(tf.conv2d(stage2Out!, k2, 2, 1), b2))).toBeLessThan(1e-5);
    expect(maxDiff(conv1!, tf.add(tf.conv2d(stage2Out!, k2, 2, "same"), b2))).toBeGreaterThan(1e-3);

    const [k3, b3] = model.getLayer("stage2_block1_shortcut_conv").getWeights() as [tf.Tensor4D, tf.Tensor];
    expect(maxDiff(conv3!, tf.add(tf.conv2d(stage2Out!, k3, 2, 0), b3))).toBeLessThan(1e-5);
    model.dispose();
  });
});

describe("resnet specs", () => {
  it("resnet34's spec carries resnet18's recipe and builds its model", () => {
    expect(resnet34Spec.name).toBe("resnet34");
    expect(resnet34Spec.defaults).toEqual(resnet18Spec.defaults);
    expect(resnet34Spec.minInputSize).toBe(resnet18Spec.minInputSize);
    const model = resnet34Spec.build({ inputShape: [32, 32, 1] });
    expect(model.name).toBe("resnet34");
    model.dispose();
  });
});
