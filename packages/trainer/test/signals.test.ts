import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CheckpointRecord, RunRecord } from "../src/run-dir.js";
import { LOCK_FILE } from "../src/run-lock.js";
import { convnetsProcess, tempDir } from "./helpers.js";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/**
 * Trains in a child process and sends `signal` once its first epoch line is out; with `twice`, sends it again as
 * soon as the process says it is stopping (batches of 512 take long enough for that to land inside one).
 */
async function trainAndSignal(cwd: string, out: string, signal: NodeJS.Signals, twice = false) {
  let sent = 0;
  return convnetsProcess(
    ["train", "lenet", "--limit", "1024", "--batch-size", twice ? "512" : "64", "--epochs", "3", "--out", out],
    {
      cwd,
      onStdout: (all, kill) => {
        if (sent === 0 && all.includes("epoch 1/3")) {
          sent = 1;
          kill(signal);
        }
      },
      onStderr: (all, kill) => {
        if (twice && sent === 1 && all.includes("stopping after this batch")) {
          sent = 2;
          kill(signal);
        }
      },
    },
  );
}

describe("SIGTERM and SIGHUP, as schedulers, docker stop and closed terminals send them", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("SIGTERM finishes the batch, checkpoints, records interrupted, says so in one line and exits 143", async () => {
    const res = await trainAndSignal(tmp.dir, "term", "SIGTERM");
    expect(res.code).toBe(143);
    expect(res.stderr).toContain("SIGTERM: stopping after this batch (SIGTERM again to quit at once)…");
    const dir = join(tmp.dir, "term");
    const record = readJson<RunRecord>(join(dir, "run.json"));
    const checkpoint = readJson<CheckpointRecord>(join(dir, "checkpoint.json"));
    expect(record.status).toBe("interrupted");
    expect(record.message).toBe(`Stopped by SIGTERM after epoch ${checkpoint.epoch}.`);
    expect(res.stderr).toContain(`stopped: ${checkpoint.epoch} of 3 epochs done`);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it("a second SIGHUP quits at once (exit 129) and still leaves a valid run that --resume finishes", async () => {
    const res = await trainAndSignal(tmp.dir, "hup", "SIGHUP", true);
    expect(res.code).toBe(129);
    expect(res.stderr).toMatch(
      /stopped at once: \d epochs? done and checkpointed in hup\. Continue with: convnets train --resume hup/,
    );
    const dir = join(tmp.dir, "hup");
    const record = readJson<RunRecord>(join(dir, "run.json"));
    expect(record.status).toBe("interrupted");
    expect(record.message).toMatch(/^Stopped at once by a second SIGHUP; the checkpoint of epoch \d is kept\.$/);
    const checkpoint = readJson<CheckpointRecord>(join(dir, "checkpoint.json"));
    expect(record.sessions[0]!.toEpoch).toBe(checkpoint.epoch);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);

    const resumed = await convnetsProcess(["train", "--resume", "hup"], { cwd: tmp.dir });
    expect(resumed.code).toBe(0);
    expect(readJson<{ epoch: number }[]>(join(dir, "history.json")).map((m) => m.epoch)).toEqual([1, 2, 3]);
    expect(readJson<RunRecord>(join(dir, "run.json")).status).toBe("complete");
  });
});
