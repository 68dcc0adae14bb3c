import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { claimRunDir, RunDirBusyError, type TrainOutcome, trainRun } from "../src/index.js";
import type { RunRecord } from "../src/run-dir.js";
import { Capture, tempDir } from "./helpers.js";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** trainRun as a queue worker uses it: a job's directory, an AbortSignal, an outcome instead of an exit. */
describe("trainRun, the train command as a function", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());
  const job = (out: string, extra: Partial<Parameters<typeof trainRun>[0]> = {}) =>
    trainRun({
      model: "lenet",
      limit: 256,
      batchSize: 64,
      epochs: 2,
      out,
      resumeExisting: true,
      cwd: tmp.dir,
      stdout: new Capture(),
      stderr: new Capture(),
      ...extra,
    });

  it("an abort with a signal's name stops after the batch: interrupted, 128 + its number; the same call resumes it", async () => {
    const controller = new AbortController();
    const stdout = new Capture(false, (chunk) => {
      if (chunk.startsWith("epoch 1/2")) controller.abort("SIGTERM");
    });
    const stopped: TrainOutcome = await job("jobs/1", { signal: controller.signal, stdout });
    expect(stopped).toMatchObject({ status: "interrupted", exitCode: 143, epochs: 1, dir: join(tmp.dir, "jobs", "1") });
    expect(stopped.message).toBe("Stopped by SIGTERM after epoch 1.");
    expect(stopped.history.map((m) => m.epoch)).toEqual([1]);

    const reported: [number, number][] = [];
    const finished = await job("jobs/1", {
      onEpoch: (metrics, run) => {
        reported.push([metrics.epoch, run.epochs]);
      },
    });
    expect(finished).toMatchObject({ status: "complete", exitCode: 0, epochs: 2 });
    expect(reported).toEqual([[2, 2]]);
    expect(finished.history.map((m) => m.epoch)).toEqual([1, 2]);
    const record = readJson<RunRecord>(join(tmp.dir, "jobs", "1", "run.json"));
    expect(record.sessions.map((s) => s.status)).toEqual(["interrupted", "complete"]);
  });

  it("a directory another writer holds throws RunDirBusyError before any work", async () => {
    const claim = await claimRunDir(join(tmp.dir, "jobs", "2"), { mode: "new" });
    try {
      await expect(job("jobs/2")).rejects.toBeInstanceOf(RunDirBusyError);
    } finally {
      await claim.release();
    }
  });
});
