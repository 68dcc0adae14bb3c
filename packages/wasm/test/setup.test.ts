/**
 * setupWasm: thread counts asked for, counted and refused, and the threaded build's failures reported
 * rather than hung on. Runs in both projects of vitest.config.ts; each file is its own process.
 */
import "@tensorflow/tfjs-backend-wasm";
// tfjs-layers' node bundle registers tfjs-core's gradient functions.
import "@tensorflow/tfjs-layers";
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { availableCores, MAX_THREADS, parseThreads, setupWasm } from "../src/index.js";

const PACKAGE_DIR = resolve(import.meta.dirname, "..");

describe("thread counts", () => {
  it("all cores by default: availableParallelism, lowered to a cgroup quota, never 0", () => {
    const { count, how } = availableCores();
    expect(count).toBeGreaterThanOrEqual(1);
    expect(count).toBeLessThanOrEqual(availableParallelism());
    expect(how).toMatch(/availableParallelism|cgroup/);
  });

  it.each(["0", "abc", "-2", "1.5", ""])("refuses %j, naming the source and what to give", (text) => {
    expect(() => parseThreads(text, "--threads")).toThrow(
      /^--threads: .* is not a thread count; give a whole number from 1 to 8/,
    );
  });

  it("takes whole numbers as they are (setupWasm lowers those above MAX_THREADS)", () => {
    expect(parseThreads(" 2 ", "CONVNETS_THREADS")).toBe(2);
    expect(parseThreads("64", "--threads")).toBe(64);
  });
});

describe("setupWasm", () => {
  it("64 threads: lowered to 8 with a one-line note, and the description states what runs", async () => {
    const engine = await setupWasm({ threads: 64 });
    expect(engine.notes).toEqual([
      `64 threads asked; the wasm engine runs at most ${MAX_THREADS}: using ${MAX_THREADS}`,
    ]);
    expect(engine.threads).toBe(MAX_THREADS);
    expect(engine.description).toBe(`wasm (simd, ${MAX_THREADS} threads)`);
    expect(tf.getBackend()).toBe("wasm");
    expect(tf.sum(tf.range(0, 100)).dataSync()[0]).toBe(4950);
  });

  it("back to 1 thread: tfjs's single-threaded build, the kernels still registered", async () => {
    const engine = await setupWasm({ threads: 1 });
    expect(engine).toMatchObject({ threads: 1, description: "wasm (simd, 1 thread)", notes: [] });
    expect(engine.addedKernels).toContain("Conv2DBackpropFilter");
    expect(tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, 2]))).arraySync()).toEqual([
      2, 4,
    ]);
  });

  it("a pthread worker that cannot start: falls back to 1 thread, the note names the worker, no hang", async () => {
    const engine = await setupWasm({
      threads: 2,
      threadedModule: { workerScript: "/nonexistent/worker.cjs", startTimeoutMs: 20_000 },
    });
    expect(engine.threads).toBe(1);
    expect(engine.notes).toHaveLength(1);
    expect(engine.notes[0]).toMatch(
      /^the threaded wasm build did not start \(wasm pthread worker \d \(\/nonexistent\/worker.cjs\).*\): running on 1 thread$/,
    );
    expect(tf.sum(tf.range(0, 10)).dataSync()[0]).toBe(45);
  });

  it("an impossible count given directly is an error", async () => {
    await expect(setupWasm({ threads: 0 })).rejects.toThrow(/threads: 0 is not a whole number ≥ 1/);
  });
});

describe("a program on the threaded build", () => {
  /** Runs `code` (an ES module using this package's build) in a fresh node process. */
  const runNode = (code: string) =>
    spawnSync(process.execPath, ["--input-type=module", "-e", code], {
      cwd: PACKAGE_DIR,
      encoding: "utf8",
      timeout: 60_000,
    });
  const setup = `import { setupWasm } from "./dist/index.js"; const e = await setupWasm({ threads: 2 });`;

  it("exits by itself when its work is done: the idle pool's workers do not hold it", () => {
    const result = runNode(`${setup} console.log(e.description);`);
    expect(result.signal).toBeNull(); // not killed by the timeout
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe("wasm (simd, 2 threads)");
  });

  it("crashes on an uncaught error with that error alone, not the glue's 100 kB line", () => {
    const result = runNode(`${setup} throw new Error("the user's own bug");`);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("the user's own bug");
    expect(result.stderr.length).toBeLessThan(5_000);
  });
});
