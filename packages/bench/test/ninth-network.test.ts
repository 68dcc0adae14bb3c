import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { benchRows } from "../src/networks.js";

const PACKAGES = fileURLToPath(new URL("../..", import.meta.url));

/**
 * A project with a ninth network installed: the trainer's fixture `@convnets/toynet` (one file that registers its
 * spec), beside `@convnets/model` and tfjs-layers, as npm would lay them out. Nothing of the benchmarks is edited
 * for it.
 */
let project: string;
beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "convnets-bench-ninth-"));
  const require = createRequire(join(PACKAGES, "model", "package.json"));
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(project, "node_modules", name)), { recursive: true });
    symlinkSync(target, join(project, "node_modules", name), "dir");
  };
  link("@convnets/toynet", join(PACKAGES, "trainer", "test", "fixtures", "toynet"));
  link("@convnets/model", join(PACKAGES, "model"));
  link("@tensorflow/tfjs-layers", dirname(require.resolve("@tensorflow/tfjs-layers/package.json")));
});
afterAll(() => rmSync(project, { recursive: true, force: true }));

it("a ninth network is a row of the benchmarks, timed on our side only (our PyTorch peer has no twin)", async () => {
  const rows = await benchRows(project);
  const toy = rows.find((r) => r.spec.name === "toynet");
  expect(toy).toMatchObject({ inPeer: false, inputSize: 28, batchSize: 64, batches: 1 });
  expect(rows.find((r) => r.spec.name === "resnet18")?.inPeer).toBe(true);
});
