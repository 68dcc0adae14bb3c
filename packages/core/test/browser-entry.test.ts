import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const NODE_BUILTINS = new Set(builtinModules);

/**
 * Bundles `entry` for the browser (tfjs left out: it is the application's) and returns every Node built-in
 * module the bundle would need, as "importer → module".
 */
async function nodeImports(entry: string): Promise<string[]> {
  const found: string[] = [];
  const recordNodeModules: Plugin = {
    name: "record-node-modules",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const bare = args.path.replace(/^node:/, "").split("/")[0]!;
        if (args.path.startsWith("node:") || NODE_BUILTINS.has(bare)) {
          found.push(`${args.importer.replace(/.*\/src\//, "src/")} → ${args.path}`);
          return { path: args.path, external: true };
        }
        return undefined;
      });
    },
  };
  await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    logLevel: "silent",
    external: ["@tensorflow/*"],
    plugins: [recordNodeModules],
  });
  return found;
}

describe("@convnets/core/browser bundles for a browser", () => {
  it("pulls in no node: module (train, TrainStep, lossGradients, evaluate, the IDX parser)", async () => {
    expect(await nodeImports("../src/browser.ts")).toEqual([]);
  });

  it("the check sees Node modules where they are: the Node entry reads files", async () => {
    const found = await nodeImports("../src/index.ts");
    expect(found).toContain("src/data/idx-file.ts → node:fs/promises");
    expect(found).toContain("src/engine.ts → node:child_process");
  });
});
