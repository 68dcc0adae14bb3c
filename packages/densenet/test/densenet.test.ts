import "@tensorflow/tfjs-backend-cpu";
import { architectureChecks, outputShape, paramCount } from "@convnets/core/testing";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convBlock, denseBlock, densenet, densenetSpec, transitionBlock } from "../src/index.js";
import { DENSENET } from "./network.js";

// Parameter and moving-statistic counts, shape tables at 96, 224 and 60, biases, JSON round trip, input sizes
// and the spec: the checks every network runs, from DenseNet's row. Structure only, on the cpu backend
// (training is in training.test.ts).
architectureChecks({ describe, it, expect, beforeAll, afterAll }, DENSENET);

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** PyTorch's count of the book's DenseNet (conv bias included, BN gamma and beta), as an independent check. */
function seedParamCount(blocks: number[], growthRate: number, numClasses = 10): number {
  let n = 64 * 49 + 64 + 2 * 64; // stem conv + BN
  let channels = 64;
  blocks.forEach((numConvs, i) => {
    for (let j = 0; j < numConvs; j++) {
      n += 2 * channels + channels * growthRate * 9 + growthRate; // conv_block: BN + 3×3 conv
      channels += growthRate;
    }
    if (i !== blocks.length - 1) {
      const half = Math.floor(channels / 2);
      n += 2 * channels + channels * half + half; // transition: BN + 1×1 conv
      channels = half;
    }
  });
  return n + 2 * channels + channels * numClasses + numClasses; // final BN + dense
}

describe("densenet parameters (the book's printed tables)", () => {
  it("are PyTorch's count of the book's DenseNet: 758,226 with growth rate 32 and blocks [4, 4, 4, 4]", () => {
    expect(seedParamCount([4, 4, 4, 4], 32)).toBe(758_226);
  });

  it("follows growthRate and blocks", () => {
    const model = densenet({ growthRate: 12, blocks: [2, 3, 2], inputShape: [48, 48, 1] });
    expect(paramCount(model.trainableWeights)).toBe(seedParamCount([2, 3, 2], 12));
    // 64 + 2·12 = 88 → 44; 44 + 3·12 = 80 → 40; 40 + 2·12 = 64
    expect(outputShape(model, "stage1_block2_concat")).toEqual([null, 12, 12, 88]);
    expect(outputShape(model, "stage1_transition_pool")).toEqual([null, 6, 6, 44]);
    expect(outputShape(model, "stage3_block2_concat")).toEqual([null, 3, 3, 64]);
    expect(outputShape(model, "global_pool")).toEqual([null, 64]);
    model.dispose();
  });
});

describe("convBlock(), denseBlock(), transitionBlock()", () => {
  it("grow the channels by numConvs × growthRate, then halve channels and size", () => {
    const x = tfl.input({ shape: [8, 8, 64] });
    expect(convBlock(x, 32, "cb").shape).toEqual([null, 8, 8, 32]);
    const dense = denseBlock(x, { numConvs: 4, growthRate: 32 }, "db");
    expect(dense.shape).toEqual([null, 8, 8, 192]);
    const transition = transitionBlock(dense, 96, "tb");
    expect(transition.shape).toEqual([null, 4, 4, 96]);
    const model = tfl.model({ inputs: x, outputs: transition });
    const names = model.layers.map((l) => l.name);
    expect(names).toContain("db_block1_bn");
    expect(names).toContain("db_block1_relu");
    expect(names).toContain("db_block4_conv");
    expect(names).toContain("db_block4_concat");
    expect(names.filter((n) => n.startsWith("tb"))).toEqual(["tb_bn", "tb_relu", "tb_conv", "tb_pool"]);
    model.dispose();
  });
});

describe("densenet computes what the book's PyTorch layers compute", () => {
  it("pads the stride-2 stem conv and max pool symmetrically, like padding=3 and padding=1", () => {
    const model = densenet({ inputShape: [32, 32, 1] });
    const probe = tfl.model({
      inputs: model.inputs,
      outputs: ["stem_conv", "stem_relu", "stem_pool"].map((n) => model.getLayer(n).output as tfl.SymbolicTensor),
    });
    const x = tf.randomUniform([2, 32, 32, 1], 0, 1, "float32", 5) as tf.Tensor4D;
    const [conv, relu, pool] = probe.predict(x) as tf.Tensor4D[];
    const [kernel, bias] = model.getLayer("stem_conv").getWeights() as [tf.Tensor4D, tf.Tensor];
    const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
    expect(maxDiff(conv!, tf.add(tf.conv2d(x, kernel, 2, 3), bias))).toBeLessThan(1e-5);
    expect(maxDiff(conv!, tf.add(tf.conv2d(x, kernel, 2, "same"), bias))).toBeGreaterThan(1e-3);
    expect(maxDiff(pool!, tf.maxPool(relu!, 3, 2, 1))).toBeLessThan(1e-6);
    model.dispose();
  });
});

describe("densenet input size", () => {
  it("needs 29×29 with four dense blocks (each transition needs 2 pixels to pool), less with fewer", () => {
    expect(densenetSpec.minInputSize).toBe(29);
    expect(() => densenet({ inputShape: [28, 28, 1] })).toThrow(/is 29×29/);
    expect(densenet({ blocks: [4, 4], inputShape: [5, 5, 1] }).outputs[0].shape).toEqual([null, 10]);
    expect(() => densenet({ blocks: [4, 4], inputShape: [4, 4, 1] })).toThrow(/is 5×5/);
    expect(densenet({ blocks: [4], inputShape: [1, 1, 1] }).outputs[0].shape).toEqual([null, 10]);
  });

  it("refuses bad growthRate and blocks with the book's values as a hint", () => {
    expect(() => densenet({ growthRate: 0 })).toThrow(
      /densenet: growthRate must be a positive integer \(d2l §8.7 uses 32\)/,
    );
    expect(() => densenet({ blocks: [] })).toThrow(/densenet: blocks must list/);
    expect(() => densenet({ blocks: [4, 0] })).toThrow(/\[4, 4, 4, 4\]/);
  });
});
