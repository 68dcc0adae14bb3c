import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { batches, ENGINE_PREFERENCES, type ImageSet, type ModelSpec, TrainStep } from "@convnets/core";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { loadData, startEngine, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { formatBytes, formatInt, formatTable, timestamp } from "../format.js";
import { median } from "../median.js";
import { intOption, parseCommandArgs, stringOption } from "../options.js";
import { findModel, specOf } from "../registry.js";
import { displayPath } from "../run-dir.js";
import { listModels } from "./list.js";

export const BENCH_HELP = `convnets bench [models…] [options]

Training and inference speed (examples/sec, median over timed batches after a warm-up one)
and peak tensor memory of each model on each engine, as a table and as JSON.

  --backend LIST     engines, comma-separated, e.g. webgpu,wasm (default: the one auto picks)
  --threads LIST     wasm thread counts, comma-separated, e.g. 1,2 (default: CONVNETS_THREADS, else every core)
  --batch-size N     examples per batch (default: each model's recipe)
  --input-size N     input side (default: each model's recipe)
  --batches N        timed batches per measurement (default 3)
  --out FILE         where to write the JSON (default runs/bench-<timestamp>.json)
  --json             print the JSON instead of the table
  --data-dir DIR     Fashion-MNIST's directory`;

export interface BenchResult {
  model: string;
  engine: string;
  inputSize: number;
  batchSize: number;
  trainableParams: number;
  train: { examplesPerSec: number; batchSeconds: number[]; peakBytes: number };
  inference: { examplesPerSec: number; batchSeconds: number[]; peakBytes: number };
}

/** One batch of real images, converted once and reused, so the timings measure the network only. */
function firstBatch(set: ImageSet, batchSize: number, inputSize: number): { xs: tf.Tensor4D; labels: tf.Tensor1D } {
  const generator = batches(set, { batchSize, inputSize });
  const { value } = generator.next();
  generator.return(undefined);
  return { xs: value!.xs, labels: value!.labels };
}

async function benchModel(
  spec: ModelSpec,
  engine: string,
  train: ImageSet,
  options: { batchSize?: number; inputSize?: number; timed: number },
): Promise<BenchResult> {
  const inputSize = options.inputSize ?? spec.defaults.inputSize;
  const batchSize = options.batchSize ?? spec.defaults.batchSize;
  const model: LayersModel = spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });
  const { xs, labels } = firstBatch(train, batchSize, inputSize);
  const size = xs.shape[0];
  const trainStep = new TrainStep(model, spec.defaults.lr);
  const step = async () => {
    const { loss, correct } = trainStep.run(xs, labels);
    await loss.data();
    tf.dispose([loss, correct]);
  };
  const infer = async () => {
    const predicted = tf.tidy(() => tf.argMax(model.predict(xs) as tf.Tensor, 1));
    await predicted.data();
    predicted.dispose();
  };
  const time = async (fn: () => Promise<void>) => {
    await fn(); // warm-up: kernel setup, first allocations
    const seconds: number[] = [];
    for (let i = 0; i < options.timed; i++) {
      const start = performance.now();
      await fn();
      seconds.push((performance.now() - start) / 1000);
    }
    return seconds;
  };
  try {
    const trainSeconds = await time(step);
    const trainPeak = (await tf.profile(step)).peakBytes;
    const inferSeconds = await time(infer);
    const inferPeak = (await tf.profile(infer)).peakBytes;
    return {
      model: spec.name,
      engine,
      inputSize,
      batchSize: size,
      trainableParams: model.countParams(),
      train: { examplesPerSec: size / median(trainSeconds), batchSeconds: trainSeconds, peakBytes: trainPeak },
      inference: { examplesPerSec: size / median(inferSeconds), batchSeconds: inferSeconds, peakBytes: inferPeak },
    };
  } finally {
    tf.dispose([xs, labels]);
    trainStep.dispose();
    model.dispose();
  }
}

export async function benchCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("bench", argv, {
    backend: { type: "string" },
    threads: { type: "string" },
    "batch-size": { type: "string" },
    "input-size": { type: "string" },
    batches: { type: "string" },
    out: { type: "string" },
    json: { type: "boolean" },
    "data-dir": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    println(ctx.stdout, BENCH_HELP);
    return EXIT.ok;
  }
  const batchSize = intOption("batch-size", values["batch-size"], 1, "examples per batch, e.g. 64");
  const inputSize = intOption("input-size", values["input-size"], 1, "the side images are resized to, e.g. 28");
  const timed = intOption("batches", values.batches, 1, "how many batches to time, e.g. 3") ?? 3;
  // Without --backend: the engine setupEngine picks (CONVNETS_BACKEND, else auto).
  const engines: (string | undefined)[] = stringOption(values.backend)
    ?.split(",")
    .map((e) => e.trim()) ?? [undefined];
  for (const e of engines) {
    if (e === undefined) continue;
    if (!(ENGINE_PREFERENCES as readonly string[]).includes(e)) {
      throw new UsageError(
        `--backend ${e}: unknown engine; use one or more of ${ENGINE_PREFERENCES.join(", ")}, comma-separated`,
      );
    }
  }
  // Without --threads: the engine's default (CONVNETS_THREADS, else every core). Other engines than wasm ignore it.
  const threadCounts: (number | undefined)[] = stringOption(values.threads)
    ?.split(",")
    .map((t) => threadsOption(t)) ?? [undefined];
  const names =
    positionals.length > 0 ? positionals : (await listModels(ctx.cwd)).filter((m) => m.installed).map((m) => m.name);
  if (names.length === 0)
    throw new UsageError("bench: no networks installed; add one, e.g. npm install @convnets/lenet");
  const found = [];
  for (const name of names) {
    const model = await findModel(name, ctx.cwd);
    if (model.spec && inputSize !== undefined && inputSize < model.spec.minInputSize) {
      throw new UsageError(
        `--input-size ${inputSize}: ${model.spec.name} needs images of at least ${model.spec.minInputSize}×${model.spec.minInputSize}`,
      );
    }
    found.push(model);
  }
  const data = await loadData({ limit: Math.max(batchSize ?? 256, 256), dataDir: stringOption(values["data-dir"]) });

  const results: BenchResult[] = [];
  for (const preference of engines) {
    for (const threads of threadCounts) {
      const engine = await startEngine(preference, { threads, notes: ctx.stderr });
      for (const model of found) {
        const spec = specOf(model);
        if (!values.json) ctx.stderr.write(`benchmarking ${spec.name} on ${engine.description}…\n`);
        results.push(await benchModel(spec, engine.description, data.train, { batchSize, inputSize, timed }));
      }
      if (engine.backend !== "wasm") break;
    }
  }
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    timedBatches: timed,
    results,
  };
  const path = resolve(ctx.cwd, stringOption(values.out) ?? join("runs", `bench-${timestamp()}.json`));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  if (values.json) {
    println(ctx.stdout, JSON.stringify(report, null, 2));
    return EXIT.ok;
  }
  println(
    ctx.stdout,
    formatTable(
      ["model", "engine", "input", "batch", "train ex/s", "infer ex/s", "train peak", "infer peak"],
      results.map((r) => [
        r.model,
        r.engine,
        `${r.inputSize}×${r.inputSize}`,
        String(r.batchSize),
        formatInt(r.train.examplesPerSec),
        formatInt(r.inference.examplesPerSec),
        formatBytes(r.train.peakBytes),
        formatBytes(r.inference.peakBytes),
      ]),
      ["left", "left", "right", "right", "right", "right", "right", "right"],
    ),
  );
  println(
    ctx.stdout,
    `median of ${timed} batches after one warm-up; peak = tensor memory tfjs tracked during one batch`,
  );
  println(ctx.stdout, `JSON: ${displayPath(path, ctx.cwd)}`);
  return EXIT.ok;
}
