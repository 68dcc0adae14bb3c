import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel, ModelFileError, saveModel, setupEngine } from "../src/index.js";
import { tempDir } from "./helpers.js";

beforeAll(async () => {
  await setupEngine("cpu");
});

const small = () =>
  tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: "relu" }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4 }),
    ],
  });

describe("saveModel / loadModel", () => {
  it("round-trips a model in TensorFlow.js layers format and predicts the same numbers", async () => {
    const dir = join(tempDir(), "model");
    const model = small();
    await saveModel(model, dir);
    const manifest = JSON.parse(readFileSync(join(dir, "model.json"), "utf8"));
    expect(manifest.format).toBe("layers-model");
    expect(manifest.weightsManifest[0].paths).toEqual(["weights.bin"]);
    const loaded = await loadModel(dir);
    const x = tf.randomUniform([2, 8, 8, 1], 0, 1, "float32", 1);
    const a = (model.predict(x) as tf.Tensor).arraySync();
    const b = (loaded.predict(x) as tf.Tensor).arraySync();
    expect(b).toEqual(a);
  });

  it("replaces an existing save whole, leaving no temporary directories", async () => {
    const dir = join(tempDir(), "model");
    await saveModel(small(), dir);
    const second = small();
    await saveModel(second, dir);
    expect(existsSync(`${dir}.tmp`)).toBe(false);
    expect(existsSync(`${dir}.old`)).toBe(false);
    const loaded = await loadModel(dir);
    expect(loaded.getWeights()[0]!.arraySync()).toEqual(second.getWeights()[0]!.arraySync());
  });

  it("a directory that is not a saved model gets a clear error", async () => {
    const dir = tempDir();
    await expect(loadModel(dir)).rejects.toThrow(
      `${join(dir, "model.json")} not found: ${dir} is not a saved TensorFlow.js model`,
    );
  });

  it("a truncated weights.bin or a garbage model.json is named, with what is wrong", async () => {
    const dir = join(tempDir(), "model");
    await saveModel(small(), dir);
    const weights = join(dir, "weights.bin");
    const full = readFileSync(weights);
    writeFileSync(weights, full.subarray(0, 94));
    const error = await loadModel(dir).catch((e) => e);
    expect(error).toBeInstanceOf(ModelFileError);
    expect(error.file).toBe(weights);
    expect(error.message).toBe(
      `${weights}: damaged: 94 bytes of weights, model.json describes ${full.length} (truncated)`,
    );
    writeFileSync(join(dir, "model.json"), "{ not json");
    const garbage = await loadModel(dir).catch((e) => e);
    expect(garbage).toBeInstanceOf(ModelFileError);
    expect(garbage.message).toMatch(new RegExp(`^${join(dir, "model.json")}: damaged: not valid JSON`));
  });

  it("a save that fails part-way (a directory that cannot be created) leaves no temporary copy and the old save", async () => {
    const root = tempDir();
    const dir = join(root, "model");
    const first = small();
    await saveModel(first, dir);
    // A file where the temporary directory's parent should be: mkdir fails, as a full or read-only disk would.
    const blocked = join(root, "file", "model");
    writeFileSync(join(root, "file"), "not a directory");
    await expect(saveModel(small(), blocked)).rejects.toThrow(/ENOTDIR|EEXIST/);
    expect(existsSync(`${blocked}.tmp`)).toBe(false);
    const loaded = await loadModel(dir);
    expect(loaded.getWeights()[0]!.arraySync()).toEqual(first.getWeights()[0]!.arraySync());
  });
});
