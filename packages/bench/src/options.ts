/** Command-line pieces the side-by-side benchmarks (compare.ts, fidelity.ts) share. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

/** A whole number ≥ 1 from `--name`, or undefined when it was not given. */
export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${value}: must be a positive integer`);
  return n;
}

/** Where the command line's relative paths start: pnpm runs the scripts in packages/bench, the caller was elsewhere. */
export const callerDir = process.env.INIT_CWD ?? process.cwd();

/** Our PyTorch peer of the networks (packages/bench/python/peer.py): the other side of every comparison. */
export const PEER = join(import.meta.dirname, "..", "python", "peer.py");

/**
 * The peer's path when the PyTorch side runs: undefined (with a line on stderr saying why) when `skip`
 * (--no-torch) or when `python` cannot import torch.
 */
export function torchPeer(python: string, skip: boolean): string | undefined {
  if (skip) return undefined;
  const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8" });
  if (probe.status !== 0) {
    console.error(
      `PyTorch side skipped: ${python} cannot import torch (apt-get install python3-torch, or pass --python PATH)`,
    );
    return undefined;
  }
  return PEER;
}
