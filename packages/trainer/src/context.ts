import type { Writable } from "node:stream";

/** A stream the commands write to; `isTTY` switches the live progress bar on. */
export type OutputStream = Writable & { isTTY?: boolean; columns?: number };

/**
 * Where a command reads and writes: the process's own streams and directory by default, other ones in
 * tests (so `main` runs in-process and its output can be checked).
 */
export interface CliContext {
  stdout: OutputStream;
  stderr: OutputStream;
  /** Directory relative paths (`--out`, `./my-model.js`) and installed packages are resolved from. */
  cwd: string;
  /** Stops a training run after the current batch, like Ctrl-C. */
  signal?: AbortSignal;
  /** Listen for SIGINT (Ctrl-C), SIGTERM and SIGHUP during training. Default true; tests that run in-process turn it off. */
  handleSigint?: boolean;
}

export function defaultContext(): CliContext {
  return { stdout: process.stdout, stderr: process.stderr, cwd: process.cwd(), handleSigint: true };
}

export function println(stream: OutputStream, text = ""): void {
  stream.write(`${text}\n`);
}

/** A problem with what the user asked for: printed without a stack trace, exit code 2 (usage). */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Exit codes: 0 done, 1 failed, 2 bad input, 130 stopped by Ctrl-C (128 + SIGINT, as shells report it). */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;
