import { existsSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { EpochMetrics } from "@convnets/core";
import { trainCommand } from "../commands/train.js";
import type { CliContext, OutputStream } from "../context.js";
import { overallExamplesPerSec } from "../history.js";
import { RUN_FILES, readCheckpoint, readRun } from "../run-dir.js";
import { type SweepRun, trainArgs } from "./spec.js";

/** What a run of a sweep ended with: what `sweep` prints, what a worker reports to the queue. */
export type RunOutcome =
  | { status: "complete"; summary: RunSummary }
  /** Stopped by the signal after a batch; the last epoch's checkpoint is kept and a later call resumes from it. */
  | { status: "interrupted"; epochs: number }
  /** A deterministic failure (divergence, a recipe the network refuses): running it again would fail again. */
  | { status: "diverged" | "failed"; reason: string };

/** A finished run in a few numbers: a job's return value, a line of `sweep`'s output. */
export interface RunSummary {
  epochs: number;
  loss: number;
  trainAcc: number;
  testAcc: number;
  examplesPerSec: number;
  /** Training wall time over all sessions, in seconds. */
  seconds: number;
  engine: string;
}

export interface TrainRunOptions {
  /** Where the training's own lines go; `cwd` resolves a module path naming the network. */
  ctx: Pick<CliContext, "stdout" | "stderr" | "cwd">;
  /** Aborted: stop after the current batch. */
  signal?: AbortSignal;
  backend?: string;
  threads?: number;
  dataDir?: string;
}

/**
 * Trains one run of a sweep into `dir`: a new run when the directory has none, else `--resume` from its
 * last checkpoint (a complete run is left as it is). This is the one place sweeps and workers call the
 * training through, so they need nothing of it but a status.
 */
export async function trainRun(run: SweepRun, dir: string, options: TrainRunOptions): Promise<RunOutcome> {
  const resume = existsSync(join(dir, RUN_FILES.run));
  const engine = [
    ...(options.backend ? ["--backend", options.backend] : []),
    ...(options.threads ? ["--threads", String(options.threads)] : []),
    ...(options.dataDir ? ["--data-dir", options.dataDir] : []),
  ];
  // A resumed run is given its whole recipe too: `train --resume` refuses one that differs from the recorded one.
  const argv = resume ? ["--resume", dir, ...trainArgs(run), ...engine] : [...trainArgs(run), "--out", dir, ...engine];
  const stderr = new LastLine(options.ctx.stderr);
  let code: number;
  try {
    code = await trainCommand(argv, { ...options.ctx, stderr, signal: options.signal, handleSigint: false });
  } catch (err) {
    return { status: "failed", reason: oneLine((err as Error).message) };
  }
  const record = existsSync(join(dir, RUN_FILES.run)) ? await readRun(dir) : undefined;
  const checkpoint = await readCheckpoint(dir);
  if (code === 0 && record?.status === "complete" && checkpoint) {
    return { status: "complete", summary: summarize(checkpoint.history, record.sessions) };
  }
  if (record?.status === "interrupted") return { status: "interrupted", epochs: checkpoint?.epoch ?? 0 };
  if (record?.status === "diverged") return { status: "diverged", reason: oneLine(record.message ?? stderr.last) };
  return { status: "failed", reason: oneLine(record?.message ?? stderr.last ?? `convnets train exited with ${code}`) };
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

const oneLine = (text: string | undefined) => (text ?? "").replace(/^convnets: /, "").split("\n")[0]!.trim();

/** Passes the training's error output on and keeps its last line: the reason a failed run gives. */
class LastLine extends Writable {
  last?: string;
  isTTY = false;
  constructor(private readonly target: OutputStream) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    const lines = chunk.toString().split("\n").filter((l) => l.trim() !== "");
    if (lines.length > 0) this.last = lines[lines.length - 1];
    this.target.write(chunk, () => done());
  }
}
