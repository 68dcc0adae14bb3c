import { webgpuUnavailable } from "../src/webgpu.js";

/**
 * Why the webgpu tests skip on this machine, or undefined where they run: wherever Dawn finds an adapter (on
 * CI, the software one `scripts/prepare-test-machine.sh`, which `pnpm test` runs first installs). A machine without one (no GPU, no Vulkan driver)
 * skips them and says why, once; so does `CONVNETS_SKIP_WEBGPU=1`.
 */
export const WEBGPU_SKIP_REASON: string | undefined =
  process.env.CONVNETS_SKIP_WEBGPU === "1" ? "CONVNETS_SKIP_WEBGPU=1" : await webgpuUnavailable();
if (WEBGPU_SKIP_REASON) console.warn(`webgpu tests skipped: ${WEBGPU_SKIP_REASON}`);
export const SKIP_WEBGPU = WEBGPU_SKIP_REASON !== undefined;

/** Deterministic values in [-1, 1) (a linear congruential generator: the same data on every backend). */
export function randomValues(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** max_i |actual_i − expected_i| / max_i |expected_i|: the largest difference, scaled by the largest reference value. */
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
