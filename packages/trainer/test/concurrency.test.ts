import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunRecord } from "../src/run-dir.js";
import { claimNewRunDir, claimRunDir, LOCK_FILE, RunDirBusyError } from "../src/run-lock.js";
import { cli, convnetsProcess, tempDir } from "./helpers.js";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;
const QUICK = ["--limit", "256", "--epochs", "1", "--batch-size", "128"];
const N = 4;

/** A pid that surely belongs to no process: one that has just exited. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid!;
}

describe("one run directory, one writer: N processes at once", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it(`${N} trainings started together with the default directory each get their own run, with their own seed`, async () => {
    const cwd = join(tmp.dir, "default");
    mkdirSync(cwd);
    const seeds = Array.from({ length: N }, (_, i) => i + 1);
    const runs = await Promise.all(
      seeds.map((seed) => convnetsProcess(["train", "lenet", ...QUICK, "--seed", String(seed)], { cwd })),
    );
    for (const run of runs) {
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
    }
    const dirs = readdirSync(join(cwd, "runs")).sort();
    expect(dirs).toHaveLength(N);
    // Each process's "saved <dir>" line names a different directory, holding that process's seed.
    const saved = runs.map((run) => /^saved (\S+):/m.exec(run.stdout)![1]!);
    expect(new Set(saved).size).toBe(N);
    saved.forEach((dir, i) => {
      const record = readJson<RunRecord>(join(cwd, dir, "run.json"));
      expect(record.seed).toBe(seeds[i]);
      expect(record.status).toBe("complete");
      expect(existsSync(join(cwd, dir, "model", "weights.bin"))).toBe(true);
      expect(existsSync(join(cwd, dir, LOCK_FILE))).toBe(false);
    });
  });

  it(`${N} trainings into one --out: exactly one trains, the others are refused with exit 2 naming the directory and the holder`, async () => {
    const cwd = join(tmp.dir, "out");
    mkdirSync(cwd);
    const runs = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        convnetsProcess(["train", "lenet", ...QUICK, "--seed", String(i + 1), "--out", "same"], { cwd }),
      ),
    );
    const winners = runs.filter((r) => r.code === 0);
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    for (const loser of runs.filter((r) => r !== winner)) {
      expect(loser.code).toBe(2);
      // Refused at the claim (before data or timing), or, when the winner was already done, as an existing run.
      expect(loser.stderr).toMatch(
        new RegExp(
          `${join(cwd, "same")} (is being written by process ${winner.pid} on ${hostname()}|already exists and is not empty)`,
        ),
      );
      expect(loser.stdout).not.toContain("estimated time");
    }
    const record = readJson<RunRecord>(join(cwd, "same", "run.json"));
    expect(record.status).toBe("complete");
    expect(winner.stdout).toContain(`seed ${record.seed}`);
    expect(readdirSync(join(cwd, "same")).sort()).toEqual(
      [
        "checkpoint.json",
        "checkpoints",
        "curves.svg",
        "history.csv",
        "history.json",
        "model",
        "report.md",
        "run.json",
      ].sort(),
    );
  });

  it("two --resume of one run at once: one continues it, the other is refused; no session is lost", async () => {
    const cwd = join(tmp.dir, "resume");
    mkdirSync(cwd);
    const first = await cli(["train", "lenet", ...QUICK, "--out", "r"], { cwd });
    expect(first.code).toBe(0);
    const both = await Promise.all(
      [0, 1].map(() => convnetsProcess(["train", "--resume", "r", "--epochs", "2"], { cwd })),
    );
    const codes = both.map((r) => r.code).sort();
    const refused = both.find((r) => r.code === 2);
    if (refused && codes[0] === 0) {
      expect(refused.stderr).toMatch(/r is being written by process \d+|is already complete \(2 epochs\)/);
    } else {
      // The second started after the first had finished: it found the run complete.
      expect(codes).toEqual([0, 0]);
      expect(both.some((r) => r.stdout.includes("is already complete (2 epochs)"))).toBe(true);
    }
    const record = readJson<RunRecord>(join(cwd, "r", "run.json"));
    expect(record.sessions.map((s) => [s.fromEpoch, s.toEpoch, s.status])).toEqual([
      [0, 1, "complete"],
      [1, 2, "complete"],
    ]);
  });
});

describe("the claim", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("a lock whose process is gone is taken over, with a note", async () => {
    const cwd = tmp.dir;
    mkdirSync(join(cwd, "stale"));
    const pid = deadPid();
    writeFileSync(
      join(cwd, "stale", LOCK_FILE),
      JSON.stringify({ pid, host: hostname(), since: "2026-01-01T00:00:00.000Z", token: "dead" }),
    );
    const res = await cli(["train", "lenet", ...QUICK, "--out", "stale"], { cwd });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(
      `note: took over ${join(cwd, "stale", LOCK_FILE)} from process ${pid}, which is no longer running`,
    );
    expect(existsSync(join(cwd, "stale", LOCK_FILE))).toBe(false);
  });

  it("in-process: a second claim is refused while the first is held, a lock from another host names how to clear it", async () => {
    const dir = join(tmp.dir, "held");
    const claim = await claimRunDir(dir, { mode: "new" });
    const second = await claimRunDir(dir, { mode: "new" }).catch((e) => e);
    expect(second).toBeInstanceOf(RunDirBusyError);
    expect(second.exitCode).toBe(2);
    expect(second.message).toContain(`${dir} is being written by process ${process.pid} on ${hostname()}`);
    await claim.release();
    expect(existsSync(dir)).toBe(false); // created by the claim and left empty: removed

    const foreign = join(tmp.dir, "foreign");
    mkdirSync(foreign);
    writeFileSync(
      join(foreign, LOCK_FILE),
      JSON.stringify({ pid: 1, host: "another-host", since: "2026-01-01T00:00:00.000Z", token: "x" }),
    );
    const busy = await claimRunDir(foreign, { mode: "new" }).catch((e) => e);
    expect(busy.message).toContain(`process 1 on another-host`);
    expect(busy.message).toContain(`If that process is no longer running, delete ${join(foreign, LOCK_FILE)}`);
  });

  it("default names: claims in the same second get base, base-2, base-3", async () => {
    const base = join(tmp.dir, "runs", "lenet-20260101-000000");
    const claims = await Promise.all([0, 1, 2].map(() => claimNewRunDir(base)));
    expect(claims.map((c) => c.dir).sort()).toEqual([base, `${base}-2`, `${base}-3`]);
    for (const c of claims) await c.release();
  });
});
