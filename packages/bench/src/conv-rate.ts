/**
 * How fast one convolution runs on each side: the ceiling the network benchmark (compare.ts) runs into.
 * For ResNet-18's 3×3 layers at 96×96 and LeNet's two, it times the forward convolution alone and
 * forward + dx + dW (one training step's worth of that layer) on wasm with convnets' kernels and in
 * PyTorch on one thread, and prints multiply-adds per second (GMAC/s: the forward's multiply-adds over
 * its time; a training step is about three times that work).
 *
 *   pnpm --filter @convnets/bench bench:conv-rate [--runs 5] [--python /usr/bin/python3]
 */
import { spawnSync } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { setupEngine } from "@convnets/core";
import { formatTable } from "@convnets/trainer";
import * as tf from "@tensorflow/tfjs-core";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "5" }, python: { type: "string", default: "/usr/bin/python3" } },
});
const runs = Number(values.runs);

/** [batch, size, in channels, out channels, kernel, stride], padding kernel // 2 ("same" at stride 1). */
type Case = [number, number, number, number, number, number];
const CASES: { title: string; shape: Case }[] = [
  { title: "LeNet conv1", shape: [256, 28, 1, 6, 5, 1] },
  { title: "ResNet-18 stage 1", shape: [32, 24, 64, 64, 3, 1] },
  { title: "ResNet-18 stage 2", shape: [32, 12, 128, 128, 3, 1] },
  { title: "ResNet-18 stage 3", shape: [32, 6, 256, 256, 3, 1] },
  { title: "ResNet-18 stage 4", shape: [32, 3, 512, 512, 3, 1] },
];

const engine = await setupEngine("wasm");

function medianMs(f: () => tf.Tensor | tf.Tensor[]): number {
  const once = () => {
    const start = performance.now();
    const out = f();
    for (const t of Array.isArray(out) ? out : [out]) t.dataSync();
    tf.dispose(out);
    return performance.now() - start;
  };
  once(); // warm-up
  const times = Array.from({ length: runs }, once).sort((a, b) => a - b);
  return times[Math.floor(runs / 2)]!;
}

function ours([n, size, cin, cout, k]: Case): { forwardMs: number; trainMs: number } {
  const x = tf.randomNormal([n, size, size, cin]) as tf.Tensor4D;
  const w = tf.randomNormal([k, k, cin, cout]) as tf.Tensor4D;
  const dy = tf.randomNormal([n, size, size, cout]) as tf.Tensor4D;
  const forwardMs = medianMs(() => tf.conv2d(x, w, 1, "same"));
  const trainMs = medianMs(() =>
    tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, "same"))([x, w], dy),
  );
  tf.dispose([x, w, dy]);
  return { forwardMs, trainMs };
}

const here = dirname(fileURLToPath(import.meta.url));
const torch = spawnSync(
  values.python,
  [join(here, "conv_rate.py"), JSON.stringify(CASES.map((c) => c.shape)), String(runs)],
  {
    encoding: "utf8",
  },
);
const torchRows =
  torch.status === 0
    ? torch.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { forwardMs: number; trainMs: number; torch: string })
    : [];
if (torch.status !== 0)
  console.error(`PyTorch side not run (${values.python}): ${torch.stderr.trim().split("\n").pop()}`);

const gmacs = ([n, size, cin, cout, k]: Case, ms: number) => (n * size * size * cin * cout * k * k) / ms / 1e6;
const rows = CASES.map(({ title, shape }, i) => {
  const o = ours(shape);
  const t = torchRows[i];
  const f = (ms?: number) => (ms === undefined ? "–" : `${ms.toFixed(1)} ms, ${gmacs(shape, ms).toFixed(1)} G`);
  return [
    title,
    `${shape[0]}×${shape[1]}²×${shape[2]}→${shape[3]}, ${shape[4]}×${shape[4]}`,
    f(o.forwardMs),
    f(t?.forwardMs),
    `${(o.trainMs).toFixed(1)} ms`,
    t ? `${t.trainMs.toFixed(1)} ms` : "–",
    t ? (t.trainMs / o.trainMs).toFixed(2) : "–",
  ];
});
console.log(
  formatTable(
    ["layer", "shape", "ours forward", "PyTorch forward", "ours fwd+dx+dW", "PyTorch fwd+dx+dW", "ours / PyTorch"],
    rows,
  ),
);
console.log(
  `ours: ${engine.description}; PyTorch ${torchRows[0]?.torch ?? "(not run)"}, 1 thread; ${cpus().length} × ${cpus()[0]?.model.trim()}; ` +
    `median of ${runs}; load average ${loadavg()[0]!.toFixed(2)}; G = 10⁹ multiply-adds per second (forward)`,
);
