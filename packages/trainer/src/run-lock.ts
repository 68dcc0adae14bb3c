import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync } from "node:fs";
import { mkdir, open, readdir, readFile, rm, rmdir, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { UsageError } from "./context.js";
import { fileProblem, simulatedFault } from "./file-errors.js";

/** The lock file in a run directory: present while a process writes the run. */
export const LOCK_FILE = "run.lock";

/** Who holds a run directory: what `run.lock` holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the claim was taken (ISO time). */
  since: string;
  /** The process's start time on Linux (clock ticks after boot), to tell a reused pid from the holder. */
  processStart?: number;
  /** A random token: the claim's identity, so a release never removes another process's lock. */
  token: string;
}

/** A run directory that another live process is writing: exit code 2, naming the directory and the holder. */
export class RunDirBusyError extends UsageError {
  constructor(
    readonly dir: string,
    readonly holder: LockHolder,
    sameHost: boolean,
  ) {
    super(
      `${dir} is being written by process ${holder.pid} on ${holder.host} (since ${holder.since}); one run directory has one writer. ` +
        (sameHost
          ? "Wait for it to finish (or stop it), or choose another --out."
          : `If that process is no longer running, delete ${join(dir, LOCK_FILE)}; otherwise choose another --out.`),
    );
    this.name = "RunDirBusyError";
  }
}

/** A run directory held by this process. */
export interface RunClaim {
  dir: string;
  /** Lines to show the user, e.g. a stale lock taken over. */
  notes: string[];
  /** Lets the lock go; removes the directory too when this claim created it and nothing was written in it. */
  release(): Promise<void>;
  /** The same, synchronously: for a process that must exit at once. */
  releaseSync(): void;
}

export interface ClaimOptions {
  /**
   * `new`: a new run; the directory is created, or must be empty. `existing`: a run to continue (`--resume`);
   * leftover `.tmp` files of a writer that died are removed once the claim is held.
   */
  mode: "new" | "existing";
}

function processStart(pid: number): number | undefined {
  try {
    // Field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces) ends with ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = Number(fields[19]);
    return Number.isFinite(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Whether the holder still runs: only knowable on this host (a lock from another host counts as live). */
function holderAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  // A live process with that pid: the holder, unless the pid was reused by a process started later.
  const start = processStart(holder.pid);
  return holder.processStart === undefined || start === undefined || start === holder.processStart;
}

async function readHolder(path: string): Promise<LockHolder | "unreadable" | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fileProblem(err, path, "read");
  }
  try {
    const holder = JSON.parse(text) as LockHolder;
    if (typeof holder.pid === "number" && typeof holder.host === "string") return holder;
  } catch {}
  return "unreadable";
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Removes a stale lock, one process at a time (`run.lock.takeover`, created exclusively, guards the check and the
 * removal), so that two processes finding the same stale lock never remove the fresh one a third has just made.
 */
async function removeStale(path: string, stale: LockHolder | "unreadable"): Promise<boolean> {
  const guard = `${path}.takeover`;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(guard, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fileProblem(err, guard, "create");
    // A takeover in progress takes milliseconds; one older than 10 s was left by a process that died in it.
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > 10_000) await rm(guard, { force: true });
    return false;
  }
  try {
    const current = await readHolder(path);
    const same =
      current !== undefined &&
      (current === "unreadable" ? stale === "unreadable" : stale !== "unreadable" && current.token === stale.token);
    if (same) await unlink(path).catch(() => {});
    return same;
  } finally {
    await handle.close();
    await rm(guard, { force: true });
  }
}

/** Refuses at once a directory whose lock a live process holds (the claim, later, is what decides a race). */
export async function refuseIfHeld(dir: string): Promise<void> {
  const holder = await readHolder(join(dir, LOCK_FILE)).catch(() => undefined);
  if (holder && holder !== "unreadable" && holderAlive(holder))
    throw new RunDirBusyError(dir, holder, holder.host === hostname());
}

/** Takes `run.lock` in `dir` (created exclusively); a stale one is taken over with a note. */
async function lock(dir: string, holder: LockHolder, notes: string[]): Promise<void> {
  const path = join(dir, LOCK_FILE);
  const content = `${JSON.stringify(holder)}\n`;
  let unreadableSeen = 0;
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      simulatedFault(path);
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(content);
      } catch (err) {
        await handle.close();
        await unlink(path).catch(() => {});
        throw fileProblem(err, path);
      }
      await handle.close();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw fileProblem(err, path, "create");
    }
    const current = await readHolder(path);
    if (current === undefined) continue; // released meanwhile: try again
    if (current === "unreadable") {
      // Created but not yet written by its holder, or left empty by a process killed at that moment.
      if (++unreadableSeen < 20) {
        await sleep(25);
        continue;
      }
    } else if (holderAlive(current)) {
      throw new RunDirBusyError(dir, current, current.host === hostname());
    }
    if (await removeStale(path, current)) {
      notes.push(
        current === "unreadable"
          ? `note: took over ${path}, which was empty or unreadable (its writer died while creating it)`
          : `note: took over ${path} from process ${current.pid}, which is no longer running (it started ${current.since}); its run may be incomplete`,
      );
    } else {
      await sleep(10);
    }
  }
  throw new UsageError(`cannot take ${path}: other processes keep claiming it; try again`);
}

function newHolder(): LockHolder {
  return {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    processStart: processStart(process.pid),
    token: randomBytes(8).toString("hex"),
  };
}

function makeClaim(dir: string, holder: LockHolder, created: boolean, notes: string[]): RunClaim {
  const path = join(dir, LOCK_FILE);
  let released = false;
  const ours = (text: string) => {
    try {
      return (JSON.parse(text) as LockHolder).token === holder.token;
    } catch {
      return false;
    }
  };
  return {
    dir,
    notes,
    async release() {
      if (released) return;
      released = true;
      const text = await readFile(path, "utf8").catch(() => "");
      if (ours(text)) await unlink(path).catch(() => {});
      if (created) await rmdir(dir).catch(() => {}); // only when empty
    },
    releaseSync() {
      if (released) return;
      released = true;
      let text = "";
      try {
        text = readFileSync(path, "utf8");
      } catch {}
      try {
        if (ours(text)) unlinkSync(path);
        if (created) rmdirSync(dir);
      } catch {}
    },
  };
}

/** Refuses a new run's directory that holds anything (but our lock): a run is never overwritten. */
async function checkEmpty(dir: string, claim: RunClaim): Promise<void> {
  const entries = (await readdir(dir)).filter((e) => e !== LOCK_FILE);
  if (entries.length === 0) return;
  await claim.release();
  const isRun = entries.includes("run.json");
  throw new UsageError(
    `${dir} already exists and is not empty; convnets never overwrites a run. ` +
      (isRun ? `To continue it: convnets train --resume ${dir}. ` : "") +
      "To start a new run, choose another --out (or leave --out out for runs/<model>-<timestamp>).",
  );
}

/** Removes what a writer that died left half-written: only the lock's holder writes, so every `.tmp` is garbage. */
async function removeLeftovers(dir: string): Promise<void> {
  for (const sub of [dir, join(dir, "checkpoints")]) {
    const entries = await readdir(sub).catch(() => [] as string[]);
    for (const entry of entries) {
      if (entry.endsWith(".tmp")) await rm(join(sub, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Claims a run directory for this process: one run directory, one writer. The directory gets `run.lock`
 * (pid, host, start time), created exclusively, so of two processes claiming one directory at once exactly one
 * wins; the other gets a RunDirBusyError (exit 2) naming the directory and the holder. A lock whose process is
 * gone (same host) is taken over with a note. `mode: "new"` creates the directory (or accepts an empty one);
 * `mode: "existing"` claims a run to continue. Call `release()` when done (in a `finally`).
 */
export async function claimRunDir(dir: string, options: ClaimOptions): Promise<RunClaim> {
  const notes: string[] = [];
  const holder = newHolder();
  let created = false;
  for (let attempt = 0; ; attempt++) {
    if (options.mode === "new") {
      try {
        await mkdir(dirname(dir), { recursive: true });
        await mkdir(dir);
        created = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== "EEXIST") throw new UsageError((fileProblem(err, dir, "create") as Error).message);
        const isDir = await stat(dir).then((s) => s.isDirectory());
        if (!isDir) throw new UsageError(`--out ${dir} exists and is not a directory; choose another --out`);
      }
    }
    try {
      await lock(dir, holder, notes);
      break;
    } catch (err) {
      // The directory was removed between its creation and the lock (another claim gave it back): again.
      if ((err as { code?: string }).code === "ENOENT" && attempt < 3) continue;
      if (created) await rmdir(dir).catch(() => {});
      if (err instanceof UsageError) throw err;
      throw new UsageError((err as Error).message);
    }
  }
  const claim = makeClaim(dir, holder, created, notes);
  if (options.mode === "new") await checkEmpty(dir, claim);
  else await removeLeftovers(dir);
  return claim;
}

/**
 * Claims a new run directory named `base`, else `base-2`, `base-3`, …: each name is created exclusively, so
 * processes started in the same second (the default name's timestamp) never share a directory.
 */
export async function claimNewRunDir(base: string): Promise<RunClaim> {
  await mkdir(dirname(base), { recursive: true }).catch((err) => {
    throw new UsageError((fileProblem(err, dirname(base), "create") as Error).message);
  });
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    try {
      await mkdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw new UsageError((fileProblem(err, dir, "create") as Error).message);
    }
    const notes: string[] = [];
    const holder = newHolder();
    try {
      await lock(dir, holder, notes);
    } catch (err) {
      if (err instanceof RunDirBusyError) continue; // an --out of another process took this name first
      await rmdir(dir).catch(() => {});
      throw err;
    }
    return makeClaim(dir, holder, true, notes);
  }
}

/** Removes a directory's `.tmp` leftovers synchronously (a process quitting at once) */
export function removeLeftoversSync(dir: string): void {
  for (const sub of [dir, join(dir, "checkpoints")]) {
    let entries: string[] = [];
    try {
      entries = readdirSync(sub);
    } catch {}
    for (const entry of entries) {
      if (entry.endsWith(".tmp")) rmSync(join(sub, entry), { recursive: true, force: true });
    }
  }
}
