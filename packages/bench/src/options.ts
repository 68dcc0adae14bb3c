/** Command-line pieces the side-by-side benchmarks (compare.ts, fidelity.ts) share. */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/** A whole number ≥ 1 from `--name`, or undefined when it was not given. */
export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${value}: must be a positive integer`);
  return n;
}

/** Where the command line's relative paths start: pnpm runs the scripts in packages/bench, the caller was elsewhere. */
export const callerDir = process.env.INIT_CWD ?? process.cwd();

/**
 * torch_reference.py: `option` (--torch-reference), else $TORCH_REFERENCE, else the shared copy beside the
 * repository; undefined (with a line on stderr) when none is found, or when `skip` (--no-torch).
 */
export function torchReferencePath(option: string | undefined, skip: boolean): string | undefined {
  if (skip) return undefined;
  const asked = option ?? process.env.TORCH_REFERENCE;
  const given = asked === undefined ? undefined : resolve(callerDir, asked);
  if (given !== undefined && !existsSync(given)) throw new Error(`torch_reference.py not found at ${given}: give its path with --torch-reference`);
  const beside = join(import.meta.dirname, "../../../../shared/bench/torch_reference.py");
  const found = given ?? (existsSync(beside) ? beside : undefined);
  if (!found) console.error("PyTorch side skipped: torch_reference.py not found; pass --torch-reference PATH or set TORCH_REFERENCE");
  return found;
}
