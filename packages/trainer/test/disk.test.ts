import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CheckpointRecord, RunRecord } from "../src/run-dir.js";
import { cli, convnetsProcess, mountTmpfs, remount, tempDir, unmount } from "./helpers.js";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** Every `.tmp` file or directory under `dir`. */
function tmpFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.name.endsWith(".tmp")) found.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return found;
}

/**
 * A full disk: a 400 kB tmpfs where this process may mount one (LeNet's checkpoint is 247 kB, so the second
 * epoch's does not fit), else the same write failing with ENOSPC through CONVNETS_TEST_FS_FAULT.
 */
describe("a full disk", () => {
  const tmp = tempDir();
  const disk = join(tmp.dir, "disk");
  mkdirSync(disk);
  const mounted = mountTmpfs(disk, "400k");
  afterAll(() => {
    if (mounted) unmount(disk);
    tmp.remove();
  });
  const fault: Record<string, string> = mounted ? {} : { CONVNETS_TEST_FS_FAULT: "ENOSPC@checkpoints/epoch-2" };

  it(`names the path and what to do, leaves no .tmp, the last good checkpoint and a run.json that says failed (${mounted ? "tmpfs" : "simulated"})`, async () => {
    const run = join(disk, "run");
    const res = await convnetsProcess(["train", "lenet", "--limit", "256", "--epochs", "3", "--out", run], {
      cwd: tmp.dir,
      env: fault,
    });
    expect(res.code).toBe(1);
    const problem = `cannot write ${join(run, "checkpoints", "epoch-2")}: the disk is full (ENOSPC); free some space on that disk`;
    expect(res.stderr).toContain(`convnets: ${problem}`);
    expect(res.stderr).toContain("The checkpoint of epoch 1 is kept: convnets train --resume disk/run");
    expect(tmpFiles(run)).toEqual([]);
    const record = readJson<RunRecord>(join(run, "run.json"));
    expect(record.status).toBe("failed");
    expect(record.message).toContain(problem);
    expect(readJson<CheckpointRecord>(join(run, "checkpoint.json")).epoch).toBe(1);
    expect(readdirSync(join(run, "checkpoints"))).toEqual(["epoch-1"]);

    // Space freed: the run resumes from its checkpoint and completes.
    if (mounted) remount(disk, "size=4m");
    const resumed = await convnetsProcess(["train", "--resume", run], { cwd: tmp.dir });
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("after epoch 1 of 3");
    expect(readJson<RunRecord>(join(run, "run.json")).status).toBe("complete");
    expect(tmpFiles(run)).toEqual([]);
  });
});

/** A read-only run: a tmpfs remounted read-only where this process may, else EROFS simulated on the result files. */
describe("eval and predict on a read-only run", () => {
  const tmp = tempDir();
  const disk = join(tmp.dir, "archive");
  mkdirSync(disk);
  const mounted = mountTmpfs(disk, "4m");
  afterAll(() => {
    if (mounted) unmount(disk);
    delete process.env.CONVNETS_TEST_FS_FAULT;
    tmp.remove();
  });

  it("print their results, say what they could not save, and exit 0; --out writes elsewhere", async () => {
    const run = join(disk, "run");
    const trained = await cli(["train", "lenet", "--limit", "256", "--epochs", "1", "--out", run], { cwd: tmp.dir });
    expect(trained.code).toBe(0);
    if (mounted) remount(disk, "ro");
    else process.env.CONVNETS_TEST_FS_FAULT = `EROFS@${run}/`;
    const reason = "the file system is read-only (EROFS)";

    const evaluated = await cli(["eval", run, "--limit", "256"], { cwd: tmp.dir });
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toMatch(/test acc \d\.\d{3} \(/);
    expect(evaluated.stderr).toContain(
      `note: not saved: cannot write ${join(run, "eval.json")}: ${reason}; the results above are complete (--out FILE writes it elsewhere)`,
    );
    expect(existsSync(join(run, "eval.json"))).toBe(false);

    const elsewhere = await cli(["eval", run, "--limit", "256", "--out", "eval.json"], { cwd: tmp.dir });
    expect(elsewhere.code).toBe(0);
    expect(elsewhere.stdout).toContain("saved eval.json");
    expect(readJson<{ testImages: number }>(join(tmp.dir, "eval.json")).testImages).toBe(256);

    const predicted = await cli(["predict", run, "--count", "4"], { cwd: tmp.dir });
    expect(predicted.code).toBe(0);
    expect(predicted.stdout).toMatch(/^\d of 4 right$/m);
    expect(predicted.stderr).toContain(`note: not saved: cannot write ${join(run, "predictions.png")}: ${reason}`);

    // Training into it is refused at once, naming the path.
    const resumed = await cli(["train", "--resume", run, "--epochs", "2"], { cwd: tmp.dir });
    expect(resumed.code).toBe(2);
    expect(resumed.stderr).toContain(`cannot create ${join(run, "run.lock")}: the file system is read-only (EROFS)`);
  });
});
