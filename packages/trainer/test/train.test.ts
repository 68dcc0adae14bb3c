import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type EpochMetrics, evaluate, loadFashionMnist, loadModel, setupEngine, takeImages } from "@convnets/core";
import "@convnets/lenet";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckpointRecord, RunRecord } from "../src/run-dir.js";
import { assertWellFormedXml, type CliRun, cli, tempDir, withoutSoftwareAdapterNote } from "./helpers.js";

const D2L_METRICS = /^loss \d+\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$/m;
const D2L_SPEED = /^\d+\.\d examples\/sec on \S+.*$/m;

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
/** The numbers a resumed run must reproduce (speed and time differ from run to run). */
const learning = (h: EpochMetrics[]) =>
  h.map(({ epoch, loss, trainAcc, testAcc }) => ({ epoch, loss, trainAcc, testAcc }));

describe("convnets train lenet (512 images, 2 epochs)", () => {
  const tmp = tempDir();
  const run = join(tmp.dir, "runs", "base");
  let result: CliRun;

  beforeAll(async () => {
    result = await cli(["train", "lenet", "--limit", "512", "--epochs", "2", "--out", "runs/base"], { cwd: tmp.dir });
  });
  afterAll(() => tmp.remove());

  it("prints the plan, an estimate, one plain line per epoch and the d2l lines", () => {
    expect(withoutSoftwareAdapterNote(result.stderr)).toBe("");
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toContain("lenet (LeNet-5): 61,706 trainable parameters, d2l §7.6");
    expect(out).toContain("recipe: 2 epochs, lr 0.9, batch size 256, input 28×28, seed 0");
    expect(out).toContain("data: 512 training and 512 test images");
    expect(out).toMatch(/^estimated time: .+ for 2 epochs \(2 batches at \d+ ms/m);
    expect(out).toMatch(/^epoch 1\/2 {2}loss \d\.\d{3}, train acc/m);
    expect(out).toMatch(/^epoch 2\/2 {2}loss/m);
    expect(out).toMatch(D2L_METRICS);
    expect(out).toMatch(D2L_SPEED);
    // Not a terminal: no progress bar, no cursor movement.
    for (const terminalOnly of ["\r", "\u001b", "█"]) expect(out).not.toContain(terminalOnly);
  });

  it("writes the run directory: run.json, history, chart, report, checkpoint and the model", () => {
    const record = readJson<RunRecord>(join(run, "run.json"));
    expect(record.status).toBe("complete");
    expect(record.model.source).toEqual({ kind: "package", specifier: "@convnets/lenet", export: "lenetSpec" });
    // The book a user can open (d2l.ai §7.6 builds LeNet), not the project's own notes.
    expect(record.model.d2lSection).toBe("7.6");
    expect(record.recipe).toEqual({ epochs: 2, lr: 0.9, batchSize: 256, inputSize: 28 });
    expect(record.sessions).toHaveLength(1);
    expect(record.sessions[0]!.estimatedSeconds).toBeGreaterThan(0);

    const history = readJson<EpochMetrics[]>(join(run, "history.json"));
    expect(history.map((m) => m.epoch)).toEqual([1, 2]);
    const last = history[1]!;
    expect(result.stdout).toContain(
      `loss ${last.loss.toFixed(3)}, train acc ${last.trainAcc.toFixed(3)}, test acc ${last.testAcc.toFixed(3)}`,
    );
    const csv = readFileSync(join(run, "history.csv"), "utf8").trim().split("\n");
    expect(csv[0]).toBe("epoch,loss,train_acc,test_acc,examples_per_sec,seconds");
    expect(csv[2]!.split(",").slice(0, 4).map(Number)).toEqual([2, last.loss, last.trainAcc, last.testAcc]);

    const svg = readFileSync(join(run, "curves.svg"), "utf8");
    assertWellFormedXml(svg);
    for (const series of ["train loss", "train acc", "test acc"]) expect(svg).toContain(`series: ${series}"`);

    const report = readFileSync(join(run, "report.md"), "utf8");
    expect(report).toContain("# LeNet-5 on Fashion-MNIST");
    expect(report).toContain("- book: d2l §7.6 (Dive into Deep Learning, d2l.ai)");
    expect(report).toContain(`loss ${last.loss.toFixed(3)}, train acc ${last.trainAcc.toFixed(3)}`);
    expect(report).toContain("![train loss, train acc and test acc per epoch](curves.svg)");
    expect(report).toMatch(/\| 1 \| (wasm|tensorflow|cpu)/);

    const checkpoint = readJson<CheckpointRecord>(join(run, "checkpoint.json"));
    expect(checkpoint.epoch).toBe(2);
    expect(checkpoint.history).toEqual(history);
    expect(existsSync(join(run, "checkpoints", "epoch-2", "model.json"))).toBe(true);
    expect(existsSync(join(run, "checkpoints", "epoch-1"))).toBe(false);
  });

  it("saves a TensorFlow.js model that scores the test accuracy the run reported", async () => {
    await setupEngine();
    const model = await loadModel(join(run, "model"));
    const data = await loadFashionMnist();
    const { accuracy } = await evaluate(model, takeImages(data.test, 512), { batchSize: 256 });
    const history = readJson<EpochMetrics[]>(join(run, "history.json"));
    expect(accuracy).toBe(history[1]!.testAcc);
    const manifest = readJson<{ format: string; weightsManifest: { paths: string[] }[] }>(
      join(run, "model", "model.json"),
    );
    expect(manifest.format).toBe("layers-model");
    expect(manifest.weightsManifest[0]!.paths).toEqual(["weights.bin"]);
    model.dispose();
  });

  it("never overwrites a run: the same --out is refused and nothing is touched", async () => {
    const before = statSync(join(run, "history.json")).mtimeMs;
    const again = await cli(["train", "lenet", "--limit", "512", "--epochs", "1", "--out", "runs/base"], {
      cwd: tmp.dir,
    });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists and is not empty; convnets never overwrites a run");
    expect(again.stderr).toContain("convnets train --resume");
    expect(again.stdout).toBe("");
    expect(statSync(join(run, "history.json")).mtimeMs).toBe(before);
  });

  it("eval: the test accuracy, per-class accuracy and a confusion matrix that adds up", async () => {
    const history = readJson<EpochMetrics[]>(join(run, "history.json"));
    const res = await cli(["eval", "runs/base", "--limit", "512"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain(`test acc ${history[1]!.testAcc.toFixed(3)} (`);
    expect(res.stdout).toContain("of 512 test images");
    expect(res.stdout).toContain("9 Ankle boot");
    expect(res.stdout).toContain("confusion matrix (rows: true class, columns: predicted class)");
    const evaluation = readJson<{ accuracy: number; confusion: number[][]; perClass: Record<string, number> }>(
      join(run, "eval.json"),
    );
    expect(evaluation.accuracy).toBe(history[1]!.testAcc);
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(512);
    expect(Object.keys(evaluation.perClass)).toHaveLength(10);
  });

  it("predict: the first test images with true and predicted labels, as text and as PNG or SVG", async () => {
    const png = await cli(["predict", "runs/base", "--count", "6"], { cwd: tmp.dir });
    expect(png.code).toBe(0);
    // The first six test labels of Fashion-MNIST.
    const rows = png.stdout.split("\n").filter((l) => /^\s*\d+ {2}/.test(l));
    expect(rows.map((r) => r.trim().split(/\s{2,}/)[1])).toEqual([
      "Ankle boot",
      "Pullover",
      "Trouser",
      "Trouser",
      "Shirt",
      "Trouser",
    ]);
    expect(png.stdout).toMatch(/\d of 6 right; picture: runs\/base\/predictions\.png/);
    expect(readFileSync(join(run, "predictions.png")).subarray(1, 4).toString()).toBe("PNG");

    const svg = await cli(["predict", "runs/base", "--count", "3", "--out", "preds.svg"], { cwd: tmp.dir });
    expect(svg.code).toBe(0);
    const text = readFileSync(join(tmp.dir, "preds.svg"), "utf8");
    assertWellFormedXml(text);
    expect(text.match(/<image /g)).toHaveLength(3);
  });

  it("resuming a complete run says so and changes nothing", async () => {
    const res = await cli(["train", "--resume", "runs/base"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("is already complete (2 epochs)");
    expect(res.stdout).toMatch(D2L_METRICS);
  });

  it("--resume with more --epochs trains a complete run further (last, since it changes the run)", async () => {
    const res = await cli(["train", "--resume", "runs/base", "--epochs", "3"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("resuming runs/base after epoch 2 of 3");
    expect(readJson<EpochMetrics[]>(join(run, "history.json")).map((m) => m.epoch)).toEqual([1, 2, 3]);
    const record = readJson<RunRecord>(join(run, "run.json"));
    expect(record.recipe.epochs).toBe(3);
    expect(record.sessions).toHaveLength(2);
  });
});

describe("interrupt and resume", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());
  const args = ["--limit", "512", "--batch-size", "128", "--epochs", "3", "--seed", "7"];

  it("a run stopped after its first epoch and resumed ends with the history of an uninterrupted run", async () => {
    const whole = await cli(["train", "lenet", ...args, "--out", "whole"], { cwd: tmp.dir });
    expect(whole.code).toBe(0);

    const controller = new AbortController();
    const stopped = await cli(["train", "lenet", ...args, "--out", "cut"], {
      cwd: tmp.dir,
      signal: controller.signal,
      onStdout: (chunk) => {
        if (chunk.startsWith("epoch 1/3")) controller.abort();
      },
    });
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain("stopped: 1 of 3 epochs done");
    expect(stopped.stderr).toContain("Continue with: convnets train --resume cut");
    expect(readJson<RunRecord>(join(tmp.dir, "cut", "run.json")).status).toBe("interrupted");
    expect(readJson<CheckpointRecord>(join(tmp.dir, "cut", "checkpoint.json")).epoch).toBe(1);
    expect(existsSync(join(tmp.dir, "cut", "model"))).toBe(false);

    // A resumed run keeps its recipe.
    const changed = await cli(["train", "--resume", "cut", "--lr", "0.5"], { cwd: tmp.dir });
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain("--lr 0.5: this run was trained with lr 0.9");

    const resumed = await cli(["train", "--resume", "cut"], { cwd: tmp.dir });
    expect(withoutSoftwareAdapterNote(resumed.stderr)).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("resuming cut after epoch 1 of 3");
    expect(resumed.stdout).not.toMatch(/^epoch 1\/3/m);
    expect(resumed.stdout).toMatch(/^epoch 3\/3/m);

    const a = readJson<EpochMetrics[]>(join(tmp.dir, "whole", "history.json"));
    const b = readJson<EpochMetrics[]>(join(tmp.dir, "cut", "history.json"));
    expect(learning(b)).toEqual(learning(a));
    const record = readJson<RunRecord>(join(tmp.dir, "cut", "run.json"));
    expect(record.status).toBe("complete");
    expect(record.sessions.map((s) => [s.fromEpoch, s.toEpoch, s.status])).toEqual([
      [0, 1, "interrupted"],
      [1, 3, "complete"],
    ]);
    // The d2l lines of both runs agree on the learning.
    expect(resumed.stdout.match(D2L_METRICS)![0]).toBe(whole.stdout.match(D2L_METRICS)![0]);
  });
});

describe("a live progress bar on a terminal", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("redraws one line with examples done, loss, accuracy, speed and time left, then prints the epoch line", async () => {
    await setupEngine();
    const tensorsBefore = tf.memory().numTensors;
    const res = await cli(["train", "lenet", "--limit", "512", "--batch-size", "64", "--epochs", "1", "--out", "tty"], {
      cwd: tmp.dir,
      tty: true,
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/█+░* 512\/512 {2}loss \d\.\d{3} {2}acc \d\.\d{3} +[\d,]+ ex\/s +\S+ s left/);
    expect(res.stdout).toContain("\u001b[2K"); // the bar is cleared before the epoch line
    expect(res.stdout).toMatch(/epoch 1\/1 {2}loss \d\.\d{3}, train acc/);
    // The estimate's snapshot, the batches, the model: all disposed.
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});

describe("a diverging run", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("stops at the NaN (or exploded) loss with a message suggesting the recipe's lr, and records why", async () => {
    const res = await cli(["train", "lenet", "--limit", "512", "--epochs", "2", "--lr", "1e38", "--out", "nan"], {
      cwd: tmp.dir,
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(
      /The loss became (NaN|Infinity|-Infinity|[\d.e+]+) at epoch 1, batch \d+( \(more than .+\))?: the run diverged with lr 1e\+38/,
    );
    expect(res.stderr).toContain("Try again with a smaller learning rate, e.g. --lr 0.9 (the network's recipe)");
    const record = readJson<RunRecord>(join(tmp.dir, "nan", "run.json"));
    expect(record.status).toBe("diverged");
    expect(record.message).toContain("Try again with a smaller learning rate");
    expect(readFileSync(join(tmp.dir, "nan", "report.md"), "utf8")).toContain("diverged");
  });
});
