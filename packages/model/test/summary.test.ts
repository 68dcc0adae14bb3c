import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { formatSummary, summary } from "../src/index.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** The book's LeNet (d2l §7.6), built here only to check the summary against the book's printed shapes. */
function bookLenet() {
  return tfl.sequential({
    name: "lenet",
    layers: [
      tfl.layers.conv2d({
        name: "conv1",
        inputShape: [28, 28, 1],
        filters: 6,
        kernelSize: 5,
        padding: "same",
        activation: "sigmoid",
      }),
      tfl.layers.averagePooling2d({ name: "pool1", poolSize: 2, strides: 2 }),
      tfl.layers.conv2d({ name: "conv2", filters: 16, kernelSize: 5, activation: "sigmoid" }),
      tfl.layers.averagePooling2d({ name: "pool2", poolSize: 2, strides: 2 }),
      tfl.layers.flatten({ name: "flatten" }),
      tfl.layers.dense({ name: "fc1", units: 120, activation: "sigmoid" }),
      tfl.layers.dense({ name: "fc2", units: 84, activation: "sigmoid" }),
      tfl.layers.dense({ name: "fc3", units: 10 }),
    ],
  });
}

describe("summary", () => {
  it("walks the layers with output shapes and parameter counts (LeNet: 61,706)", () => {
    const s = summary(bookLenet());
    expect(s.layers.map((l) => [l.name, l.outputShape])).toEqual([
      ["conv1", [28, 28, 6]],
      ["pool1", [14, 14, 6]],
      ["conv2", [10, 10, 16]],
      ["pool2", [5, 5, 16]],
      ["flatten", [400]],
      ["fc1", [120]],
      ["fc2", [84]],
      ["fc3", [10]],
    ]);
    expect(s.layers[0]!.params).toBe(6 * 25 + 6);
    expect(s.trainableParams).toBe(61706);
    expect(s.nonTrainableParams).toBe(0);
    expect(s.inputShape).toEqual([28, 28, 1]);
  });

  it("splits trainable and non-trainable parameters (tfjs BatchNormalization keeps 2 of its 4 per channel trainable)", () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [4], units: 3 }), tfl.layers.batchNormalization({})],
    });
    const s = summary(model);
    expect(s.totalParams).toBe(15 + 12);
    expect(s.trainableParams).toBe(15 + 6);
    expect(s.nonTrainableParams).toBe(6);
  });

  it("formats a plain-text table with totals", () => {
    const text = formatSummary(summary(bookLenet()));
    const lines = text.split("\n");
    expect(lines[0]).toBe("lenet, input 28×28×1");
    expect(lines[1]).toMatch(/^layer\s+type\s+output shape\s+params$/);
    expect(text).toMatch(/conv1\s+Conv2D\s+28×28×6\s+156/);
    expect(text).toContain("trainable params: 61,706");
  });
});
