/**
 * What a failed file operation means and what to do, with the path it was about: Node's own messages
 * name no path for a failed write (`ENOSPC: no space left on device, write`).
 */
const ADVICE: Record<string, [string, string]> = {
  ENOSPC: ["the disk is full", "free some space on that disk, or give a directory on another disk"],
  EDQUOT: ["the disk quota is used up", "free some space, or give a directory elsewhere"],
  EACCES: ["permission denied", "make the directory writable for this user, or give a directory you can write to"],
  EPERM: ["operation not permitted", "make the directory writable for this user, or give a directory you can write to"],
  EROFS: ["the file system is read-only", "give a directory on a writable disk"],
};

/** Error codes that mean "this place cannot be written to": a read-only run is still readable. */
export const UNWRITABLE = new Set(Object.keys(ADVICE));

/** A file that could not be written, read or created; the message names `path` and the fix. */
export class FileProblem extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = "FileProblem";
  }

  /** True when the place cannot be written to (full, read-only, not permitted), as opposed to another failure. */
  get unwritable(): boolean {
    return this.code !== undefined && UNWRITABLE.has(this.code);
  }
}

/** `err` from an operation on `path`, as a FileProblem naming the path and the fix; other errors pass through. */
export function fileProblem(err: unknown, path: string, doing = "write"): unknown {
  if (err instanceof FileProblem) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code !== "string") return err;
  const advice = ADVICE[code];
  const message = advice
    ? `cannot ${doing} ${path}: ${advice[0]} (${code}); ${advice[1]}`
    : `cannot ${doing} ${path}: ${(err as Error).message}`;
  return new FileProblem(path, code, message);
}

/**
 * Tests where no small file system can be mounted set `CONVNETS_TEST_FS_FAULT=ENOSPC@<part of a path>`: a write
 * to a matching path then fails with that code, at the same place a real full disk makes it fail.
 */
export function simulatedFault(path: string): void {
  const fault = process.env.CONVNETS_TEST_FS_FAULT;
  if (!fault) return;
  const at = fault.indexOf("@");
  const code = fault.slice(0, at);
  if (at > 0 && path.includes(fault.slice(at + 1))) {
    throw Object.assign(new Error(`${code}: simulated, write`), { code });
  }
}
