import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CheckpointRecord, RunRecord } from "../src/run-dir.js";
import { PACKAGE_DIR, tempDir, withoutSoftwareAdapterNote } from "./helpers.js";

const BIN = join(PACKAGE_DIR, "bin", "convnets.js");

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real command in a child process; `onStdout` may signal it. */
function convnets(
  args: string[],
  cwd: string,
  onStdout?: (all: string, kill: (s: NodeJS.Signals) => void) => void,
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      onStdout?.(stdout, (signal) => child.kill(signal));
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr: stderr }));
  });
}

describe("bin/convnets.js, end to end", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("lists the networks", async () => {
    const res = await convnets(["list"], tmp.dir);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^lenet +LeNet-5 +28×28 +0\.9 +256 +10 /m);
  });

  it("exits 2 with a message on bad input", async () => {
    const res = await convnets(["train", "lenet", "--batch-size", "0"], tmp.dir);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe("convnets: --batch-size 0: must be a whole number ≥ 1 (examples per SGD step, e.g. 256)\n");
  });

  it("Ctrl-C stops after the current batch and leaves a run that --resume finishes", async () => {
    let interrupted = false;
    const stopped = await convnets(
      ["train", "lenet", "--limit", "512", "--batch-size", "32", "--epochs", "3", "--out", "runs/ctrl-c"],
      tmp.dir,
      (all, kill) => {
        if (!interrupted && all.includes("epoch 1/3")) {
          interrupted = true;
          kill("SIGINT");
        }
      },
    );
    expect(stopped.stderr).toContain("stopping after this batch");
    expect(stopped.code).toBe(130);
    const dir = join(tmp.dir, "runs", "ctrl-c");
    const checkpoint = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8")) as CheckpointRecord;
    expect(checkpoint.epoch).toBeGreaterThanOrEqual(1);
    expect(checkpoint.epoch).toBeLessThan(3);
    expect(stopped.stderr).toContain(`stopped: ${checkpoint.epoch} of 3 epochs done`);
    expect(stopped.stderr).toContain("Continue with: convnets train --resume runs/ctrl-c");
    expect((JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunRecord).status).toBe("interrupted");

    const resumed = await convnets(["train", "--resume", "runs/ctrl-c"], tmp.dir);
    expect(withoutSoftwareAdapterNote(resumed.stderr)).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$/m);
    const history = JSON.parse(readFileSync(join(dir, "history.json"), "utf8")) as { epoch: number }[];
    expect(history.map((m) => m.epoch)).toEqual([1, 2, 3]);
  });
});
