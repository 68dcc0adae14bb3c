import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, describe, expect, it } from "vitest";
import { setupEngine } from "../src/index.js";

/** tfjs-node counts as installed only with its native binding, which offline installs lack. */
function tensorflowInstalled(): boolean {
  const require = createRequire(import.meta.url);
  return ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu"].some((pkg) => {
    try {
      const lib = join(dirname(require.resolve(`${pkg}/package.json`)), "lib");
      return existsSync(lib) && readdirSync(lib).some((d) => existsSync(join(lib, d, "tfjs_binding.node")));
    } catch {
      return false;
    }
  });
}

describe("setupEngine", () => {
  const saved = process.env.CONVNETS_BACKEND;
  afterEach(() => {
    if (saved === undefined) delete process.env.CONVNETS_BACKEND;
    else process.env.CONVNETS_BACKEND = saved;
  });

  it("wasm: describes SIMD and threads, and registers the kernels training needs", async () => {
    const info = await setupEngine("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(info.backend).toBe("wasm");
    expect(info.description).toMatch(/^wasm \((simd|no simd), \d+ threads?\)$/);
    expect(info.addedKernels).toContain("Conv2DBackpropFilter");
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")).toBeDefined();
  });

  it("auto picks tensorflow when tfjs-node loads, otherwise wasm, never cpu", async () => {
    delete process.env.CONVNETS_BACKEND;
    const info = await setupEngine();
    expect(info.backend).toBe(tensorflowInstalled() ? "tensorflow" : "wasm");
  });

  it.skipIf(tensorflowInstalled())(
    "asking for tensorflow where it is not installed says how to install it",
    async () => {
      await expect(setupEngine("tensorflow")).rejects.toThrow(
        /engine "tensorflow" is not available: install @tensorflow\/tfjs-node-gpu@4\.22\.0 .* or @tensorflow\/tfjs-node@4\.22\.0/,
      );
    },
  );

  it("CONVNETS_BACKEND overrides auto; the argument overrides CONVNETS_BACKEND", async () => {
    process.env.CONVNETS_BACKEND = "cpu";
    expect((await setupEngine()).backend).toBe("cpu");
    expect((await setupEngine("wasm")).backend).toBe("wasm");
  });

  it("wasm threads: the option, else CONVNETS_THREADS; the description states what runs; bad counts name their source", async () => {
    const savedThreads = process.env.CONVNETS_THREADS;
    try {
      process.env.CONVNETS_THREADS = "1";
      expect((await setupEngine("wasm")).description).toBe("wasm (simd, 1 thread)");
      expect((await setupEngine("wasm", { threads: 2 })).description).toBe("wasm (simd, 2 threads)");
      const lowered = await setupEngine("wasm", { threads: "64" });
      expect(lowered.threads).toBe(8);
      expect(lowered.notes).toEqual(["64 threads asked; the wasm engine runs at most 8: using 8"]);
      process.env.CONVNETS_THREADS = "abc";
      await expect(setupEngine("wasm")).rejects.toThrow(
        /^CONVNETS_THREADS: "abc" is not a thread count; give a whole number from 1 to 8/,
      );
      await expect(setupEngine("wasm", { threads: "0" })).rejects.toThrow(/^threads: "0" is not a thread count/);
    } finally {
      if (savedThreads === undefined) delete process.env.CONVNETS_THREADS;
      else process.env.CONVNETS_THREADS = savedThreads;
    }
  });

  it("an unknown engine name is refused, naming where it came from", async () => {
    process.env.CONVNETS_BACKEND = "webgl";
    await expect(setupEngine()).rejects.toThrow(
      'CONVNETS_BACKEND: unknown engine "webgl"; use one of auto, tensorflow, webgpu, wasm, cpu',
    );
    await expect(setupEngine("gpu")).rejects.toThrow('engine: unknown engine "gpu"');
  });
});
