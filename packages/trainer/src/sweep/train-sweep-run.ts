import type { EpochMetrics } from "@convnets/core";
import type { CliContext } from "../context.js";
import { overallExamplesPerSec } from "../history.js";
import { readRun } from "../run-dir.js";
import { type LockHolder, RunDirBusyError } from "../run-lock.js";
import { trainRun } from "../train-run.js";
import type { SweepRun } from "./spec.js";

/** What a run of a sweep ended with: what `sweep` prints, what a worker reports to the queue. */
export type RunOutcome =
  | { status: "complete"; summary: RunSummary }
  /** Stopped by the signal after a batch; the last epoch's checkpoint is kept and a later call resumes from it. */
  | { status: "interrupted"; epochs: number }
  /** Another live process writes the run directory (one run directory, one writer): try again later. */
  | { status: "busy"; reason: string; holder: LockHolder }
  /** A deterministic failure (divergence, a recipe the network refuses): running it again would fail again. */
  | { status: "diverged" | "failed"; reason: string };

/** A finished run in a few numbers: a job's return value, a line of `sweep`'s output. */
export interface RunSummary {
  epochs: number;
  loss: number;
  trainAcc: number;
  testAcc: number;
  examplesPerSec: number;
  /** Training wall time over all the run's starts (run.json's `sessions`), in seconds. */
  seconds: number;
  engine: string;
}

export interface SweepRunOptions {
  /** Where the training's own lines go; `cwd` resolves a module path naming the network. */
  ctx: Pick<CliContext, "stdout" | "stderr" | "cwd">;
  /** Aborted (its reason a signal's name, e.g. "SIGTERM"): stop after the current batch. */
  signal?: AbortSignal;
  backend?: string;
  threads?: number;
  dataDir?: string;
  /** After each epoch, once its checkpoint is written. */
  onEpoch?: (metrics: EpochMetrics) => void | Promise<void>;
}

/**
 * Trains one run of a sweep into `dir`: a new run when the directory has none, else a resume from its last
 * checkpoint (a complete run is left as it is). The one place sweeps and workers call the training through
 * (`trainRun`, which claims the directory: one writer per run), so they need nothing of it but an outcome.
 */
export async function trainSweepRun(run: SweepRun, dir: string, options: SweepRunOptions): Promise<RunOutcome> {
  const { ctx } = options;
  try {
    const outcome = await trainRun({
      model: run.network,
      out: dir,
      resumeExisting: true,
      epochs: run.epochs,
      lr: run.lr,
      batchSize: run.batchSize,
      inputSize: run.inputSize,
      limit: run.limit,
      seed: run.seed,
      backend: options.backend,
      threads: options.threads,
      dataDir: options.dataDir,
      cwd: ctx.cwd,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      signal: options.signal,
      onEpoch: options.onEpoch,
    });
    if (outcome.status === "complete") {
      const record = await readRun(outcome.dir);
      return { status: "complete", summary: summarize(outcome.history, record.sessions) };
    }
    if (outcome.status === "interrupted") return { status: "interrupted", epochs: outcome.epochs };
    return { status: outcome.status, reason: oneLine(outcome.message ?? `training ended ${outcome.status}`) };
  } catch (err) {
    if (err instanceof RunDirBusyError) return { status: "busy", reason: oneLine(err.message), holder: err.holder };
    return { status: "failed", reason: oneLine((err as Error).message) };
  }
}

export function summarize(history: EpochMetrics[], sessions: { engine: string; seconds?: number }[]): RunSummary {
  const last = history[history.length - 1]!;
  return {
    epochs: history.length,
    loss: last.loss,
    trainAcc: last.trainAcc,
    testAcc: last.testAcc,
    examplesPerSec: overallExamplesPerSec(history),
    seconds: sessions.reduce((sum, s) => sum + (s.seconds ?? 0), 0),
    engine: [...new Set(sessions.map((s) => s.engine))].join(" + "),
  };
}

const oneLine = (text: string | undefined) =>
  (text ?? "")
    .replace(/^convnets: /, "")
    .split("\n")[0]!
    .trim();
