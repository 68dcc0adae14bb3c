import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  candidateDirs,
  FASHION_MNIST_CLASSES,
  type FashionMnist,
  loadFashionMnist,
  readImageSets,
  takeImages,
} from "../src/index.js";
import { gz, idxBytes, REAL_DIR, tempDir } from "./helpers.js";

describe("loadFashionMnist on the real files", () => {
  let data: FashionMnist;
  beforeAll(async () => {
    data = await loadFashionMnist({ dir: REAL_DIR });
  });

  it("has 60,000 training and 10,000 test images of 28×28, as bytes", () => {
    expect(data.train.count).toBe(60000);
    expect(data.test.count).toBe(10000);
    expect([data.train.height, data.train.width]).toEqual([28, 28]);
    expect(data.train.images).toBeInstanceOf(Uint8Array);
    expect(data.train.images.length).toBe(60000 * 784);
  });

  it("has 6,000 training images of each of the ten classes, named in label order", () => {
    const counts = new Array(10).fill(0);
    for (const l of data.train.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    expect(data.classNames).toEqual(FASHION_MNIST_CLASSES);
    expect(data.classNames[9]).toBe("Ankle boot");
  });

  it("takeImages returns the first examples without copying", () => {
    const few = takeImages(data.train, 100);
    expect(few.count).toBe(100);
    expect(few.images.buffer).toBe(data.train.images.buffer);
    expect(Array.from(few.labels)).toEqual(Array.from(data.train.labels.subarray(0, 100)));
    expect(takeImages(data.test, 1e9).count).toBe(10000);
    expect(() => takeImages(data.test, 0)).toThrow(/limit must be a positive integer, got 0/);
  });
});

describe("where loadFashionMnist looks", () => {
  const saved = process.env.FASHION_MNIST_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
    else process.env.FASHION_MNIST_DIR = saved;
  });

  it("explicit dir, then FASHION_MNIST_DIR, then the cache, then Debian's package", () => {
    process.env.FASHION_MNIST_DIR = "/from/env";
    expect(candidateDirs({ cacheDir: "/cache" })).toEqual(["/from/env", "/cache", "/usr/share/datasets/fashion-mnist"]);
    expect(candidateDirs({ dir: "/explicit", cacheDir: "/cache" })).toEqual(["/explicit"]);
  });

  it("uses FASHION_MNIST_DIR when it holds the files", async () => {
    const dir = writeSet(tempDir(), { train: 3, test: 2 });
    process.env.FASHION_MNIST_DIR = dir;
    const data = await loadFashionMnist({ cacheDir: tempDir(), download: false });
    expect(data.dir).toBe(dir);
    expect(data.train.count).toBe(3);
  });

  it("offline and not found anywhere: one message naming the places and the ways to get it", async () => {
    delete process.env.FASHION_MNIST_DIR;
    const cacheDir = join(tempDir(), "cache");
    const systemDir = join(tempDir(), "no-system-copy");
    await expect(loadFashionMnist({ cacheDir, systemDir, download: false })).rejects.toThrow(
      `Fashion-MNIST not found in ${cacheDir}, ${systemDir}. Get Fashion-MNIST one of these ways: \`apt-get install dataset-fashion-mnist\``,
    );
  });

  it("FASHION_MNIST_DIR missing, incomplete or damaged is an error naming it and the file, never a fallback", async () => {
    const good = writeSet(tempDir(), { train: 3, test: 2 });
    const options = { cacheDir: good, systemDir: good, download: false };
    process.env.FASHION_MNIST_DIR = join(tempDir(), "missing");
    await expect(loadFashionMnist(options)).rejects.toThrow(
      `Fashion-MNIST directory ${process.env.FASHION_MNIST_DIR} (from FASHION_MNIST_DIR) does not exist. Point FASHION_MNIST_DIR at a complete copy`,
    );
    const incomplete = writeSet(tempDir(), { train: 3, test: 2 });
    rmSync(join(incomplete, "t10k-images-idx3-ubyte.gz"));
    process.env.FASHION_MNIST_DIR = incomplete;
    await expect(loadFashionMnist(options)).rejects.toThrow(
      `${incomplete} (from FASHION_MNIST_DIR) lacks t10k-images-idx3-ubyte.gz`,
    );
    const damaged = writeSet(tempDir(), { train: 3, test: 2 });
    writeFileSync(join(damaged, "train-labels-idx1-ubyte.gz"), "<html>not found</html>");
    process.env.FASHION_MNIST_DIR = damaged;
    await expect(loadFashionMnist(options)).rejects.toThrow(
      new RegExp(
        `^${join(damaged, "train-labels-idx1-ubyte.gz")}: named .gz but is not gzip data.*\\(FASHION_MNIST_DIR=${damaged}\\)`,
      ),
    );
  });

  it("a failed download (no internet here) says so and leaves no partial file in the cache", async () => {
    delete process.env.FASHION_MNIST_DIR;
    const cacheDir = join(tempDir(), "cache");
    const systemDir = join(tempDir(), "no-system-copy");
    const error = await loadFashionMnist({ cacheDir, systemDir, download: true }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/and the download failed \(.+\)\. Get Fashion-MNIST one of these ways/);
    const { readdirSync } = await import("node:fs");
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});

/** Writes a small, valid Fashion-MNIST-shaped directory. */
function writeSet(dir: string, n: { train: number; test: number }): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gz(idxBytes([n.train, 28, 28])));
  writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gz(idxBytes([n.train])));
  writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gz(idxBytes([n.test, 28, 28])));
  writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gz(idxBytes([n.test])));
  return dir;
}

describe("loadFashionMnist on bad directories", () => {
  it("a missing directory", async () => {
    const dir = join(tempDir(), "absent");
    await expect(loadFashionMnist({ dir })).rejects.toThrow(`Fashion-MNIST directory ${dir} does not exist.`);
  });

  it("an empty directory says it is empty and how to get the data", async () => {
    const dir = tempDir();
    await expect(loadFashionMnist({ dir })).rejects.toThrow(
      new RegExp(
        `directory ${dir} is empty\\. Get Fashion-MNIST one of these ways: .apt-get install dataset-fashion-mnist`,
      ),
    );
  });

  it("a directory missing one file names that file", async () => {
    const dir = writeSet(tempDir(), { train: 2, test: 2 });
    rmSync(join(dir, "t10k-labels-idx1-ubyte.gz"));
    await expect(loadFashionMnist({ dir })).rejects.toThrow(`${dir} lacks t10k-labels-idx1-ubyte.gz`);
  });

  it("image and label counts that differ", async () => {
    const dir = writeSet(tempDir(), { train: 5, test: 2 });
    writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gz(idxBytes([4])));
    await expect(loadFashionMnist({ dir })).rejects.toThrow(
      `${join(dir, "train-images-idx3-ubyte.gz")} has 5 images but ${join(dir, "train-labels-idx1-ubyte.gz")} has 4 labels`,
    );
  });

  it("a label outside the ten classes", async () => {
    const dir = writeSet(tempDir(), { train: 3, test: 2 });
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gz(idxBytes([2], Uint8Array.from([1, 12]))));
    await expect(loadFashionMnist({ dir })).rejects.toThrow(/label 12 at index 1 is outside 0–9/);
  });

  it("an images file with the wrong rank", async () => {
    const dir = writeSet(tempDir(), { train: 3, test: 2 });
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gz(idxBytes([2, 784])));
    await expect(loadFashionMnist({ dir })).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: expected 3 dimensions/);
  });

  it("a corrupt file inside an otherwise complete directory names that file", async () => {
    const dir = writeSet(tempDir(), { train: 3, test: 2 });
    writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), "not gzip at all");
    await expect(loadFashionMnist({ dir })).rejects.toThrow(
      `${join(dir, "train-images-idx3-ubyte.gz")}: named .gz but is not gzip`,
    );
  });
});

describe("readImageSets: the four files from any reader (the playground's URLs and picked files)", () => {
  const idx = (dims: number[], fill = 0) => ({
    dims,
    data: new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(fill),
  });
  const sizes: Record<string, number[]> = {
    "train-images-idx3-ubyte": [3, 2, 2],
    "train-labels-idx1-ubyte": [3],
    "t10k-images-idx3-ubyte": [2, 2, 2],
    "t10k-labels-idx1-ubyte": [2],
  };

  it("asks the reader for each file once and pairs images with labels", async () => {
    const asked: string[] = [];
    const sets = await readImageSets(async (name) => {
      asked.push(name);
      return { name: `https://example.test/${name}.gz`, idx: idx(sizes[name]!, name.includes("labels") ? 7 : 200) };
    });
    expect(asked.sort()).toEqual(Object.keys(sizes).sort());
    expect(sets.train).toMatchObject({ count: 3, height: 2, width: 2 });
    expect(Array.from(sets.train.labels)).toEqual([7, 7, 7]);
    expect(sets.test.count).toBe(2);
  });

  it("names the reader's files when a pair does not match", async () => {
    const read = async (name: string) => ({
      name: `picked/${name}`,
      idx: idx(name === "t10k-labels-idx1-ubyte" ? [5] : sizes[name]!),
    });
    await expect(readImageSets(read)).rejects.toThrow(
      "picked/t10k-images-idx3-ubyte has 2 images but picked/t10k-labels-idx1-ubyte has 5 labels",
    );
  });
});
