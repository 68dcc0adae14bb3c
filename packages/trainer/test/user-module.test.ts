import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { RunRecord } from "../src/run-dir.js";
import { cli, EXAMPLE_MODEL, FUNCTION_MODEL, PACKAGE_DIR, tempDir, withoutSoftwareAdapterNote } from "./helpers.js";

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

describe("training your own network", () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it("the README shows examples/my-model.js exactly", () => {
    const readme = readFileSync(join(PACKAGE_DIR, "README.md"), "utf8");
    const block = /```js\n(\/\/ my-model\.js[\s\S]*?)```/.exec(readme);
    expect(block, "README has a ```js block starting with // my-model.js").not.toBeNull();
    expect(block![1]).toBe(readFileSync(EXAMPLE_MODEL, "utf8"));
    expect(readme).toContain("npx convnets train ./my-model.js");
  });

  it("convnets train ./my-model.js trains the README's ModelSpec with its own recipe, and eval finds it again", async () => {
    const out = join(tmp.dir, "mine");
    const res = await cli(["train", "./my-model.js", "--limit", "512", "--epochs", "1", "--out", out], {
      cwd: join(PACKAGE_DIR, "examples"),
    });
    expect(withoutSoftwareAdapterNote(res.stderr)).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("small-cnn (Two conv blocks and a linear classifier): 9,098 trainable parameters");
    expect(res.stdout).toContain("recipe: 1 epoch, lr 0.1, batch size 128, input 28×28, seed 0");
    expect(res.stdout).toMatch(/^loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$/m);
    const record = readJson<RunRecord>(join(out, "run.json"));
    expect(record.model.source).toEqual({ kind: "module", path: EXAMPLE_MODEL, export: "smallCnn", builds: "spec" });

    const evaluated = await cli(["eval", out, "--limit", "512"], { cwd: tmp.dir });
    expect(evaluated.code).toBe(0);
    const history = readJson<{ testAcc: number }[]>(join(out, "history.json"));
    expect(evaluated.stdout).toContain(`test acc ${history[0]!.testAcc.toFixed(3)} (`);
  });

  it("a module exporting a function that returns a tf.LayersModel trains too, with the default recipe", async () => {
    const out = join(tmp.dir, "fn");
    const res = await cli(["train", FUNCTION_MODEL, "--limit", "256", "--epochs", "1", "--out", out], { cwd: tmp.dir });
    expect(withoutSoftwareAdapterNote(res.stderr)).toBe("");
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("recipe: 1 epoch, lr 0.1, batch size 256, input 28×28, seed 0");
    expect(readJson<RunRecord>(join(out, "run.json")).model.name).toBe("tiny-function");
  });

  it("refuses an input size the function cannot build", async () => {
    const smaller = await cli(["train", FUNCTION_MODEL, "--input-size", "16", "--limit", "256", "--epochs", "1"], {
      cwd: tmp.dir,
    });
    expect(smaller.code).toBe(2);
    expect(smaller.stderr).toContain("--input-size 16: tiny-function needs images of at least 28×28");
    const ignored = await cli(
      ["train", join(PACKAGE_DIR, "test", "fixtures", "fixed-input.js"), "--input-size", "32"],
      {
        cwd: tmp.dir,
      },
    );
    expect(ignored.code).toBe(2);
    expect(ignored.stderr).toContain(
      "fixed-input: the function built a model for 28×28 input although 32×32 was asked",
    );
  });
});
