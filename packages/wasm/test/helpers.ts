import * as tf from "@tensorflow/tfjs-core";
import { expect } from "vitest";
import { setupWasm, type WasmEngine } from "../src/index.js";

/**
 * Threads the wasm backend runs on in this test file: vitest.config.ts runs every file twice, once per
 * project ("1 thread" and "N threads"), setting CONVNETS_TEST_THREADS.
 */
export const TEST_THREADS = Number(process.env.CONVNETS_TEST_THREADS ?? 1);

/** Starts wasm at TEST_THREADS and fails loudly if that many do not run. */
export async function setupTestWasm(): Promise<WasmEngine> {
  const engine = await setupWasm({ threads: TEST_THREADS });
  if (engine.threads !== TEST_THREADS) {
    throw new Error(
      `wasm runs ${engine.threads} threads, the test asked for ${TEST_THREADS}: ${engine.notes.join("; ")}`,
    );
  }
  return engine;
}

/**
 * Starts the pure-JS cpu backend without its advice to install tfjs-node, then wasm at TEST_THREADS: for
 * files that compare the two (they import "@tensorflow/tfjs-backend-cpu" themselves).
 */
export async function setupCpuAndTestWasm(): Promise<WasmEngine> {
  await tf.setBackend("cpu");
  (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return setupTestWasm();
}

/**
 * Runs `compute` on a backend and returns its result as plain numbers. Checks that nothing leaked: the
 * kernels' temporaries live below the engine (backend data ids), so both counts are compared.
 */
export async function on(backend: "cpu" | "wasm", compute: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const tensors = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  const results = tf.tidy(compute);
  const list = Array.isArray(results) ? results : [results];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  expect(tf.memory().numTensors).toBe(tensors);
  expect(tf.backend().numDataIds()).toBe(dataIds);
  return values;
}

/** mulberry32: deterministic uniform numbers in [0, 1) from a seed (the generator of @convnets/core's shuffles). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
