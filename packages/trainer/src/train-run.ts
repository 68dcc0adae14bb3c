import { existsSync, renameSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import {
  type BatchProgress,
  DIVERGENCE_FACTOR,
  DivergedError,
  type EngineInfo,
  type EpochMetrics,
  FASHION_MNIST_CLASSES,
  type ModelSpec,
  type ModelSummary,
  type Recipe,
  summary,
  train,
} from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { bookCitation, bookSection } from "./book.js";
import { curvesSvg } from "./chart.js";
import { checkLogits, type Data, loadData, startEngine } from "./common.js";
import { EXIT, type OutputStream, println, UsageError } from "./context.js";
import { type Estimate, estimateRun } from "./estimate.js";
import { FileProblem } from "./file-errors.js";
import { formatDuration, formatInt } from "./format.js";
import { d2lLines, historyCsv } from "./history.js";
import { Progress } from "./progress.js";
import { type FoundModel, findModel, findSource, specOf } from "./registry.js";
import { reportMarkdown } from "./report.js";
import {
  type CheckpointRecord,
  checkNewRunDir,
  defaultRunBase,
  displayPath,
  loadCheckpointModel,
  RUN_FILES,
  type RunRecord,
  type RunStatus,
  readCheckpoint,
  readRun,
  type Session,
  saveCheckpoint,
  saveFinalModel,
  writeFileAtomic,
  writeJsonAtomic,
} from "./run-dir.js";
import { claimNewRunDir, claimRunDir, type RunClaim, removeLeftoversSync } from "./run-lock.js";
import { checkBuilt, checkSpec } from "./spec-check.js";

/** What to train: the options of `convnets train`, as a program gives them. */
export interface TrainRunOptions {
  /** A model name from `convnets list`, a module path (`./my-model.js`) or a package (`@you/net#spec`): a new run. */
  model?: string;
  /** Continue this run directory from its last checkpoint (its recipe is kept; `epochs` may raise the total). */
  resume?: string;
  /** The new run's directory. Default `runs/<model>-<timestamp>` under `cwd` (`-2`, `-3`… when taken). */
  out?: string;
  /**
   * With `out`: when it already holds a run, continue it instead of refusing (what a queue worker retrying a
   * job wants: the same call starts the run or resumes it from its last checkpoint).
   */
  resumeExisting?: boolean;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  inputSize?: number;
  /** Only the first N training and test images. */
  limit?: number;
  seed?: number;
  /** auto, tensorflow, webgpu, wasm or cpu. */
  backend?: string;
  threads?: number;
  /** Fashion-MNIST's directory (default: FASHION_MNIST_DIR, the cache, Debian's package). */
  dataDir?: string;
  /** Where relative paths and installed packages are resolved from. Default `process.cwd()`. */
  cwd?: string;
  /** Progress and results (default process.stdout) and notes and problems (default process.stderr). */
  stdout?: OutputStream;
  stderr?: OutputStream;
  /**
   * Stops the run after the current batch, as SIGINT does: the status is `interrupted`. A reason that is a
   * signal's name (`"SIGTERM"`) is recorded and gives the exit code 128 + its number.
   */
  signal?: AbortSignal;
  /**
   * Handle SIGINT, SIGTERM and SIGHUP in this process during the run (the `convnets` command does): the first
   * stops after the batch, a second quits at once, leaving a valid run. Default false.
   */
  handleSignals?: boolean;
  /** After each epoch, once its checkpoint and the run's files are written (e.g. a queue job's progress). */
  onEpoch?: (metrics: EpochMetrics, run: { dir: string; epochs: number }) => void | Promise<void>;
  /** After each batch. */
  onBatch?: (progress: BatchProgress) => void | Promise<void>;
}

/** How a run ended. Bad input (UsageError, exit code 2) is thrown instead, before anything is written. */
export interface TrainOutcome {
  status: Exclude<RunStatus, "running">;
  /** The run directory (absolute). */
  dir: string;
  /** Epochs done in all, checkpointed. */
  epochs: number;
  /** Metrics of every epoch done (a resumed run's earlier epochs included). */
  history: EpochMetrics[];
  /** Why the run stopped, when it did not complete (also in run.json). */
  message?: string;
  /** The engine it trained on. */
  engine?: string;
  /** What `convnets train` exits with: 0 complete, 1 diverged or failed, 130 interrupted (128 + the signal's number). */
  exitCode: number;
}

/** Everything a training session needs, decided before the engine starts or data loads. */
interface Plan {
  found: FoundModel;
  /** What is known before the model is built: undefined where a builder function's own defaults decide (specOf). */
  recipe: Partial<Recipe>;
  seed: number;
  limit?: number;
  /** The run directory; for a default new run, the first name tried (the claim picks the final one). */
  dir: string;
  /** True when no `out` was given: the directory's name is chosen by claimNewRunDir. */
  defaultDir: boolean;
  /** Set when resuming. */
  run?: RunRecord;
  checkpoint?: CheckpointRecord;
  /** Held from planning on for a resumed run; taken after the model is built for a new one. */
  claim?: RunClaim;
}

interface Io {
  stdout: OutputStream;
  stderr: OutputStream;
  cwd: string;
}

function refuseSmallInput(spec: ModelSpec, inputSize: number): void {
  if (inputSize < spec.minInputSize) {
    throw new UsageError(
      `--input-size ${inputSize}: ${spec.name} needs images of at least ${spec.minInputSize}×${spec.minInputSize}; ` +
        `use --input-size ${spec.minInputSize} or more (its recipe uses ${spec.defaults.inputSize})`,
    );
  }
}

function whereFrom(found: FoundModel): string {
  const { source } = found;
  if (source.kind === "module") return source.path;
  return source.kind === "package" ? source.specifier : `the model registry (${source.name})`;
}

async function planNewRun(options: TrainRunOptions, io: Io): Promise<Plan> {
  if (!options.model) {
    throw new UsageError("train: which model? e.g. convnets train lenet (convnets list shows the models installed)");
  }
  const found = await findModel(options.model, io.cwd);
  // A builder function's recipe is known only once it is built (after the engine starts).
  if (found.spec) checkSpec(found.spec, whereFrom(found));
  const defaults = found.spec?.defaults;
  const recipe: Partial<Recipe> = {
    epochs: options.epochs ?? defaults?.epochs,
    lr: options.lr ?? defaults?.lr,
    batchSize: options.batchSize ?? defaults?.batchSize,
    inputSize: options.inputSize ?? defaults?.inputSize,
  };
  if (found.spec) refuseSmallInput(found.spec, recipe.inputSize ?? found.spec.defaults.inputSize);
  const dir = options.out ? resolve(io.cwd, options.out) : defaultRunBase(io.cwd, found.name);
  if (options.out) await checkNewRunDir(dir);
  return { found, recipe, seed: options.seed ?? 0, limit: options.limit, dir, defaultDir: !options.out };
}

/** Claims the run, then reads it: two resumes of one run at once get one writer. */
async function planResume(options: TrainRunOptions, io: Io, dir: string): Promise<Plan> {
  await readRun(dir); // a clear error for a directory that is not a run, before claiming it
  const claim = await claimRunDir(dir, { mode: "existing" });
  try {
    for (const note of claim.notes) println(io.stderr, note);
    const run = await readRun(dir);
    if (options.model && options.model.toLowerCase() !== run.model.name && !options.model.includes("/")) {
      throw new UsageError(
        `--resume ${displayPath(dir, io.cwd)}: that run trains ${run.model.name}, not ${options.model}`,
      );
    }
    // Changing the recipe midway would make the history differ from an uninterrupted run's.
    const kept: [string, number | undefined, number | undefined][] = [
      ["lr", options.lr, run.recipe.lr],
      ["batch-size", options.batchSize, run.recipe.batchSize],
      ["input-size", options.inputSize, run.recipe.inputSize],
      ["seed", options.seed, run.seed],
      ["limit", options.limit, run.limit],
    ];
    for (const [name, given, recorded] of kept) {
      if (given !== undefined && given !== recorded) {
        throw new UsageError(
          `--${name} ${given}: this run was trained with ${name} ${recorded ?? "(all images)"}, and a resumed run keeps its recipe ` +
            "so that it ends as an uninterrupted run would. Start a new run to change it.",
        );
      }
    }
    const checkpoint = await readCheckpoint(dir);
    const done = checkpoint?.epoch ?? 0;
    const epochs = options.epochs ?? run.recipe.epochs;
    if (epochs < done) {
      throw new UsageError(`--epochs ${epochs}: this run already has ${done} epochs; give at least ${done}`);
    }
    const found = await findSource(run.model.source, io.cwd);
    if (found.spec) checkSpec(found.spec, whereFrom(found));
    return {
      found,
      recipe: { ...run.recipe, epochs },
      seed: run.seed,
      limit: run.limit,
      dir,
      defaultDir: false,
      run,
      checkpoint,
      claim,
    };
  } catch (err) {
    await claim.release();
    throw err;
  }
}

/** Writes history.json, history.csv, curves.svg and report.md (and run.json): after every epoch and at the end. */
async function writeRunFiles(dir: string, run: RunRecord, history: EpochMetrics[], cwd: string): Promise<void> {
  await writeJsonAtomic(join(dir, RUN_FILES.run), run);
  await writeJsonAtomic(join(dir, RUN_FILES.historyJson), history);
  await writeFileAtomic(join(dir, RUN_FILES.historyCsv), historyCsv(history));
  if (history.length > 0) {
    const title = `${run.model.title}: ${run.recipe.epochs} epochs, lr ${run.recipe.lr}, batch ${run.recipe.batchSize}, ${run.recipe.inputSize}×${run.recipe.inputSize}`;
    await writeFileAtomic(join(dir, RUN_FILES.curves), await curvesSvg(history, title));
  }
  await writeFileAtomic(join(dir, RUN_FILES.report), reportMarkdown(run, history, displayPath(dir, cwd)));
}

/**
 * A run "collapsed" when, after many steps, it is no better than chance: the loss stuck near ln(classes).
 * The book's own NiN and DenseNet builds sometimes end like that (test acc 0.100).
 */
export function collapsed(history: EpochMetrics[], stepsPerEpoch: number, numClasses: number): boolean {
  const last = history[history.length - 1];
  if (!last || history.length < 2 || history.length * stepsPerEpoch < 300) return false;
  return last.trainAcc < 2 / numClasses && Math.abs(last.loss - Math.log(numClasses)) < 0.1;
}

/**
 * The learning rate to suggest after a run diverged (or collapsed) at `lr`: the network's recipe lr when `lr`
 * was above it (that one is known to train), else a tenth of `lr` (learning rates are searched in powers of
 * ten; halving rarely turns a diverging run into a learning one).
 */
export function suggestLr(lr: number, recipeLr: number): { lr: number; why: string } {
  if (lr > recipeLr) return { lr: recipeLr, why: "the network's recipe" };
  return { lr: Number((lr / 10).toPrecision(1)), why: "a tenth of it" };
}

/** `2 × Intel(R) Xeon(R) …, Node v20.19.0`: goes with the timings in report.md. */
function hostDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}`;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type StopSignal = (typeof SIGNALS)[number];

/** 128 + the signal's number, as shells report a process a signal ended: 130, 143, 129. */
export function signalExitCode(signal: string | undefined): number {
  const number = signal ? os.constants.signals[signal as NodeJS.Signals] : undefined;
  return number ? 128 + number : EXIT.interrupted;
}

const signalOf = (reason: unknown): StopSignal | undefined =>
  typeof reason === "string" && (SIGNALS as readonly string[]).includes(reason) ? (reason as StopSignal) : undefined;

/**
 * The run being written: what a second signal needs to leave it valid at once, and what each step fills in.
 */
interface SessionState {
  io: Io;
  dir: string;
  shownDir: string;
  claim: RunClaim;
  run?: RunRecord;
  session?: Session;
  history: EpochMetrics[];
  /** Epochs whose checkpoint is complete on disk. */
  checkpointed: number;
  started: number;
}

/**
 * Stops the run on SIGINT, SIGTERM and SIGHUP: the first after the current batch (the abort), a second at once,
 * after writing run.json as interrupted, removing half-written files and the lock (the checkpoint is whole: it
 * is written atomically).
 */
function watchSignals(
  controller: AbortController,
  state: () => SessionState | undefined,
  io: Io,
  progress: () => Progress | undefined,
) {
  let first: StopSignal | undefined;
  const onSignal = (signal: StopSignal) => {
    if (first) {
      quitNow(state(), signal);
      return;
    }
    first = signal;
    progress()?.clearBar();
    const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
    println(
      io.stderr,
      `${signal === "SIGINT" ? "" : `${signal}: `}stopping after this batch (${again} to quit at once)…`,
    );
    controller.abort(signal);
  };
  const handlers = SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

function quitNow(state: SessionState | undefined, signal: StopSignal): never {
  const code = signalExitCode(signal);
  if (state) {
    const { run, session, dir } = state;
    if (run && session) {
      const message = `Stopped at once by a second ${signal}; the checkpoint of epoch ${state.checkpointed} is kept.`;
      Object.assign(session, {
        ended: new Date().toISOString(),
        toEpoch: state.checkpointed,
        seconds: (performance.now() - state.started) / 1000,
        status: "interrupted",
      });
      Object.assign(run, { status: "interrupted", message });
      const path = join(dir, RUN_FILES.run);
      // Its own temporary name: an atomic write of run.json may be under way on the thread pool, into
      // `run.json.<pid>.tmp`; writing that same file from here could tear it.
      const tmp = `${path}.${process.pid}.quit.tmp`;
      try {
        writeFileSync(tmp, `${JSON.stringify(run, null, 2)}\n`);
        renameSync(tmp, path);
      } catch {}
    }
    removeLeftoversSync(dir);
    state.claim.releaseSync();
    println(
      state.io.stderr,
      `stopped at once: ${state.checkpointed} epoch${state.checkpointed === 1 ? "" : "s"} done and checkpointed in ${state.shownDir}. Continue with: convnets train --resume ${state.shownDir}`,
    );
  }
  process.exit(code);
}

/**
 * Trains a network into a run directory, as `convnets train` does, and says how it ended. The directory is
 * claimed (claimRunDir) before the data loads and released at the end; bad input throws a UsageError (exit
 * code 2) before anything is written; another process writing the directory throws a RunDirBusyError.
 */
export async function trainRun(options: TrainRunOptions): Promise<TrainOutcome> {
  const io: Io = {
    stdout: options.stdout ?? process.stdout,
    stderr: options.stderr ?? process.stderr,
    cwd: options.cwd ?? process.cwd(),
  };
  const controller = new AbortController();
  const onExternalAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onExternalAbort);
  if (options.signal?.aborted) onExternalAbort();
  let state: SessionState | undefined;
  let progress: Progress | undefined;
  const unwatch = options.handleSignals
    ? watchSignals(
        controller,
        () => state,
        io,
        () => progress,
      )
    : () => {};
  let plan: Plan | undefined;
  // Whoever ends the process (a second signal, a caller's process.exit) leaves no lock behind.
  const onExit = () => plan?.claim?.releaseSync();
  process.on("exit", onExit);
  try {
    plan = await makePlan(options, io);
    const complete = alreadyComplete(plan, io);
    if (complete) return complete;
    const engine = await startEngine(options.backend, { threads: options.threads, notes: io.stderr });
    const spec = specOf(plan.found);
    const recipe = fullRecipe(plan, spec);
    const model = await prepareModel(plan, spec, recipe);
    try {
      plan.claim ??= await claimNew(plan);
      if (!plan.run) for (const note of plan.claim.notes) println(io.stderr, note);
      const data = await loadData({ limit: plan.limit, dataDir: options.dataDir });
      const session = { plan, spec, recipe, engine, data, model, controller, claim: plan.claim, io, options };
      return await runSession(
        session,
        (s) => {
          state = s;
        },
        (p) => {
          progress = p;
        },
      );
    } finally {
      model.dispose();
    }
  } finally {
    unwatch();
    process.off("exit", onExit);
    options.signal?.removeEventListener("abort", onExternalAbort);
    await plan?.claim?.release();
  }
}

async function makePlan(options: TrainRunOptions, io: Io): Promise<Plan> {
  if (options.resume) {
    if (options.out)
      throw new UsageError("--out cannot be used with --resume: a resumed run stays in its own directory");
    return planResume(options, io, resolve(io.cwd, options.resume));
  }
  if (options.resumeExisting && options.out) {
    const dir = resolve(io.cwd, options.out);
    if (existsSync(join(dir, RUN_FILES.run))) return planResume({ ...options, out: undefined }, io, dir);
  }
  return planNewRun(options, io);
}

/** A resumed run that has all its epochs: say so and change nothing. */
function alreadyComplete(plan: Plan, io: Io): TrainOutcome | undefined {
  const done = plan.checkpoint?.epoch ?? 0;
  if (plan.run?.status !== "complete" || plan.recipe.epochs !== done) return undefined;
  const shownDir = displayPath(plan.dir, io.cwd);
  println(
    io.stdout,
    `${shownDir} is already complete (${done} epochs); to train it longer: convnets train --resume ${shownDir} --epochs ${done + 5}`,
  );
  const engine = plan.run.sessions.at(-1)?.engine ?? "?";
  const [metrics, speed] = d2lLines(plan.checkpoint!.history, engine);
  println(io.stdout, metrics);
  println(io.stdout, speed);
  return {
    status: "complete",
    dir: plan.dir,
    epochs: done,
    history: plan.checkpoint!.history,
    engine,
    exitCode: EXIT.ok,
  };
}

/** The recipe with the spec's defaults filled in (a builder function's are known only now). */
function fullRecipe(plan: Plan, spec: ModelSpec): Recipe {
  if (!plan.found.spec) checkSpec(spec, whereFrom(plan.found));
  const recipe: Recipe = {
    epochs: plan.recipe.epochs ?? spec.defaults.epochs,
    lr: plan.recipe.lr ?? spec.defaults.lr,
    batchSize: plan.recipe.batchSize ?? spec.defaults.batchSize,
    inputSize: plan.recipe.inputSize ?? spec.defaults.inputSize,
  };
  refuseSmallInput(spec, recipe.inputSize);
  return recipe;
}

/** The checkpoint's model, or a new one from the spec, checked before anything is written. */
async function prepareModel(plan: Plan, spec: ModelSpec, recipe: Recipe): Promise<LayersModel> {
  if (plan.checkpoint) return loadCheckpointModel(plan.dir, plan.checkpoint);
  let built: unknown;
  try {
    built = spec.build({
      inputShape: [recipe.inputSize, recipe.inputSize, 1],
      numClasses: FASHION_MNIST_CLASSES.length,
    });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `${spec.name} cannot be built for ${recipe.inputSize}×${recipe.inputSize} input: ${(err as Error).message}`,
    );
  }
  const model = checkBuilt(built, spec.name, recipe.inputSize);
  try {
    checkLogits(model, spec.name, FASHION_MNIST_CLASSES.length);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

function claimNew(plan: Plan): Promise<RunClaim> {
  return plan.defaultDir ? claimNewRunDir(plan.dir) : claimRunDir(plan.dir, { mode: "new" });
}

interface SessionArgs {
  plan: Plan;
  spec: ModelSpec;
  recipe: Recipe;
  engine: EngineInfo;
  data: Data;
  model: LayersModel;
  controller: AbortController;
  claim: RunClaim;
  io: Io;
  options: TrainRunOptions;
}

/** One session of training on a claimed run directory, step by step. */
async function runSession(
  args: SessionArgs,
  publish: (state: SessionState) => void,
  publishProgress: (progress: Progress) => void,
): Promise<TrainOutcome> {
  const { plan, recipe, engine, data, model, controller, claim, io } = args;
  const dir = claim.dir;
  const state: SessionState = {
    io,
    dir,
    shownDir: displayPath(dir, io.cwd),
    claim,
    history: [...(plan.checkpoint?.history ?? [])],
    checkpointed: plan.checkpoint?.epoch ?? 0,
    started: performance.now(),
  };
  publish(state);
  const warning = checkLogits(model, args.spec.name, data.classNames.length);
  if (warning) println(io.stderr, warning);
  const params = summary(model);
  printBanner(args, params, state);
  const estimate = await printEstimate(args, state.checkpointed);
  if (controller.signal.aborted) {
    // Stopped before the first batch: nothing was written (a new run's directory goes with the claim).
    println(io.stderr, "stopped before training started; nothing was written");
    return outcome(
      state,
      "interrupted",
      signalExitCode(signalOf(controller.signal.reason)),
      engine,
      "Stopped before training started.",
    );
  }
  try {
    await startRecord(args, params, estimate, state);
  } catch (err) {
    return fail(state, err, engine, "cannot start the run");
  }
  println(io.stdout, `run: ${state.shownDir}`);

  const progress = new Progress(io.stdout, recipe.epochs, data.train.count);
  publishProgress(progress);
  try {
    const result = await trainEpochs(args, state, progress);
    progress.clearBar();
    if (result.aborted) return await stopped(state, controller.signal.reason, recipe, engine);
    await saveFinalModel(dir, model);
    await endSession(state, "complete");
  } catch (err) {
    progress.clearBar();
    if (err instanceof DivergedError) return await diverged(args, state, err);
    return fail(state, err, engine);
  }
  printResults(args, state, estimate);
  return outcome(state, "complete", EXIT.ok, engine);
}

function outcome(
  state: SessionState,
  status: TrainOutcome["status"],
  exitCode: number,
  engine: EngineInfo,
  message?: string,
): TrainOutcome {
  return {
    status,
    dir: state.dir,
    epochs: state.checkpointed,
    history: state.history,
    message,
    engine: engine.description,
    exitCode,
  };
}

/** The plan, before any work: the network, the engine, the data and the recipe. */
function printBanner(
  { spec, engine, data, recipe, plan, io }: SessionArgs,
  params: ModelSummary,
  state: SessionState,
): void {
  const out = io.stdout;
  println(
    out,
    `${spec.name} (${spec.title}): ${formatInt(params.trainableParams)} trainable parameters` +
      (bookCitation(spec) ? `, ${bookCitation(spec)}` : ""),
  );
  println(out, `engine: ${engine.description}`);
  println(
    out,
    `data: ${formatInt(data.train.count)} training and ${formatInt(data.test.count)} test images from ${data.dir}`,
  );
  println(
    out,
    `recipe: ${recipe.epochs} epoch${recipe.epochs === 1 ? "" : "s"}, lr ${recipe.lr}, batch size ${recipe.batchSize}, input ${recipe.inputSize}×${recipe.inputSize}, seed ${plan.seed}`,
  );
  if (state.checkpointed > 0)
    println(out, `resuming ${state.shownDir} after epoch ${state.checkpointed} of ${recipe.epochs}`);
}

/** Times a few batches and says how long the run will take. */
async function printEstimate({ model, data, recipe, plan, io }: SessionArgs, done: number): Promise<Estimate> {
  const left = recipe.epochs - done;
  const estimate = await estimateRun(model, data, { ...recipe, seed: plan.seed, epochs: left });
  println(
    io.stdout,
    `estimated time: ${formatDuration(estimate.totalSeconds)} for ${left} epoch${left === 1 ? "" : "s"} ` +
      `(${formatInt(estimate.trainBatches)} batches at ${(estimate.trainBatchSeconds * 1000).toFixed(0)} ms, ` +
      `then ${formatInt(estimate.testBatches)} test batches, per epoch; timed over ${estimate.timed} batch${estimate.timed === 1 ? "" : "es"})`,
  );
  return estimate;
}

/** run.json with this start of the run added (a new run's record is made here), written before the first batch. */
async function startRecord(
  { plan, spec, recipe, engine, data }: SessionArgs,
  params: ModelSummary,
  estimate: Estimate,
  state: SessionState,
) {
  const session: Session = {
    started: new Date().toISOString(),
    engine: engine.description,
    host: hostDescription(),
    fromEpoch: state.checkpointed,
    estimatedSeconds: estimate.totalSeconds,
    status: "running",
  };
  const run: RunRecord = plan.run
    ? { ...plan.run, recipe, status: "running", message: undefined, sessions: [...plan.run.sessions, session] }
    : {
        format: 1,
        model: {
          name: spec.name,
          title: spec.title,
          paper: spec.paper,
          d2lSection: bookSection(spec),
          source: plan.found.source,
          trainableParams: params.trainableParams,
          totalParams: params.totalParams,
        },
        recipe,
        seed: plan.seed,
        limit: plan.limit,
        data: { dir: data.dir, train: data.train.count, test: data.test.count },
        created: session.started,
        status: "running",
        sessions: [session],
      };
  state.session = session;
  state.started = performance.now();
  await writeJsonAtomic(join(state.dir, RUN_FILES.run), run);
  state.run = run;
}

/** The epochs, each ending with a checkpoint and the run's files. */
function trainEpochs(
  { model, data, recipe, plan, controller, options }: SessionArgs,
  state: SessionState,
  progress: Progress,
) {
  return train(model, data, {
    ...recipe,
    seed: plan.seed,
    initialEpoch: state.checkpointed,
    signal: controller.signal,
    divergence: DIVERGENCE_FACTOR,
    onBatch: async (p) => {
      progress.batch(p);
      await options.onBatch?.(p);
    },
    onEpoch: async (metrics) => {
      const history = [...state.history, metrics];
      await saveCheckpoint(state.dir, model, metrics.epoch, history, recipe.lr);
      state.history = history;
      state.checkpointed = metrics.epoch;
      await writeRunFiles(state.dir, state.run!, history, state.io.cwd);
      progress.epoch(metrics);
      await options.onEpoch?.(metrics, { dir: state.dir, epochs: recipe.epochs });
    },
  });
}

/** Records how the session ended in run.json and the run's files. */
async function endSession(state: SessionState, status: RunStatus, message?: string): Promise<void> {
  const { session, run } = state;
  if (!session || !run) return;
  session.ended = new Date().toISOString();
  session.toEpoch = state.checkpointed;
  session.seconds = (performance.now() - state.started) / 1000;
  session.status = status;
  run.status = status;
  run.message = message;
  await writeRunFiles(state.dir, run, state.history, state.io.cwd);
}

async function stopped(
  state: SessionState,
  reason: unknown,
  recipe: Recipe,
  engine: EngineInfo,
): Promise<TrainOutcome> {
  const signal = signalOf(reason);
  const done = state.checkpointed;
  const message = `Stopped by ${signal ?? "the user"} after epoch ${done}.`;
  try {
    await endSession(state, "interrupted", message);
  } catch (err) {
    return fail(state, err, engine, "stopped, but cannot record it");
  }
  println(
    state.io.stderr,
    `stopped: ${done} of ${recipe.epochs} epochs done, the last checkpoint is in ${state.shownDir}` +
      (done === 0 ? " (none yet: the first epoch did not finish)" : "") +
      `. Continue with: convnets train --resume ${state.shownDir}`,
  );
  return outcome(state, "interrupted", signalExitCode(signal), engine, message);
}

async function diverged(
  { spec, plan, engine }: SessionArgs,
  state: SessionState,
  err: DivergedError,
): Promise<TrainOutcome> {
  const { lr, why } = suggestLr(err.lr, spec.defaults.lr);
  const numClasses = FASHION_MNIST_CLASSES.length;
  const how =
    err.bound !== undefined && Number.isFinite(err.loss)
      ? ` (more than ${err.factor} × max(first loss, ln ${numClasses}) = ${Number(err.bound.toPrecision(3))})`
      : "";
  const message =
    `The loss became ${Number(err.loss.toPrecision(3))} at epoch ${err.epoch}, batch ${err.batch}${how}: the run diverged with lr ${err.lr}. ` +
    `${plan.run ? "Start a new run" : "Try again"} with a smaller learning rate, e.g. --lr ${lr} (${why})` +
    (state.checkpointed > 0 ? `; the checkpoint of epoch ${state.checkpointed} is kept in ${state.shownDir}` : "") +
    ".";
  try {
    await endSession(state, "diverged", message);
  } catch (writeErr) {
    return fail(state, writeErr, engine, "diverged, and cannot record it");
  }
  println(state.io.stderr, `convnets: ${message}`);
  return outcome(state, "diverged", EXIT.failed, engine, message);
}

/** A failure during the run: recorded in run.json as `failed` with the reason where the disk lets us. */
async function fail(state: SessionState, err: unknown, engine: EngineInfo, doing?: string): Promise<TrainOutcome> {
  const error = err as Error;
  let message = doing ? `${doing}: ${error.message}` : error.message;
  if (state.checkpointed > 0)
    message += `. The checkpoint of epoch ${state.checkpointed} is kept: convnets train --resume ${state.shownDir}`;
  if (error instanceof FileProblem && error.unwritable && state.checkpointed === 0)
    message += `. Then start the run again`;
  try {
    await endSession(state, "failed", message);
  } catch (writeErr) {
    message += `. run.json could not be updated either (${(writeErr as Error).message}): it still says "running"`;
  }
  println(state.io.stderr, `convnets: ${message}`);
  if (process.env.CONVNETS_DEBUG && !(error instanceof FileProblem)) println(state.io.stderr, error.stack);
  return outcome(state, "failed", EXIT.failed, engine, message);
}

/** The d2l lines, a warning for a collapsed run, and what was saved. */
function printResults({ engine, recipe, spec, data, io }: SessionArgs, state: SessionState, estimate: Estimate): void {
  const [metrics, speed] = d2lLines(state.history, engine.description);
  println(io.stdout, metrics);
  println(io.stdout, speed);
  const numClasses = data.classNames.length;
  if (collapsed(state.history, estimate.trainBatches, numClasses)) {
    const { lr, why } = suggestLr(recipe.lr, spec.defaults.lr);
    println(
      io.stderr,
      `warning: the loss is stuck near ln(${numClasses}) = ${Math.log(numClasses).toFixed(3)} and accuracy at chance level: ` +
        `the network did not learn. A smaller --lr (e.g. ${lr}, ${why}) or another --seed often helps.`,
    );
  }
  println(
    io.stdout,
    `saved ${state.shownDir}: ${RUN_FILES.model}/ (TensorFlow.js), ${RUN_FILES.historyJson}, ${RUN_FILES.historyCsv}, ${RUN_FILES.curves}, ${RUN_FILES.report} ` +
      `(took ${formatDuration(state.session?.seconds ?? 0)}, estimated ${formatDuration(estimate.totalSeconds)})`,
  );
}
