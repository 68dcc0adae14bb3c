import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { BenchResult } from "../src/commands/bench.js";
import { cli, tempDir } from "./helpers.js";

describe("convnets list", () => {
  it("shows each installed network with its recipe, and JSON on request", async () => {
    const res = await cli(["list"], { cwd: "/" });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^model +title +input +lr +batch +epochs +min input +d2l +package$/m);
    expect(res.stdout).toMatch(/^lenet +LeNet-5 +28×28 +0\.9 +256 +10 +12 +§7\.6 +@convnets\/lenet$/m);
    expect(res.stdout).toMatch(/^lenet-bn +.+ +28×28 +1 +256 +10 +16 +§8\.5 +@convnets\/lenet$/m);
    // The engine train would start, as train names it.
    expect(res.stdout).toMatch(
      /^engine: (tensorflow|webgpu|wasm|cpu) \(.+\) +\(choose with --backend or CONVNETS_BACKEND: /m,
    );
    const json = await cli(["list", "--json"], { cwd: "/" });
    const models = JSON.parse(json.stdout) as { name: string; installed: boolean; defaults?: object }[];
    expect(models.find((m) => m.name === "lenet")).toMatchObject({
      installed: true,
      defaults: { inputSize: 28, lr: 0.9, batchSize: 256, epochs: 10 },
    });
    // Every network the installed packages register, in the book's order (by d2l section).
    expect(models.map((m) => m.name)).toEqual([
      "lenet",
      "alexnet",
      "vgg11",
      "vgg13",
      "vgg16",
      "vgg19",
      "nin",
      "googlenet",
      "lenet-bn",
      "resnet18",
      "resnet34",
      "densenet",
    ]);
  });
});

describe("convnets summary", () => {
  it("prints the book's shape walk of lenet and its 61,706 parameters (as PyTorch counts them)", async () => {
    const res = await cli(["summary", "lenet"], { cwd: "/" });
    expect(res.code).toBe(0);
    const shapes = res.stdout
      .split("\n")
      .map((line) => line.split(/\s{2,}/))
      .filter((cells) => cells.length === 4 && /^\d/.test(cells[2]!))
      .map((cells) => `${cells[1]} ${cells[2]}`);
    // Channels last: PyTorch's 6×28×28 is 28×28×6 here.
    expect(shapes).toEqual([
      "Conv2D 28×28×6",
      "Activation 28×28×6",
      "AveragePooling2D 14×14×6",
      "Conv2D 10×10×16",
      "Activation 10×10×16",
      "AveragePooling2D 5×5×16",
      "Flatten 400",
      "Dense 120",
      "Activation 120",
      "Dense 84",
      "Activation 84",
      "Dense 10",
    ]);
    expect(res.stdout).toContain("trainable params: 61,706");
  });

  it("follows --input-size, and gives JSON", async () => {
    const res = await cli(["summary", "lenet", "--input-size", "32", "--json"], { cwd: "/" });
    const s = JSON.parse(res.stdout) as { inputShape: number[]; layers: { outputShape: number[] }[] };
    expect(s.inputShape).toEqual([32, 32, 1]);
    expect(s.layers.find((l) => l.outputShape.length === 1)!.outputShape).toEqual([16 * 6 * 6]);
  });
});

describe("convnets bench", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("measures training and inference examples/sec and peak memory, as a table and as JSON", async () => {
    const res = await cli(["bench", "lenet", "--batch-size", "32", "--batches", "2", "--out", "bench.json"], {
      cwd: tmp.dir,
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^model +engine +input +batch +train ex\/s +infer ex\/s +train peak +infer peak$/m);
    expect(res.stdout).toMatch(/^lenet +\S+.* +28×28 +32 +[\d,]+ +[\d,]+ +[\d.]+ [kM]?B +[\d.]+ [kM]?B$/m);
    const report = JSON.parse(readFileSync(join(tmp.dir, "bench.json"), "utf8")) as { results: BenchResult[] };
    const [r] = report.results;
    expect(r!.model).toBe("lenet");
    expect(r!.batchSize).toBe(32);
    expect(r!.train.batchSeconds).toHaveLength(2);
    expect(r!.train.examplesPerSec).toBeGreaterThan(0);
    // Inference skips the backward pass: faster than training.
    expect(r!.inference.examplesPerSec).toBeGreaterThan(r!.train.examplesPerSec);
    // The peak holds at least the weights (61,706 float32) and, for training, their gradients too.
    expect(r!.train.peakBytes).toBeGreaterThan(2 * 61_706 * 4);
    expect(r!.inference.peakBytes).toBeGreaterThan(61_706 * 4);
  });
});
