/**
 * Micro-benchmark of training-mode batch normalisation on wasm: `@convnets/batchnorm`'s
 * batchNormTraining by its tfjs-ops path against its kernel path (BatchNormTrainingForward and
 * BatchNormTrainingBackward, src/kernels/batch_norm.ts), the kernels both with their WebAssembly SIMD
 * loops and with their JavaScript loops (the fallback without SIMD). Median milliseconds of the forward
 * alone and of forward + backward (tf.grads with a given dy: no loss ops), on LeNet-BN's and a
 * DenseNet-like shape; each path's outputs are checked against the op path first.
 *
 *   npx tsx bench/batch_norm.ts [--threads 1] [--runs 7] [--shapes 256x24x24x6,256x120]
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import "@tensorflow/tfjs-backend-wasm";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import { parseThreads, setupWasm } from "../src/index.js";
import { batchNormLimits } from "../src/kernels/batch_norm.js";
import { wasmSimd } from "../src/kernels/wasm_simd.js";

const { values } = parseArgs({
  options: {
    threads: { type: "string", default: "1" },
    runs: { type: "string", default: "7" },
    shapes: { type: "string", default: "256x24x24x6,256x8x8x16,256x120,256x84,128x24x24x128" },
    "block-bytes": { type: "string", default: String(batchNormLimits.blockBytes) },
  },
});
const runs = Number(values.runs);
const shapes = values.shapes.split(",").map((s) => s.split("x").map(Number));
batchNormLimits.blockBytes = Number(values["block-bytes"]);

// @convnets/batchnorm is not a dependency of this package (it is the other way round): its source, loaded by path.
const batchnormSource = "../../batchnorm/src/batchnorm.ts";
const { batchNormTraining, batchNormKernels } = (await import(batchnormSource)) as {
  batchNormTraining: (
    x: tf.Tensor,
    gamma: tf.Tensor,
    beta: tf.Tensor,
    axes: number[],
    epsilon: number,
  ) => { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor };
  batchNormKernels: { enabled: boolean };
};

const { description: engine } = await setupWasm({ threads: parseThreads(values.threads, "--threads") });
console.log(
  `engine: ${engine}; median of ${runs} runs after 2 warm-ups; block ${batchNormLimits.blockBytes} bytes; tfjs ${tf.version_core}; node ${process.version}; load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores\n`,
);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function random(n: number, seed: number, offset: number, scale: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = offset + scale * (s / 2 ** 31 - 1);
  }
  return out;
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / scale;
}

type Path = { name: string; kernels: boolean; simd: boolean };
const PATHS: Path[] = [
  { name: "ops", kernels: false, simd: true },
  { name: "kernels (SIMD)", kernels: true, simd: true },
  { name: "kernels (JS loops)", kernels: true, simd: false },
];

console.log("shape                  | " + PATHS.map((p) => `${p.name} fwd / fwd+bwd ms`).join(" | "));
for (const shape of shapes) {
  const channels = shape[shape.length - 1]!;
  const size = shape.reduce((a, b) => a * b, 1);
  const axes = shape.slice(0, -1).map((_, i) => i);
  const x = tf.tensor(random(size, 1, 3, 2), shape);
  const gamma = tf.tensor1d(random(channels, 2, 1, 0.5));
  const beta = tf.tensor1d(random(channels, 3, 0, 0.5));
  const dy = tf.tensor(random(size, 4, 0, 1), shape);
  const bn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => {
    const { y, mean, variance } = batchNormTraining(x, g, b, axes, 1e-5);
    tf.dispose([mean, variance]);
    return y;
  };
  const both = tf.grads((x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => bn(x, g, b));
  const time = (f: () => tf.Tensor[]): { ms: number; out: Float32Array[] } => {
    let out: Float32Array[] = [];
    const times: number[] = [];
    for (let r = 0; r < runs + 2; r++) {
      const start = performance.now();
      const results = f();
      results[results.length - 1]!.dataSync(); // wasm runs synchronously; this only reads back a small result
      const ms = performance.now() - start;
      if (r >= 2) times.push(ms);
      if (r === 0) out = results.map((t) => t.dataSync() as Float32Array);
      tf.dispose(results);
    }
    return { ms: median(times), out };
  };
  const cells: string[] = [];
  let reference: Float32Array[] | undefined;
  for (const path of PATHS) {
    batchNormKernels.enabled = path.kernels;
    wasmSimd.enabled = path.simd;
    const fwd = time(() => {
      const y = bn(x, gamma, beta);
      return [y, tf.slice(y, 0, 1)];
    });
    const fb = time(() => both([x, gamma, beta], dy));
    const outputs = [fwd.out[0]!, ...fb.out];
    if (!reference) reference = outputs;
    const error = Math.max(...outputs.map((o, i) => relativeError(o, reference![i]!)));
    cells.push(
      `${fwd.ms.toFixed(2).padStart(6)} / ${fb.ms.toFixed(2).padStart(6)}${error > 1e-4 ? ` (WRONG: ${error.toExponential(1)})` : ""}`,
    );
  }
  batchNormKernels.enabled = true;
  wasmSimd.enabled = true;
  console.log(`${JSON.stringify(shape).padEnd(22)} | ${cells.join(" | ")}`);
  tf.dispose([x, gamma, beta, dy]);
}
