import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { type EpochMetrics, loadModel, ModelFileError, type Recipe, saveModel } from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { UsageError } from "./context.js";
import { fileProblem, simulatedFault } from "./file-errors.js";
import { timestamp } from "./format.js";
import type { ModelSource } from "./registry.js";
import { LOCK_FILE, refuseIfHeld } from "./run-lock.js";

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
  /** The estimate printed before training, in seconds, for the epochs this start of the run had to train. */
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

/** Writes a file so a reader sees the old content or the new, never a torn one; a failed write leaves no `.tmp`. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    simulatedFault(path);
    await writeFile(tmp, content);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw fileProblem(err, path);
  }
}

export const writeJsonAtomic = (path: string, value: unknown) =>
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);

/** `runs/<model>-<timestamp>` under cwd: the first name tried for a new run (see claimNewRunDir). */
export function defaultRunBase(cwd: string, modelName: string): string {
  return join(cwd, "runs", `${modelName}-${timestamp()}`);
}

/**
 * Refuses a directory that already has files, before any work: a run is never overwritten. (A quick check
 * for a clear message early; the claim, atomic, decides when two processes race.)
 */
export async function checkNewRunDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  const entries = await readdir(dir).catch(() => {
    throw new UsageError(`--out ${dir} exists and is not a directory; choose another --out`);
  });
  if (entries.length === 0) return;
  if (entries.includes(LOCK_FILE)) await refuseIfHeld(dir);
  if (entries.length === 1 && entries[0] === LOCK_FILE) return; // a stale lock alone: the claim takes it over
  const isRun = entries.includes(RUN_FILES.run);
  throw new UsageError(
    `${dir} already exists and is not empty; convnets never overwrites a run. ` +
      (isRun ? `To continue it: convnets train --resume ${dir}. ` : "") +
      "To start a new run, choose another --out (or leave --out out for runs/<model>-<timestamp>).",
  );
}

/** A run directory's file that cannot be read as what it should be: exit code 2, naming the file. */
export class DamagedRunError extends UsageError {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file} is damaged: ${problem}`);
    this.name = "DamagedRunError";
  }
}

/** Reads a JSON file of a run; unreadable or invalid JSON is a DamagedRunError naming it. */
async function readRunJson(path: string, fix: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UsageError((fileProblem(err, path, "read") as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new DamagedRunError(path, `not valid JSON (${(err as Error).message}). ${fix}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const RUN_FIX = "It cannot be rebuilt from the other files; start a new run, or restore it from a copy.";

/** Reads `run.json`; a directory without one is refused with what was expected, a damaged one is named. */
export async function readRun(dir: string): Promise<RunRecord> {
  const path = join(dir, RUN_FILES.run);
  if (!existsSync(dir)) throw new UsageError(`run directory ${dir} does not exist`);
  if (!existsSync(path)) {
    throw new UsageError(
      `${dir} is not a convnets run (no ${RUN_FILES.run}); give a directory made by convnets train, e.g. runs/lenet-20250101-120000`,
    );
  }
  const record = await readRunJson(path, RUN_FIX);
  if (!isObject(record)) throw new DamagedRunError(path, `not a run record. ${RUN_FIX}`);
  if (record.format !== 1) throw new UsageError(`${path}: unknown run format ${String(record.format)}`);
  const model = record.model as Record<string, unknown> | undefined;
  const recipe = record.recipe as Record<string, unknown> | undefined;
  const missing = [
    !isObject(model) || typeof model.name !== "string" || !isObject(model.source) ? "model" : "",
    !isObject(recipe) || !["epochs", "lr", "batchSize", "inputSize"].every((k) => typeof recipe[k] === "number")
      ? "recipe"
      : "",
    typeof record.seed !== "number" ? "seed" : "",
    !Array.isArray(record.sessions) ? "sessions" : "",
  ].filter(Boolean);
  if (missing.length > 0)
    throw new DamagedRunError(
      path,
      `its ${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} missing or wrong. ${RUN_FIX}`,
    );
  return record as unknown as RunRecord;
}

/** Whether an epoch's metrics are whole: an epoch number and four finite numbers. */
function isEpochMetrics(m: unknown): boolean {
  return isObject(m) && ["epoch", "loss", "trainAcc", "testAcc"].every((k) => typeof m[k] === "number");
}

/** Reads `checkpoint.json` (undefined when the run has none yet); a damaged one, or its history, is named. */
export async function readCheckpoint(dir: string): Promise<CheckpointRecord | undefined> {
  const path = join(dir, RUN_FILES.checkpoint);
  if (!existsSync(path)) return undefined;
  const fix = "Delete it to restart the run from its first epoch with --resume, or restore it from a copy.";
  const record = await readRunJson(path, fix);
  if (!isObject(record) || typeof record.epoch !== "number" || typeof record.path !== "string") {
    throw new DamagedRunError(path, `its epoch or path is missing. ${fix}`);
  }
  const history = record.history;
  if (!Array.isArray(history) || history.length !== record.epoch || !history.every(isEpochMetrics)) {
    throw new DamagedRunError(path, `its history does not hold the metrics of epochs 1 to ${record.epoch}. ${fix}`);
  }
  return record as unknown as CheckpointRecord;
}

/**
 * Saves the model after `epoch` to `checkpoints/epoch-N` (itself atomic), then switches
 * `checkpoint.json` to it (an atomic rename), then removes older checkpoints. A crash at any point
 * leaves a `checkpoint.json` that points at a complete model and the history up to it; a failed write
 * (a full disk) leaves no `.tmp` and the previous checkpoint.
 */
export async function saveCheckpoint(
  dir: string,
  model: LayersModel,
  epoch: number,
  history: EpochMetrics[],
  lr: number,
): Promise<void> {
  const path = `${RUN_FILES.checkpoints}/epoch-${epoch}`;
  const modelDir = join(dir, path);
  try {
    await mkdir(join(dir, RUN_FILES.checkpoints), { recursive: true });
    simulatedFault(join(modelDir, "weights.bin"));
    await saveModel(model, modelDir);
  } catch (err) {
    await rm(`${modelDir}.tmp`, { recursive: true, force: true }).catch(() => {});
    throw fileProblem(err, modelDir);
  }
  const record: CheckpointRecord = {
    epoch,
    path,
    history,
    optimizer: { name: "sgd", lr, state: null },
    savedAt: new Date().toISOString(),
  };
  try {
    await writeJsonAtomic(join(dir, RUN_FILES.checkpoint), record);
  } catch (err) {
    // checkpoint.json still points at the previous epoch's model, which is kept: drop the new, unused one.
    await rm(modelDir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
  for (const entry of await readdir(join(dir, RUN_FILES.checkpoints))) {
    if (entry !== `epoch-${epoch}`) await rm(join(dir, RUN_FILES.checkpoints, entry), { recursive: true, force: true });
  }
}

/** Saves the final model into `model/`, naming the directory when the disk refuses. */
export async function saveFinalModel(dir: string, model: LayersModel): Promise<void> {
  const modelDir = join(dir, RUN_FILES.model);
  try {
    simulatedFault(join(modelDir, "weights.bin"));
    await saveModel(model, modelDir);
  } catch (err) {
    await rm(`${modelDir}.tmp`, { recursive: true, force: true }).catch(() => {});
    throw fileProblem(err, modelDir);
  }
}

/** Loads a saved model of a run; a damaged file is a DamagedRunError naming it. */
async function loadRunFile(dir: string, what: string): Promise<LayersModel> {
  try {
    return await loadModel(dir);
  } catch (err) {
    if (err instanceof ModelFileError) {
      const problem = err.message.replace(`${err.file}: `, "").replace(/^damaged: /, "");
      throw new DamagedRunError(err.file, `${problem} (${what})`);
    }
    throw err;
  }
}

export async function loadCheckpointModel(dir: string, checkpoint: CheckpointRecord): Promise<LayersModel> {
  return loadRunFile(join(dir, checkpoint.path), `the checkpoint after epoch ${checkpoint.epoch}`);
}

/**
 * The model to evaluate: the final one when the run completed, else its newest checkpoint. A damaged final
 * model falls back to the newest intact checkpoint, with `note` saying so.
 * The model's package (or module) must be imported first, for its custom layers.
 */
export async function loadRunModel(
  dir: string,
): Promise<{ model: LayersModel; from: string; epoch?: number; note?: string }> {
  const final = join(dir, RUN_FILES.model);
  let damaged: DamagedRunError | undefined;
  if (existsSync(join(final, "model.json")) || existsSync(`${final}.old`)) {
    try {
      return { model: await loadRunFile(final, "the final model"), from: RUN_FILES.model };
    } catch (err) {
      if (!(err instanceof DamagedRunError)) throw err;
      damaged = err;
    }
  }
  const checkpoint = await readCheckpoint(dir).catch((err) => {
    if (damaged)
      throw new DamagedRunError(
        damaged.file,
        `${damaged.message.replace(`${damaged.file} is damaged: `, "")}; and ${(err as Error).message}`,
      );
    throw err;
  });
  if (!checkpoint) {
    if (damaged) throw damaged;
    throw new UsageError(
      `${dir} has no trained model yet (no ${RUN_FILES.model}/ and no checkpoint): it stopped before its first epoch ended. Resume it: convnets train --resume ${dir}`,
    );
  }
  let model: LayersModel;
  try {
    model = await loadCheckpointModel(dir, checkpoint);
  } catch (err) {
    if (damaged && err instanceof DamagedRunError)
      throw new DamagedRunError(
        damaged.file,
        `${damaged.message.replace(`${damaged.file} is damaged: `, "")}; and ${err.message}`,
      );
    throw err;
  }
  const note = damaged
    ? `note: ${damaged.message}; evaluating the last intact checkpoint (after epoch ${checkpoint.epoch}) instead`
    : undefined;
  return { model, from: checkpoint.path, epoch: checkpoint.epoch, note };
}

/** A path to show the user: relative to cwd when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, resolve(cwd, path));
  return rel && !rel.startsWith("..") ? rel : path;
}
