import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, tempDir } from "./helpers.js";

/**
 * Impossible values are refused before any work: exit code 2, a message naming the input, what is
 * wrong and what to do, no engine started (no "engine:" line) and no run directory made.
 */
describe("bad input is refused before any work", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  const refused = async (argv: string[], message: string | RegExp) => {
    const res = await cli(argv, { cwd: tmp.dir });
    expect(res.code).toBe(2);
    expect(res.stdout).not.toContain("engine:");
    if (typeof message === "string") expect(res.stderr).toContain(message);
    else expect(res.stderr).toMatch(message);
    expect(existsSync(join(tmp.dir, "runs"))).toBe(false);
    return res;
  };

  it("a negative or zero learning rate", async () => {
    await refused(
      ["train", "lenet", "--lr", "-0.1"],
      "--lr -0.1: must be a positive number (the SGD learning rate, e.g. 0.9 for lenet)",
    );
    await refused(["train", "lenet", "--lr=0"], "--lr 0: must be a positive number");
    await refused(["train", "lenet", "--lr", "fast"], "--lr fast: must be a positive number");
  });

  it("a zero batch size, epochs or limit", async () => {
    await refused(
      ["train", "lenet", "--batch-size", "0"],
      "--batch-size 0: must be a whole number ≥ 1 (examples per SGD step, e.g. 256)",
    );
    await refused(["train", "lenet", "--epochs", "0"], "--epochs 0: must be a whole number ≥ 1");
    await refused(["train", "lenet", "--epochs", "2.5"], "--epochs 2.5: must be a whole number ≥ 1");
    await refused(["train", "lenet", "--limit", "-5"], "--limit -5: must be a whole number ≥ 1");
  });

  it("an input smaller than the network's minimum", async () => {
    await refused(
      ["train", "lenet", "--input-size", "8"],
      "--input-size 8: lenet needs images of at least 12×12; use --input-size 12 or more (its recipe uses 28)",
    );
    await refused(["summary", "lenet", "--input-size", "8"], "--input-size 8: lenet needs images of at least 12×12");
  });

  it("an unknown model, with the known ones and a suggestion", async () => {
    const res = await refused(["train", "resnet81"], 'unknown model "resnet81". Did you mean "resnet18"');
    expect(res.stderr).toContain(
      "Known models: lenet, alexnet, vgg11, vgg13, vgg16, vgg19, nin, googlenet, lenet-bn, resnet18, resnet34, densenet",
    );
  });

  it("an unknown engine, option or command", async () => {
    await refused(
      ["train", "lenet", "--backend", "gpu"],
      "--backend gpu: unknown engine; use one of auto, tensorflow, webgpu, wasm, cpu",
    );
    await refused(["train", "lenet", "--learning-rate", "0.1"], /train: Unknown option '--learning-rate'.*--lr/);
    await refused(
      ["trian", "lenet"],
      'unknown command "trian"; the commands are list, summary, train, eval, predict, sweep, worker, bench',
    );
  });

  it("a thread count that is not a whole number ≥ 1, on every command that takes one", async () => {
    await refused(
      ["train", "lenet", "--threads", "0"],
      "--threads 0: must be a whole number ≥ 1 (1 to 8 threads for the wasm engine",
    );
    await refused(["train", "lenet", "--threads", "abc"], "--threads abc: must be a whole number ≥ 1");
    await refused(["summary", "lenet", "--threads", "1.5"], "--threads 1.5: must be a whole number ≥ 1");
    await refused(["bench", "lenet", "--threads", "1,x"], "--threads x: must be a whole number ≥ 1");
  });

  it("more threads than the wasm engine runs: lowered to 8, with a one-line note, and the command goes on", async () => {
    const res = await cli(["summary", "lenet", "--threads", "64"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain("note: 64 threads asked; the wasm engine runs at most 8: using 8\n");
    expect(res.stdout).toContain("total params: 61,706");
  });

  it("a missing model, a second model, or --resume of something that is not a run", async () => {
    await refused(["train"], "train: which model? e.g. convnets train lenet");
    await refused(["train", "lenet", "alexnet"], "train takes one model, got 2: lenet alexnet");
    mkdirSync(join(tmp.dir, "notarun"));
    writeFileSync(join(tmp.dir, "notarun", "x.txt"), "");
    await refused(["train", "--resume", "notarun"], /notarun is not a convnets run \(no run\.json\)/);
    await refused(["train", "--resume", "nowhere"], /run directory .*nowhere does not exist/);
    await refused(["eval", "notarun"], /notarun is not a convnets run/);
    await refused(["predict"], "predict: which run? e.g. convnets predict runs/lenet-");
  });

  it("an existing, non-empty --out", async () => {
    mkdirSync(join(tmp.dir, "taken"));
    writeFileSync(join(tmp.dir, "taken", "notes.txt"), "mine");
    await refused(
      ["train", "lenet", "--out", "taken"],
      "already exists and is not empty; convnets never overwrites a run",
    );
  });

  it("impossible values for the other commands", async () => {
    await refused(["predict", "x", "--count", "0"], "--count 0: must be a whole number ≥ 1");
    await refused(["predict", "x", "--format", "gif"], "--format gif: the picture can be png or svg");
    await refused(["bench", "lenet", "--batches", "0"], "--batches 0: must be a whole number ≥ 1");
    await refused(["bench", "lenet", "--backend", "wasm,gpu"], "--backend gpu: unknown engine");
  });
});

describe("help", () => {
  it("lists the commands, and each command's options", async () => {
    const res = await cli([], { cwd: "/" });
    expect(res.code).toBe(0);
    for (const c of ["list", "summary", "train", "eval", "predict", "bench"])
      expect(res.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    const train = await cli(["train", "--help"], { cwd: "/" });
    for (const o of [
      "--epochs",
      "--lr",
      "--batch-size",
      "--input-size",
      "--limit",
      "--seed",
      "--backend",
      "--out",
      "--resume",
    ]) {
      expect(train.stdout).toContain(o);
    }
    const version = await cli(["--version"], { cwd: "/" });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
