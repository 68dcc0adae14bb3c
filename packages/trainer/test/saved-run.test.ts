import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, PACKAGE_DIR, tempDir } from "./helpers.js";

/**
 * test/fixtures/saved-run-lenet-bn: a run made by convnets 0.1 (`convnets train lenet-bn --limit 256 --epochs 1`),
 * before the layers were renamed (its model.json has `dense1`, `dense1_bn`, `dense3`, where lenet-bn now builds
 * `fc1`, `fc1_bn`, `logits`). A run's model.json stores its own names, so it keeps loading.
 */
const FIXTURE = join(PACKAGE_DIR, "test", "fixtures", "saved-run-lenet-bn");

describe("a run saved before the layer renames", () => {
  let tmp: ReturnType<typeof tempDir>;
  let dir: string;
  beforeAll(() => {
    tmp = tempDir("convnets-saved-run-");
    dir = join(tmp.dir, "lenet-bn-run");
    cpSync(FIXTURE, dir, { recursive: true });
  });
  afterAll(() => tmp.remove());

  it("has the old names", () => {
    const topology = readFileSync(join(dir, "model", "model.json"), "utf8");
    expect(topology).toContain('"name":"dense1_bn"');
    expect(topology).not.toContain('"name":"fc1_bn"');
  });

  it("is evaluated by convnets eval", async () => {
    const res = await cli(["eval", dir, "--limit", "256", "--backend", "wasm"], { cwd: tmp.dir });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/test acc 0\.\d+/);
  });

  it("resumes from its checkpoint with convnets train --resume, and trains on", async () => {
    const res = await cli(["train", "--resume", dir, "--epochs", "2", "--backend", "wasm"], { cwd: tmp.dir });
    expect(res.code).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"));
    expect(run.status).toBe("complete");
    expect(run.sessions.map((s: { fromEpoch: number; toEpoch: number }) => [s.fromEpoch, s.toEpoch])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    const history = JSON.parse(readFileSync(join(dir, "history.json"), "utf8"));
    expect(history).toHaveLength(2);
    // The resumed model is the saved one, its names and all.
    expect(readFileSync(join(dir, "model", "model.json"), "utf8")).toContain('"name":"dense1_bn"');
  });
});
