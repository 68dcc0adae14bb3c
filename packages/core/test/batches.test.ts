import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  batchCount,
  batches,
  type FashionMnist,
  loadFashionMnist,
  setupEngine,
  shuffledOrder,
  takeImages,
} from "../src/index.js";
import { REAL_DIR } from "./helpers.js";

let data: FashionMnist;
beforeAll(async () => {
  await setupEngine("cpu");
  data = await loadFashionMnist({ dir: REAL_DIR });
});

describe("batches", () => {
  it("keeps the last partial batch", () => {
    const set = takeImages(data.test, 1000);
    const sizes = [...batches(set, { batchSize: 256 })].map((b) => {
      tf.dispose([b.xs, b.labels]);
      return b.size;
    });
    expect(sizes).toEqual([256, 256, 256, 232]);
    expect(batchCount(set, 256)).toBe(4);
  });

  it("scales pixels to [0, 1] and keeps the labels, in order when not shuffled", () => {
    const set = takeImages(data.test, 8);
    const [first] = batches(set, { batchSize: 8 });
    const { xs, labels } = first!;
    expect(xs.shape).toEqual([8, 28, 28, 1]);
    const values = xs.dataSync();
    expect(values[0 * 784 + 300]).toBeCloseTo(set.images[300]! / 255, 6);
    expect(Math.max(...values)).toBeLessThanOrEqual(1);
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Array.from(labels.dataSync())).toEqual(Array.from(set.labels));
    expect(labels.dtype).toBe("int32");
    tf.dispose([xs, labels]);
  });

  it("resizes each batch bilinearly to the input size, never the whole set", () => {
    const set = takeImages(data.test, 4);
    const [b] = batches(set, { batchSize: 4, inputSize: 96 });
    expect(b!.xs.shape).toEqual([4, 96, 96, 1]);
    // Half-pixel bilinear upsampling of a constant region stays constant; the mean brightness is preserved closely.
    const meanOriginal = set.images.reduce((a, v) => a + v, 0) / set.images.length / 255;
    expect(tf.mean(b!.xs).dataSync()[0]).toBeCloseTo(meanOriginal, 2);
    tf.dispose([b!.xs, b!.labels]);
  });

  it("shuffles by (seed, epoch): same order for the same pair, another for the next epoch", () => {
    const a = shuffledOrder(1000, 7, 1);
    expect(Array.from(shuffledOrder(1000, 7, 1))).toEqual(Array.from(a));
    expect(Array.from(shuffledOrder(1000, 7, 2))).not.toEqual(Array.from(a));
    expect(Array.from(shuffledOrder(1000, 8, 1))).not.toEqual(Array.from(a));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("a shuffled epoch still visits every example once", () => {
    const set = takeImages(data.train, 600);
    const seen: number[] = [];
    for (const b of batches(set, { batchSize: 128, shuffle: true, seed: 3, epoch: 1 })) {
      seen.push(...b.labels.dataSync());
      tf.dispose([b.xs, b.labels]);
    }
    const histogram = (ls: ArrayLike<number>) => {
      const h = new Array<number>(10).fill(0);
      for (const l of Array.from(ls)) h[l]!++;
      return h;
    };
    expect(histogram(seen)).toEqual(histogram(set.labels));
    expect(seen).not.toEqual(Array.from(set.labels));
  });

  it("refuses a zero batch size", () => {
    expect(() => [...batches(data.test, { batchSize: 0 })]).toThrow(/batchSize must be a positive integer, got 0/);
  });
});
