import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { type EpochMetrics, loadModel, type Recipe, saveModel } from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { UsageError } from "./context.js";
import { timestamp } from "./format.js";
import type { ModelSource } from "./registry.js";

/** One invocation of `convnets train` on a run (a resumed run has several). */
export interface Session {
  started: string;
  ended?: string;
  engine: string;
  /** CPU model and count, and the Node version: what the timings were measured on. */
  host?: string;
  /** Epochs done when the session started. */
  fromEpoch: number;
  /** Epochs done when it ended. */
  toEpoch?: number;
  /** The estimate printed before training, in seconds, for the epochs this session had to run. */
  estimatedSeconds?: number;
  /** Wall-clock seconds of the session's training (evaluation and checkpoints included). */
  seconds?: number;
  status: RunStatus;
}

export type RunStatus = "running" | "complete" | "interrupted" | "diverged" | "failed";

/** `run.json`: what was trained, how, and what happened. */
export interface RunRecord {
  format: 1;
  model: {
    name: string;
    title: string;
    paper: string;
    /** Section of Dive into Deep Learning that builds the network. */
    d2lSection?: string;
    /** What runs made before 0.2 recorded instead of d2lSection (a section of the study notes). */
    seedSection?: string;
    source: ModelSource;
    trainableParams: number;
    totalParams: number;
  };
  /** The recipe; `epochs` is the run's total. */
  recipe: Recipe;
  seed: number;
  /** `--limit`: the first N training and test images, or undefined for all of them. */
  limit?: number;
  data: { dir: string; train: number; test: number };
  created: string;
  status: RunStatus;
  /** Why the run stopped, when it did not complete. */
  message?: string;
  sessions: Session[];
}

/** `checkpoint.json`: points at the newest checkpoint; replaced atomically after every epoch. */
export interface CheckpointRecord {
  /** Epochs completed. */
  epoch: number;
  /** Directory of the saved model, relative to the run. */
  path: string;
  history: EpochMetrics[];
  /** Plain SGD keeps no state between steps; recorded so a resumed run can check it continues the same optimiser. */
  optimizer: { name: "sgd"; lr: number; state: null };
  savedAt: string;
}

export const RUN_FILES = {
  run: "run.json",
  checkpoint: "checkpoint.json",
  checkpoints: "checkpoints",
  model: "model",
  historyJson: "history.json",
  historyCsv: "history.csv",
  curves: "curves.svg",
  report: "report.md",
  eval: "eval.json",
} as const;

/** Writes a file so a reader sees the old content or the new, never a torn one. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

export const writeJsonAtomic = (path: string, value: unknown) =>
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);

/** `runs/<model>-<timestamp>` under cwd; a second run in the same second gets `-2`. */
export function defaultRunDir(cwd: string, modelName: string): string {
  const base = join(cwd, "runs", `${modelName}-${timestamp()}`);
  let dir = base;
  for (let n = 2; existsSync(dir); n++) dir = `${base}-${n}`;
  return dir;
}

/** Refuses a directory that already has files: a run is never overwritten silently. */
export async function checkNewRunDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const entries = await readdir(dir).catch(() => {
    throw new UsageError(`--out ${dir} exists and is not a directory; choose another --out`);
  });
  if (entries.length === 0) return;
  const isRun = entries.includes(RUN_FILES.run);
  throw new UsageError(
    `${dir} already exists and is not empty; convnets never overwrites a run. ` +
      (isRun ? `To continue it: convnets train --resume ${dir}. ` : "") +
      "To start a new run, choose another --out (or leave --out out for runs/<model>-<timestamp>).",
  );
}

export async function createRunDir(dir: string, record: RunRecord): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeJsonAtomic(join(dir, RUN_FILES.run), record);
}

/** Reads `run.json`; a directory without one is refused with what was expected. */
export async function readRun(dir: string): Promise<RunRecord> {
  const path = join(dir, RUN_FILES.run);
  if (!existsSync(dir)) throw new UsageError(`run directory ${dir} does not exist`);
  if (!existsSync(path)) {
    throw new UsageError(`${dir} is not a convnets run (no ${RUN_FILES.run}); give a directory made by convnets train, e.g. runs/lenet-20250101-120000`);
  }
  const record = JSON.parse(await readFile(path, "utf8")) as RunRecord;
  if (record.format !== 1) throw new UsageError(`${path}: unknown run format ${record.format}`);
  return record;
}

export async function readCheckpoint(dir: string): Promise<CheckpointRecord | undefined> {
  const path = join(dir, RUN_FILES.checkpoint);
  if (!existsSync(path)) return undefined;
  return JSON.parse(await readFile(path, "utf8")) as CheckpointRecord;
}

/**
 * Saves the model after `epoch` to `checkpoints/epoch-N` (itself atomic), then switches
 * `checkpoint.json` to it (an atomic rename), then removes older checkpoints. A crash at any point
 * leaves a `checkpoint.json` that points at a complete model and the history up to it.
 */
export async function saveCheckpoint(
  dir: string,
  model: LayersModel,
  epoch: number,
  history: EpochMetrics[],
  lr: number,
): Promise<void> {
  const path = `${RUN_FILES.checkpoints}/epoch-${epoch}`;
  await mkdir(join(dir, RUN_FILES.checkpoints), { recursive: true });
  await saveModel(model, join(dir, path));
  const record: CheckpointRecord = {
    epoch,
    path,
    history,
    optimizer: { name: "sgd", lr, state: null },
    savedAt: new Date().toISOString(),
  };
  await writeJsonAtomic(join(dir, RUN_FILES.checkpoint), record);
  for (const entry of await readdir(join(dir, RUN_FILES.checkpoints))) {
    if (entry !== `epoch-${epoch}`) await rm(join(dir, RUN_FILES.checkpoints, entry), { recursive: true, force: true });
  }
}

export async function loadCheckpointModel(dir: string, checkpoint: CheckpointRecord): Promise<LayersModel> {
  return loadModel(join(dir, checkpoint.path));
}

/**
 * The model to evaluate: the final one when the run completed, else its newest checkpoint.
 * The model's package (or module) must be imported first, for its custom layers.
 */
export async function loadRunModel(dir: string): Promise<{ model: LayersModel; from: string; epoch?: number }> {
  const final = join(dir, RUN_FILES.model);
  if (existsSync(join(final, "model.json"))) return { model: await loadModel(final), from: RUN_FILES.model };
  const checkpoint = await readCheckpoint(dir);
  if (!checkpoint) {
    throw new UsageError(`${dir} has no trained model yet (no ${RUN_FILES.model}/ and no checkpoint): it stopped before its first epoch ended. Resume it: convnets train --resume ${dir}`);
  }
  return { model: await loadCheckpointModel(dir, checkpoint), from: checkpoint.path, epoch: checkpoint.epoch };
}

/** A path to show the user: relative to cwd when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, resolve(cwd, path));
  return rel && !rel.startsWith("..") ? rel : path;
}
