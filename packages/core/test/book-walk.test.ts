import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, expect, it } from "vitest";
import { setupEngine } from "../src/index.js";
import { bookWalk, seedWalk } from "../src/testing.js";

beforeAll(async () => {
  await setupEngine("cpu");
});

it("bookWalk prints the book's shape walk: PyTorch class names, channels first, no batch dimension", () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, name: "conv" }),
      tfl.layers.reLU({ name: "conv_relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2, name: "pool" }),
      tfl.layers.flatten({ name: "flatten" }),
      tfl.layers.dense({ units: 4, name: "logits" }),
    ],
  });
  expect(bookWalk(model)).toEqual([
    ["Conv2d", [3, 6, 6]],
    ["ReLU", [3, 6, 6]],
    ["MaxPool2d", [3, 3, 3]],
    ["Flatten", [27]],
    ["Linear", [4]],
  ]);
  const kept = bookWalk(model, {
    keep: (l) => l.type !== "ReLU",
    rename: (l) => (l.name === "pool" ? "Sequential" : undefined),
  });
  expect(kept.map(([name]) => name)).toEqual(["Conv2d", "Sequential", "Flatten", "Linear"]);
  model.dispose();
});

it("keeps seedWalk as a deprecated alias of bookWalk", () => {
  expect(seedWalk).toBe(bookWalk);
});
