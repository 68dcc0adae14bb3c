/**
 * One training step on webgpu, kernel by kernel: GPU time per kernel from timestamp queries (tfjs's
 * `tf.profile` times each program in a compute pass of its own with `timestampWrites`, where the device has
 * `timestamp-query`), its share of the step's GPU time, and for convolutions and matrix products the achieved
 * FLOP/s; with what the host asks of Dawn per step (dispatches, submits, buffers created, bytes read back) and
 * the step's time. On Dawn's null adapter (CONVNETS_DAWN_BACKEND=null) no GPU work runs: the step's time is
 * the host's, and there are no kernel times.
 */
import { batches, loadFashionMnist, setupEngine, TrainStep, takeImages } from "@convnets/core";
import { formatTable } from "@convnets/trainer";
import * as tf from "@tensorflow/tfjs-core";
import { countDawnCalls, type DawnCounts, installDawnCounters } from "./dawn-counters.js";
import { kernelFlops } from "./flops.js";
import { findRow } from "./networks.js";

export interface ProfileOptions {
  network: string;
  batchSize?: number;
  inputSize?: number;
  /** Plain steps timed (median) and counted, after the warm-up. */
  steps?: number;
  /** Steps run under tf.profile for the kernel times (averaged). */
  profileSteps?: number;
  warmup?: number;
  dataDir?: string;
}

/** A kernel's calls and GPU time in one step (averaged over the profiled steps). */
export interface KernelRow {
  kernel: string;
  calls: number;
  gpuMs: number;
  /** FLOPs per step; convolutions and matrix products only. */
  flops?: number;
}

/** One distinct call (kernel and shapes) in one step. */
export interface CallRow extends KernelRow {
  shapes: string;
  /** The webgpu programs the kernel ran (tfjs's class names, e.g. Conv2DMMProgram), from tf.profile's extra info. */
  programs: string;
}

export interface WebgpuProfile {
  network: string;
  inputSize: number;
  batchSize: number;
  engine: string;
  /** Dawn's null adapter: no GPU work, the step time is the host's. */
  nullAdapter: boolean;
  /** Whether kernel times come from timestamp queries (else they are all 0). */
  timestamps: boolean;
  steps: number;
  profileSteps: number;
  /** Wall time of each plain step, issue to the loss read back, ms. */
  stepMs: number[];
  /** Of each plain step, the time until step.run() returned (the host recording and submitting), ms. */
  recordMs: number[];
  medianStepMs: number;
  medianRecordMs: number;
  /** Per step (over the plain steps). */
  counts: DawnCounts;
  kernelCalls: number;
  gpuMs: number;
  kernels: KernelRow[];
  calls: CallRow[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Sets up webgpu (with Dawn's timestamp quantization off, unless CONVNETS_DAWN_FLAGS says otherwise), builds
 * the network, and profiles its training step on the first batch of Fashion-MNIST.
 */
export async function profileWebgpuStep(options: ProfileOptions): Promise<WebgpuProfile> {
  process.env.CONVNETS_DAWN_FLAGS ??= "disable-dawn-features=timestamp_quantization";
  const row = findRow(options.network);
  const batchSize = options.batchSize ?? row.spec.defaults.batchSize; // the book's recipe
  const inputSize = options.inputSize ?? row.spec.defaults.inputSize;
  const steps = options.steps ?? 10;
  const profileSteps = options.profileSteps ?? 2;
  const engine = await setupEngine("webgpu");
  installDawnCounters();
  tf.env().set("CHECK_COMPUTATION_FOR_ERRORS", false); // else tf.profile reads every kernel's output back
  const backend = tf.backend() as unknown as { supportTimestampQuery?: boolean };
  const nullAdapter = /null/i.test(engine.description);
  const data = await loadFashionMnist({ dir: options.dataDir });
  const [batch] = [...batches(takeImages(data.train, batchSize), { batchSize, inputSize })];
  const { xs, labels } = batch!;
  const model = row.spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });
  const step = new TrainStep(model, row.spec.defaults.lr);
  let recorded = 0;
  const runStep = async () => {
    const start = performance.now();
    const { loss, correct } = step.run(xs, labels);
    recorded = performance.now() - start;
    await loss.data();
    tf.dispose([loss, correct]);
  };
  try {
    for (let i = 0; i < (options.warmup ?? 3); i++) await runStep(); // shaders compiled, buffers pooled
    const stepMs: number[] = [];
    const recordMs: number[] = [];
    const counts = await countDawnCalls(async () => {
      for (let i = 0; i < steps; i++) {
        const start = performance.now();
        await runStep();
        stepMs.push(performance.now() - start);
        recordMs.push(recorded);
      }
    });
    for (const key of Object.keys(counts) as (keyof DawnCounts)[]) counts[key] /= steps;

    // tf.profile also lists ops that wrap a custom gradient (fusedConv2d__op around FusedConv2D); their time is
    // their kernels' time, so only registered kernels are counted.
    const isKernel = (name: string) => tf.getKernel(name, tf.getBackend()) !== undefined;
    const byKernel = new Map<string, KernelRow>();
    const byCall = new Map<string, CallRow>();
    const add = <T extends KernelRow>(
      map: Map<string, T>,
      key: string,
      fresh: () => T,
      ms: number,
      flops: number | undefined,
    ) => {
      const entry = map.get(key) ?? fresh();
      entry.calls += 1;
      entry.gpuMs += ms;
      if (flops !== undefined) entry.flops = (entry.flops ?? 0) + flops;
      map.set(key, entry);
    };
    for (let i = 0; i < profileSteps; i++) {
      const info = await tf.profile(runStep);
      for (const k of info.kernels.filter((k) => isKernel(k.name))) {
        // The null adapter writes no timestamps (what it reads back is noise).
        const ms = !nullAdapter && typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0;
        const flops = kernelFlops(k.name, k.inputShapes, k.outputShapes);
        const shapes = `${k.inputShapes.map((s) => `[${s}]`).join(" ")} -> ${k.outputShapes.map((s) => `[${s}]`).join(" ")}`;
        add(byKernel, k.name, () => ({ kernel: k.name, calls: 0, gpuMs: 0 }), ms, flops);
        // tfjs's webgpu backend lists the kernel's programs as "Name: ms, Name: ms".
        const programs = [
          ...new Set(
            String(k.extraInfo ?? "")
              .split(", ")
              .map((p) => p.split(":")[0]!.trim())
              .filter(Boolean),
          ),
        ].join("+");
        add(byCall, `${k.name} ${shapes}`, () => ({ kernel: k.name, shapes, programs, calls: 0, gpuMs: 0 }), ms, flops);
      }
    }
    const perStep = <T extends KernelRow>(r: T): T => ({
      ...r,
      calls: r.calls / profileSteps,
      gpuMs: r.gpuMs / profileSteps,
      ...(r.flops !== undefined ? { flops: r.flops / profileSteps } : {}),
    });
    const kernels = [...byKernel.values()].map(perStep).sort((a, b) => b.gpuMs - a.gpuMs || b.calls - a.calls);
    const calls = [...byCall.values()].map(perStep).sort((a, b) => b.gpuMs - a.gpuMs || b.calls - a.calls);
    return {
      network: row.spec.name,
      inputSize,
      batchSize: xs.shape[0],
      engine: engine.description,
      nullAdapter,
      timestamps: !nullAdapter && backend.supportTimestampQuery === true,
      steps,
      profileSteps,
      stepMs,
      recordMs,
      medianStepMs: median(stepMs),
      medianRecordMs: median(recordMs),
      counts,
      kernelCalls: kernels.reduce((a, k) => a + k.calls, 0),
      gpuMs: kernels.reduce((a, k) => a + k.gpuMs, 0),
      kernels,
      calls,
    };
  } finally {
    tf.dispose([xs, labels]);
    step.dispose();
    model.dispose();
  }
}

const fixed = (x: number, digits: number) => (Number.isInteger(x) ? String(x) : x.toFixed(digits));
const rate = (flops: number | undefined, ms: number) =>
  flops === undefined || ms <= 0 ? "" : ((flops / ms) * 1e-9).toPrecision(3);
const bytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${fixed(n, 0)} B`;

/** The profile as text: a header, the per-kernel table, the host's counts, and (with `calls`) the slowest calls. */
export function formatProfile(p: WebgpuProfile, options: { calls?: number } = {}): string {
  const lines: string[] = [];
  lines.push(`${p.network} ${p.inputSize}×${p.inputSize}, batch ${p.batchSize}, ${p.engine}`);
  const timeLine = p.nullAdapter
    ? `host time per step on Dawn's null adapter (no GPU work): ${p.medianStepMs.toFixed(1)} ms (median of ${p.steps}; of it ${p.medianRecordMs.toFixed(1)} ms recording)`
    : `step ${p.medianStepMs.toFixed(1)} ms (median of ${p.steps}; ${((p.batchSize * 1000) / p.medianStepMs).toFixed(0)} examples/s), of it ${p.medianRecordMs.toFixed(1)} ms until step.run() returned (host recording)`;
  lines.push(timeLine);
  const c = p.counts;
  lines.push(
    `host, per step: ${fixed(c.dispatches, 1)} dispatches, ${fixed(c.submits, 1)} submits, ${fixed(c.buffersCreated, 1)} buffers created (${bytes(c.bytesCreated)}), ${fixed(c.uploads, 1)} uploads from the CPU (${bytes(c.bytesUploaded)}), ` +
      `${fixed(c.bindGroups, 1)} bind groups, ${fixed(c.pipelines, 1)} pipelines created, ${bytes(c.bytesWritten)} written by writeBuffer, ` +
      `${fixed(c.readBacks, 1)} read-backs (${bytes(c.bytesReadBack)}); ${fixed(p.kernelCalls, 1)} kernel calls`,
  );
  const gpuNote = p.nullAdapter
    ? "no GPU times on the null adapter"
    : p.timestamps
      ? `GPU time from timestamp queries: ${p.gpuMs.toFixed(2)} ms per step in kernels (${((100 * p.gpuMs) / p.medianStepMs).toFixed(0)}% of the step's wall time; each kernel timed in a pass of its own, averaged over ${p.profileSteps} profiled steps)`
      : "no GPU times: the device lacks timestamp-query";
  lines.push(gpuNote);
  const share = (ms: number) => (p.gpuMs > 0 ? `${((100 * ms) / p.gpuMs).toFixed(1)}%` : "");
  const table = (rows: KernelRow[], first: string, label: (r: KernelRow) => string) =>
    formatTable(
      [first, "calls/step", "GPU ms/step", "share", "µs/call", "GFLOP/step", "TFLOP/s"],
      rows.map((r) => [
        label(r),
        fixed(r.calls, 1),
        r.gpuMs.toFixed(3),
        share(r.gpuMs),
        r.calls > 0 ? ((1000 * r.gpuMs) / r.calls).toFixed(1) : "",
        r.flops !== undefined ? (r.flops * 1e-9).toFixed(2) : "",
        rate(r.flops, r.gpuMs),
      ]),
      ["left", "right", "right", "right", "right", "right", "right"],
    );
  const flops = p.kernels.reduce((a, k) => a + (k.flops ?? 0), 0);
  const flopMs = p.kernels.filter((k) => k.flops !== undefined).reduce((a, k) => a + k.gpuMs, 0);
  lines.push(
    table(
      [
        ...p.kernels,
        { kernel: "all kernels", calls: p.kernelCalls, gpuMs: p.gpuMs },
        {
          kernel: "convolutions and products",
          calls: p.kernels.filter((k) => k.flops !== undefined).reduce((a, k) => a + k.calls, 0),
          gpuMs: flopMs,
          flops,
        },
      ],
      "kernel",
      (r) => r.kernel,
    ),
  );
  if (options.calls) {
    lines.push(
      "",
      `the ${options.calls} slowest calls (kernel, input shapes -> output shape (tfjs's webgpu programs)):`,
    );
    lines.push(
      table(
        p.calls.slice(0, options.calls),
        "call",
        (r) => `${r.kernel} ${(r as CallRow).shapes}${(r as CallRow).programs ? ` (${(r as CallRow).programs})` : ""}`,
      ),
    );
  }
  return lines.join("\n");
}
