import { resolve } from "node:path";
import {
  ENGINE_PREFERENCES,
  type EngineInfo,
  type FashionMnist,
  type ImageSet,
  loadFashionMnist,
  setupEngine,
  takeImages,
} from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { type OutputStream, println, UsageError } from "./context.js";
import { FileProblem } from "./file-errors.js";
import { intOption } from "./options.js";
import { findSource } from "./registry.js";
import { loadRunModel, type RunRecord, readRun, writeFileAtomic } from "./run-dir.js";

/** Checks `--backend` before any work (setupEngine would only fail after imports). */
export function checkBackend(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!(ENGINE_PREFERENCES as readonly string[]).includes(value)) {
    throw new UsageError(`--backend ${value}: unknown engine; use one of ${ENGINE_PREFERENCES.join(", ")}`);
  }
  return value;
}

/** The help line of `--threads`, the same in every command that starts an engine. */
export const THREADS_HELP =
  "  --threads N       wasm engine threads, 1 to 8 (default: CONVNETS_THREADS, else every core)";

/** Checks `--threads` before any work: a whole number ≥ 1 (more than 8 is lowered with a note when the engine starts). */
export function threadsOption(value: unknown): number | undefined {
  return intOption(
    "threads",
    value,
    1,
    "1 to 8 threads for the wasm engine, 1 = single-threaded; leave it out for every core",
  );
}

/**
 * Starts the engine (`backend`, `threads` as given, else the environment's, else auto and every core) and
 * writes its notes (a thread count lowered, the threaded build unable to start) to `notes`, one line each.
 */
export async function startEngine(
  backend: string | undefined,
  options: { threads?: number; notes?: OutputStream } = {},
): Promise<EngineInfo> {
  let engine: EngineInfo;
  try {
    engine = await setupEngine(backend, { threads: options.threads });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (options.notes) for (const note of engine.notes ?? []) println(options.notes, `note: ${note}`);
  return engine;
}

export interface Data {
  train: ImageSet;
  test: ImageSet;
  classNames: readonly string[];
  dir: string;
}

/** Fashion-MNIST, cut to the first `limit` training and test images when asked. */
export async function loadData(options: { limit?: number; dataDir?: string }): Promise<Data> {
  let data: FashionMnist;
  try {
    data = await loadFashionMnist(options.dataDir ? { dir: options.dataDir } : {});
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { limit } = options;
  return {
    train: limit ? takeImages(data.train, limit) : data.train,
    test: limit ? takeImages(data.test, limit) : data.test,
    classNames: data.classNames,
    dir: data.dir,
  };
}

/**
 * The trainer feeds softmax cross-entropy with the model's output, so the model must output one logit
 * per class. A model ending in softmax would train badly without any error: say so.
 */
export function checkLogits(model: LayersModel, name: string, numClasses: number): string | undefined {
  const out = model.outputs[0]!.shape;
  if (out.length !== 2 || out[1] !== numClasses) {
    throw new UsageError(
      `${name}: the model's output has shape [${out.map((d) => d ?? "batch").join(", ")}]; Fashion-MNIST needs [batch, ${numClasses}] (one logit per class)`,
    );
  }
  const last = model.layers[model.layers.length - 1]!;
  const activation = (last.getConfig() as { activation?: string }).activation;
  if (activation === "softmax") {
    return `warning: ${name}'s last layer applies softmax; convnets trains on logits (softmax cross-entropy is applied for you), so remove the activation from the last layer`;
  }
  return undefined;
}

/** A trained run, ready to evaluate: its record, its network's package imported, its model loaded. */
export interface OpenedRun {
  dir: string;
  run: RunRecord;
  model: LayersModel;
  /** Which saved model was loaded: `model` (final) or a checkpoint. */
  from: string;
  engine: EngineInfo;
}

export async function openRun(
  runArg: string | undefined,
  command: string,
  cwd: string,
  engineOptions: { backend?: string; threads?: number; notes?: OutputStream } = {},
): Promise<OpenedRun> {
  if (!runArg) throw new UsageError(`${command}: which run? e.g. convnets ${command} runs/lenet-20250101-120000`);
  const dir = resolve(cwd, runArg);
  const run = await readRun(dir);
  // Importing the model's package registers its custom layers (BatchNorm) before the model is loaded.
  await findSource(run.model.source, cwd);
  const engine = await startEngine(engineOptions.backend, engineOptions);
  const { model, from, epoch, note } = await loadRunModel(dir);
  if (note && engineOptions.notes) println(engineOptions.notes, note);
  return { dir, run, model, from: epoch !== undefined ? `checkpoint after epoch ${epoch}` : from, engine };
}

/**
 * Writes a command's result file (eval.json, a picture) after its results were printed. A place that cannot be
 * written (a read-only, full or foreign run) is not a failure of the command: a note says what was not saved
 * and how to save it elsewhere, and the result is false. Other errors are thrown.
 */
export async function saveResult(
  path: string,
  ctx: { stderr: OutputStream; cwd: string },
  elsewhere: string,
  content: string | Uint8Array | object,
): Promise<boolean> {
  const data =
    typeof content === "string" || content instanceof Uint8Array ? content : `${JSON.stringify(content, null, 2)}\n`;
  try {
    await writeFileAtomic(path, data);
    return true;
  } catch (err) {
    if (!(err instanceof FileProblem) || !err.unwritable) throw err;
    println(
      ctx.stderr,
      `note: not saved: ${err.message.replace(/; [^;]*$/, "")}; the results above are complete (${elsewhere})`,
    );
    return false;
  }
}
