/**
 * The book's from-scratch `batch_norm` (d2l §8.5) in plain float64 JavaScript, written independently of tfjs,
 * on channels-last data flattened to [rows, features] (for images rows = batch·height·width).
 */
export interface BatchStats {
  mean: number[];
  variance: number[];
}

export function batchStatistics(x: ArrayLike<number>, features: number): BatchStats {
  const rows = x.length / features;
  const mean = new Array<number>(features).fill(0);
  const variance = new Array<number>(features).fill(0);
  for (let i = 0; i < x.length; i++) mean[i % features]! += x[i]! / rows;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - mean[i % features]!;
    variance[i % features]! += (d * d) / rows; // biased: mean of squared deviations
  }
  return { mean, variance };
}

export function normalise(
  x: ArrayLike<number>,
  stats: BatchStats,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
): number[] {
  const features = stats.mean.length;
  return Array.from(x, (v, i) => {
    const c = i % features;
    return (gamma[c]! * (v - stats.mean[c]!)) / Math.sqrt(stats.variance[c]! + eps) + beta[c]!;
  });
}

export function movingUpdate(moving: number[], batch: number[], momentum: number): number[] {
  return moving.map((m, i) => momentum * m + (1 - momentum) * batch[i]!);
}

/** Largest absolute difference between two equally long arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

/** Deterministic pseudo-random numbers (mulberry32) so failures reproduce. */
export function randomArray(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    out[i] = offset + scale * (2 * u - 1);
  }
  return out;
}
