import { mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, PACKAGE_DIR, tempDir } from "./helpers.js";

/**
 * A project with a ninth network installed: `node_modules/@convnets/toynet` (test/fixtures/toynet: one file that
 * registers its spec), beside `@convnets/model` and tfjs-layers, as npm would lay them out. Nothing of the trainer
 * is edited for it. (packages/bench/test/ninth-network.test.ts shows it among the benchmark rows.)
 */
function projectWithToynet(dir: string): void {
  const require = createRequire(join(PACKAGE_DIR, "..", "model", "package.json"));
  const link = (name: string, target: string) => {
    mkdirSync(dirname(join(dir, "node_modules", name)), { recursive: true });
    symlinkSync(target, join(dir, "node_modules", name), "dir");
  };
  link("@convnets/toynet", join(PACKAGE_DIR, "test", "fixtures", "toynet"));
  link("@convnets/model", join(PACKAGE_DIR, "..", "model"));
  link("@tensorflow/tfjs-layers", dirname(require.resolve("@tensorflow/tfjs-layers/package.json")));
}

describe("a ninth network: one package that registers its spec", () => {
  let project: ReturnType<typeof tempDir>;
  beforeAll(() => {
    project = tempDir("convnets-ninth-");
    projectWithToynet(project.dir);
  });
  afterAll(() => project.remove());

  it("is listed by convnets list, after the book's networks", async () => {
    const res = await cli(["list", "--json"], { cwd: project.dir });
    expect(res.code).toBe(0);
    const models = JSON.parse(res.stdout) as { name: string; package?: string; title?: string }[];
    expect(models.at(-1)).toMatchObject({ name: "toynet", package: "@convnets/toynet", title: "ToyNet" });
    expect(models.map((m) => m.name)).toContain("resnet18");
  });

  it("trains with convnets train, and its run records the package it came from", async () => {
    const out = join(project.dir, "run");
    const res = await cli(["train", "toynet", "--limit", "64", "--epochs", "1", "--out", out, "--backend", "wasm"], {
      cwd: project.dir,
    });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^toynet \(ToyNet\): 7,890 trainable parameters$/m);
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(run.status).toBe("complete");
    expect(run.model.source).toEqual({ kind: "package", specifier: "@convnets/toynet", export: "toynetSpec" });
    const evaluated = await cli(["eval", out, "--limit", "64"], { cwd: project.dir });
    expect(evaluated.code).toBe(0);
  });
});
