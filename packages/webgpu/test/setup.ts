/**
 * Starts tfjs's webgpu backend in Node on Dawn (the `webgpu` package), as the README shows, with our kernels
 * registered. Where Dawn finds no adapter (no GPU and no software Vulkan driver such as lavapipe) the tests
 * skip, saying why: whether a machine has an adapter is not what they test.
 */
import "@tensorflow/tfjs-backend-cpu";
// tfjs-layers' node bundle registers tfjs-core's gradient functions (tfjs-core alone registers none).
import "@tensorflow/tfjs-layers";
import * as tf from "@tensorflow/tfjs-core";
import { registerWebgpuTrainingKernels } from "../src/index.js";

export type Webgpu = { ok: true; adapter: string } | { ok: false; reason: string };

let started: Promise<Webgpu> | undefined;

async function start(): Promise<Webgpu> {
  let dawn: typeof import("webgpu");
  try {
    dawn = await import("webgpu");
  } catch (err) {
    return { ok: false, reason: `Dawn (the webgpu package) did not load: ${(err as Error).message.split("\n")[0]}` };
  }
  Object.assign(globalThis, dawn.globals);
  const backend = process.env.CONVNETS_DAWN_BACKEND;
  const gpu = dawn.create(backend ? [`backend=${backend}`] : []);
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { ok: false, reason: `Dawn found no GPU adapter (${backend ?? "its default backend"})` };
  Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  await import("@tensorflow/tfjs-backend-webgpu");
  registerWebgpuTrainingKernels();
  if (!(await tf.setBackend("webgpu")))
    return { ok: false, reason: `tfjs's webgpu backend did not start on ${adapter.info.description}` };
  return { ok: true, adapter: adapter.info.description || adapter.info.device };
}

/** The webgpu backend, started once per test file; with no adapter, why not (printed once). */
export async function webgpu(): Promise<Webgpu> {
  started ??= start().then((result) => {
    if (!result.ok) console.warn(`webgpu tests skipped: ${result.reason}`);
    return result;
  });
  return started;
}

/** Runs `compute` (inside a tidy) on a backend and reads its results asynchronously, the only way webgpu allows. */
export async function on(backend: "cpu" | "webgpu", compute: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`);
  if (backend === "cpu") (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  const results = tf.tidy(compute);
  const list = Array.isArray(results) ? results : [results];
  const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
  tf.dispose(list);
  return values;
}

/** Deterministic values in [lo, hi) (a linear congruential generator: the same data on every backend). */
export function randomValues(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}

/** max_i |actual_i − expected_i| / max_i |expected_i|. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`lengths differ: ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  if (scale === 0) throw new Error("the reference is all zeros: nothing to compare");
  return diff / scale;
}
