/**
 * ReluGrad (src/kernels/relu_grad.ts) on wasm, SIMD and JavaScript loops, against tfjs's Step then
 * Multiply on the pure-JS cpu backend: the same bits (Object.is on every element, so −0 and NaN count);
 * at 1 thread and at N (vitest.config.ts).
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { WASM_TRAINING_KERNELS } from "../src/kernels/index.js";
import { RELU_GRAD } from "../src/kernels/relu_grad.js";
import { wasmSimd } from "../src/kernels/wasm_simd.js";
import { on, seededRandom, setupCpuAndTestWasm } from "./helpers.js";

beforeAll(async () => {
  await setupCpuAndTestWasm();
});

afterEach(() => {
  wasmSimd.enabled = true;
});

/** Every kind of float32 Step and Multiply treat apart: signed zeros, a denormal, infinities, NaN. */
const SPECIAL = [0, -0, 1e-45, -1e-45, 1, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN];

/**
 * dy and y of `n` elements: every (dy, y) pair of SPECIAL first (as many as fit), then uniform values in
 * [-1, 1). At n = 81 the last pair falls to the JavaScript tail of the SIMD path.
 */
function operands(n: number, seed: number): { dy: Float32Array; y: Float32Array } {
  const next = seededRandom(seed);
  const pairs = SPECIAL.length ** 2;
  const pick = (i: number, special: (i: number) => number) => (i < pairs ? special(i) : next() * 2 - 1);
  return {
    dy: Float32Array.from({ length: n }, (_, i) => pick(i, (i) => SPECIAL[Math.floor(i / SPECIAL.length)] as number)),
    y: Float32Array.from({ length: n }, (_, i) => pick(i, (i) => SPECIAL[i % SPECIAL.length] as number)),
  };
}

/** Object.is on every element: +0 and −0 differ, NaN equals NaN. */
function expectSameBits(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const differing = Array.from(expected.keys()).filter((i) => !Object.is(actual[i], expected[i]));
  expect(differing.map((i) => [i, actual[i], expected[i]])).toEqual([]);
}

describe("ReluGrad", () => {
  it("is registered as a fused kernel", () => {
    expect(WASM_TRAINING_KERNELS).toContainEqual({ name: RELU_GRAD, reason: "fused" });
    expect(tf.getKernel(RELU_GRAD, "wasm")).toBeDefined();
  });

  const shapes = [[1], [3], [4], [7], [81], [2, 5, 9], [3, 9, 8, 6], [16, 7, 7, 32]].map((shape) => ({ shape }));
  for (const simd of [true, false]) {
    it.each(shapes)(
      `gives Step then Multiply's bits on $shape (${simd ? "SIMD" : "JavaScript"} loop)`,
      async ({ shape }) => {
        const { dy, y } = operands(
          shape.reduce((a, b) => a * b, 1),
          shape.length * 97 + shape[0]!,
        );
        const expected = (await on("cpu", () => tf.mul(tf.tensor(dy, shape), tf.step(tf.tensor(y, shape)))))[0]!;
        wasmSimd.enabled = simd;
        const actual = (
          await on(
            "wasm",
            () => tf.engine().runKernel(RELU_GRAD, { dy: tf.tensor(dy, shape), y: tf.tensor(y, shape) }) as tf.Tensor,
          )
        )[0]!;
        expectSameBits(actual, expected);
        if (expected.length >= SPECIAL.length ** 2) {
          // Where the specials are in: −0 and NaN are among the bits compared.
          expect(expected.some((v) => Object.is(v, -0)) && expected.some(Number.isNaN)).toBe(true);
        }
      },
    );
  }

  it("names both operands when their shapes or dtypes differ", async () => {
    await tf.setBackend("wasm");
    const dy = tf.zeros([2, 3]);
    expect(() => tf.engine().runKernel(RELU_GRAD, { dy, y: tf.zeros([3, 2]) })).toThrow(
      "ReluGrad on wasm: dy [2,3] and y [3,2] must have the same shape",
    );
    expect(() => tf.engine().runKernel(RELU_GRAD, { dy, y: tf.zeros([2, 3], "int32") })).toThrow(
      "ReluGrad on wasm: dy is float32 and y is int32; both must be float32",
    );
  });
});
