import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckpointRecord, RunRecord } from "../src/run-dir.js";
import { suggestLr } from "../src/train-run.js";
import { cli, PACKAGE_DIR, tempDir } from "./helpers.js";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const truncate = (path: string, bytes: number) => writeFileSync(path, readFileSync(path).subarray(0, bytes));

describe("damaged files of a run directory are named, exit 2", () => {
  const tmp = tempDir();
  let n = 0;
  /** A fresh copy of a complete 2-epoch run. */
  const copy = () => {
    const dir = join(tmp.dir, `copy-${++n}`);
    cpSync(join(tmp.dir, "base"), dir, { recursive: true });
    return dir;
  };
  beforeAll(async () => {
    const res = await cli(["train", "lenet", "--limit", "256", "--epochs", "2", "--out", "base"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
  });
  afterAll(() => tmp.remove());

  it("a truncated final weights.bin: eval says so and evaluates the last intact checkpoint", async () => {
    const dir = copy();
    truncate(join(dir, "model", "weights.bin"), 94);
    const res = await cli(["eval", dir, "--limit", "256"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(
      `note: ${join(dir, "model", "weights.bin")} is damaged: 94 bytes of weights, model.json describes 246824 (truncated) (the final model); ` +
        "evaluating the last intact checkpoint (after epoch 2) instead",
    );
    expect(res.stdout).toContain("checkpoint after epoch 2 of run");
  });

  it("a garbage final model.json falls back the same way; with the checkpoint damaged too, both are named", async () => {
    const dir = copy();
    writeFileSync(join(dir, "model", "model.json"), "<html>");
    const fallback = await cli(["eval", dir, "--limit", "256"], { cwd: tmp.dir });
    expect(fallback.code).toBe(0);
    expect(fallback.stderr).toContain(`note: ${join(dir, "model", "model.json")} is damaged: not valid JSON`);
    truncate(join(dir, "checkpoints", "epoch-2", "weights.bin"), 1000);
    const res = await cli(["eval", dir], { cwd: tmp.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${join(dir, "model", "model.json")} is damaged`);
    expect(res.stderr).toContain(
      `and ${join(dir, "checkpoints", "epoch-2", "weights.bin")} is damaged: 1000 bytes of weights`,
    );
  });

  it("garbage in run.json: eval, predict and --resume name it", async () => {
    const dir = copy();
    writeFileSync(join(dir, "run.json"), '{"format": 1, "model": ');
    for (const argv of [
      ["eval", dir],
      ["predict", dir],
      ["train", "--resume", dir],
    ]) {
      const res = await cli(argv, { cwd: tmp.dir });
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(
        new RegExp(`^convnets: ${join(dir, "run.json")} is damaged: not valid JSON \\(.+\\)\\. It cannot be rebuilt`),
      );
    }
    writeFileSync(join(dir, "run.json"), JSON.stringify({ format: 1, model: { name: "lenet" } }));
    const partial = await cli(["eval", dir], { cwd: tmp.dir });
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain(
      `${join(dir, "run.json")} is damaged: its model, recipe, seed, sessions are missing or wrong`,
    );
  });

  it("garbage in checkpoint.json, or a history that does not match its epoch: --resume names it and changes nothing", async () => {
    const dir = copy();
    writeFileSync(join(dir, "checkpoint.json"), "garbage");
    const before = readFileSync(join(dir, "run.json"), "utf8");
    const res = await cli(["train", "--resume", dir, "--epochs", "3"], { cwd: tmp.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(`${join(dir, "checkpoint.json")} is damaged: not valid JSON`);
    expect(res.stderr).toContain("Delete it to restart the run from its first epoch with --resume");
    expect(readFileSync(join(dir, "run.json"), "utf8")).toBe(before);

    const record = readJson<CheckpointRecord>(join(tmp.dir, "base", "checkpoint.json"));
    writeFileSync(join(dir, "checkpoint.json"), JSON.stringify({ ...record, history: record.history.slice(0, 1) }));
    const short = await cli(["train", "--resume", dir, "--epochs", "3"], { cwd: tmp.dir });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain(
      `${join(dir, "checkpoint.json")} is damaged: its history does not hold the metrics of epochs 1 to 2`,
    );
  });

  it("a truncated checkpoint: --resume names the file", async () => {
    const dir = copy();
    const record = readJson<RunRecord>(join(dir, "run.json"));
    writeFileSync(join(dir, "run.json"), JSON.stringify({ ...record, status: "interrupted" }));
    truncate(join(dir, "checkpoints", "epoch-2", "weights.bin"), 94);
    const res = await cli(["train", "--resume", dir, "--epochs", "3"], { cwd: tmp.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      `${join(dir, "checkpoints", "epoch-2", "weights.bin")} is damaged: 94 bytes of weights`,
    );
  });
});

describe("an explicitly named data directory is never passed over", () => {
  const tmp = tempDir();
  const saved = process.env.FASHION_MNIST_DIR;
  afterAll(() => {
    if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
    else process.env.FASHION_MNIST_DIR = saved;
    tmp.remove();
  });

  it("FASHION_MNIST_DIR incomplete: exit 2 naming the directory and the missing file, no run directory left", async () => {
    const data = join(tmp.dir, "data");
    cpSync("/usr/share/datasets/fashion-mnist", data, { recursive: true });
    rmSync(join(data, "t10k-labels-idx1-ubyte.gz"));
    process.env.FASHION_MNIST_DIR = data;
    const res = await cli(["train", "lenet", "--limit", "256", "--epochs", "1", "--out", "x"], { cwd: tmp.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(
      `Fashion-MNIST directory ${data} (from FASHION_MNIST_DIR) lacks t10k-labels-idx1-ubyte.gz`,
    );
    expect(existsSync(join(tmp.dir, "x"))).toBe(false);

    truncate(join(data, "train-labels-idx1-ubyte.gz"), 20);
    writeFileSync(
      join(data, "t10k-labels-idx1-ubyte.gz"),
      readFileSync("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
    );
    const damaged = await cli(["train", "lenet", "--limit", "256", "--epochs", "1", "--out", "x"], { cwd: tmp.dir });
    expect(damaged.code).toBe(2);
    expect(damaged.stderr).toContain(`${join(data, "train-labels-idx1-ubyte.gz")}: gzip data is corrupt or truncated`);
    expect(damaged.stderr).toContain(`(FASHION_MNIST_DIR=${data})`);
  });
});

describe("a user's module is checked before anything is written", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());
  const module = join(PACKAGE_DIR, "test", "fixtures", "bad-specs.js");

  const refused = async (name: string, message: string) => {
    const res = await cli(["train", `${module}#${name}`, "--limit", "256", "--epochs", "1"], { cwd: tmp.dir });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain(message);
    expect(existsSync(join(tmp.dir, "runs"))).toBe(false);
    return res;
  };

  it("a recipe default that is NaN or negative names the field, before the engine starts", async () => {
    const nan = await refused(
      "nanLr",
      `${module}: the ModelSpec's defaults.lr is NaN; it must be a positive number (the SGD learning rate, e.g. 0.1)`,
    );
    expect(nan.stdout).not.toContain("engine:");
    await refused("negativeBatch", "the ModelSpec's defaults.batchSize is -32; it must be a whole number ≥ 1");
  });

  it("build() returning null, or a model for other input, names what it returned", async () => {
    await refused("buildsNull", "bad-spec: build() returned null; it must return a tf.LayersModel");
    await refused(
      "wrongInput",
      "bad-spec: build() returned a model whose input is [32, 32, 3]; it was asked for [28, 28, 1]",
    );
  });
});

describe("divergence", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("lenet-bn at lr 1e30: a huge but finite loss stops the run as diverged, suggesting the recipe's lr", async () => {
    const res = await cli(["train", "lenet-bn", "--limit", "512", "--epochs", "2", "--lr", "1e30", "--out", "bn"], {
      cwd: tmp.dir,
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /The loss became [\d.e+]+ at epoch 1, batch \d+ \(more than 10 × max\(first loss, ln 10\) = [\d.]+\): the run diverged with lr 1e\+30\. Try again with a smaller learning rate, e\.g\. --lr 1 \(the network's recipe\)/,
    );
    const record = readJson<RunRecord>(join(tmp.dir, "bn", "run.json"));
    expect(record.status).toBe("diverged");
    expect(record.message).toContain("--lr 1 (the network's recipe)");
  });

  it("the suggestion: the recipe's lr when the given one was larger, else a tenth", () => {
    expect(suggestLr(1e30, 1)).toEqual({ lr: 1, why: "the network's recipe" });
    expect(suggestLr(0.9, 0.9)).toEqual({ lr: 0.09, why: "a tenth of it" });
    expect(suggestLr(0.3, 0.9)).toEqual({ lr: 0.03, why: "a tenth of it" });
  });
});
