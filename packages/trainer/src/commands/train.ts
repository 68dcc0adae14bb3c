import os from "node:os";
import { join, resolve } from "node:path";
import {
  DivergedError,
  type EpochMetrics,
  type EngineInfo,
  type ModelSpec,
  type Recipe,
  saveModel,
  summary,
  train,
} from "@convnets/core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { curvesSvg } from "../chart.js";
import { checkBackend, checkLogits, type Data, loadData, startEngine, THREADS_HELP, threadsOption } from "../common.js";
import { estimateRun } from "../estimate.js";
import { formatDuration, formatInt } from "../format.js";
import { d2lLines, historyCsv } from "../history.js";
import { intOption, parseCommandArgs, positiveOption, stringOption } from "../options.js";
import { Progress } from "../progress.js";
import { type FoundModel, findModel, findSource, specOf } from "../registry.js";
import { reportMarkdown } from "../report.js";
import {
  type CheckpointRecord,
  checkNewRunDir,
  createRunDir,
  defaultRunDir,
  displayPath,
  loadCheckpointModel,
  RUN_FILES,
  type RunRecord,
  readCheckpoint,
  readRun,
  saveCheckpoint,
  type Session,
  writeFileAtomic,
  writeJsonAtomic,
} from "../run-dir.js";

export const TRAIN_HELP = `convnets train <model> [options]
convnets train --resume <run> [--epochs N]

Trains a network on Fashion-MNIST with d2l's train_ch6 recipe and writes a run directory.
<model> is a name from \`convnets list\` or the path of your own module (./my-model.js).

  --epochs N        epochs in all (default: the model's recipe)
  --lr X            SGD learning rate (default: the model's recipe)
  --batch-size N    examples per batch (default: the model's recipe)
  --input-size N    images are resized to N×N (default: the model's recipe)
  --limit N         use only the first N training and N test images (quick runs)
  --seed N          seed of the initial weights and of the shuffles (default 0)
  --backend NAME    auto, tensorflow, webgpu, wasm or cpu (default auto, or CONVNETS_BACKEND)
${THREADS_HELP}
  --data-dir DIR    Fashion-MNIST's directory (default: FASHION_MNIST_DIR, the cache, Debian's package)
  --out DIR         run directory (default runs/<model>-<timestamp>); never overwritten
  --resume RUN      continue an interrupted run from its last checkpoint`;

const OPTIONS = {
  epochs: { type: "string" },
  lr: { type: "string" },
  "batch-size": { type: "string" },
  "input-size": { type: "string" },
  limit: { type: "string" },
  seed: { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
  "data-dir": { type: "string" },
  out: { type: "string" },
  resume: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** What the command line asked for; every value checked before any work starts. */
interface TrainFlags {
  model?: string;
  epochs?: number;
  lr?: number;
  batchSize?: number;
  inputSize?: number;
  limit?: number;
  seed?: number;
  backend?: string;
  threads?: number;
  dataDir?: string;
  out?: string;
  resume?: string;
}

function readFlags(argv: string[]): TrainFlags | "help" {
  const { values, positionals } = parseCommandArgs("train", argv, OPTIONS);
  if (values.help) return "help";
  if (positionals.length > 1) {
    throw new UsageError(`train takes one model, got ${positionals.length}: ${positionals.join(" ")}`);
  }
  return {
    model: positionals[0],
    epochs: intOption("epochs", values.epochs, 1, "how many passes over the training set, e.g. 10"),
    lr: positiveOption("lr", values.lr, "the SGD learning rate, e.g. 0.9 for lenet"),
    batchSize: intOption("batch-size", values["batch-size"], 1, "examples per SGD step, e.g. 256"),
    inputSize: intOption("input-size", values["input-size"], 1, "the side images are resized to, e.g. 28"),
    limit: intOption("limit", values.limit, 1, "how many training and test images to use, e.g. 512"),
    seed: intOption("seed", values.seed, 0, "any whole number; the same seed gives the same run"),
    backend: checkBackend(stringOption(values.backend)),
    threads: threadsOption(values.threads),
    dataDir: stringOption(values["data-dir"]),
    out: stringOption(values.out),
    resume: stringOption(values.resume),
  };
}

/** Everything a training session needs, decided before the engine starts or data loads. */
interface Plan {
  found: FoundModel;
  /** What is known before the model is built: undefined where a builder function's own defaults decide (specOf). */
  recipe: Partial<Recipe>;
  seed: number;
  limit?: number;
  dir: string;
  /** Set when resuming. */
  run?: RunRecord;
  checkpoint?: CheckpointRecord;
}

function refuseSmallInput(spec: ModelSpec, inputSize: number): void {
  if (inputSize < spec.minInputSize) {
    throw new UsageError(
      `--input-size ${inputSize}: ${spec.name} needs images of at least ${spec.minInputSize}×${spec.minInputSize}; ` +
        `use --input-size ${spec.minInputSize} or more (its recipe uses ${spec.defaults.inputSize})`,
    );
  }
}

async function planNewRun(flags: TrainFlags, ctx: CliContext): Promise<Plan> {
  if (!flags.model) {
    throw new UsageError("train: which model? e.g. convnets train lenet (convnets list shows the models installed)");
  }
  const found = await findModel(flags.model, ctx.cwd);
  // A builder function's recipe is known only once it is built (after the engine starts).
  const defaults = found.spec?.defaults;
  const recipe: Partial<Recipe> = {
    epochs: flags.epochs ?? defaults?.epochs,
    lr: flags.lr ?? defaults?.lr,
    batchSize: flags.batchSize ?? defaults?.batchSize,
    inputSize: flags.inputSize ?? defaults?.inputSize,
  };
  if (found.spec) refuseSmallInput(found.spec, recipe.inputSize ?? found.spec.defaults.inputSize);
  const dir = flags.out ? resolve(ctx.cwd, flags.out) : defaultRunDir(ctx.cwd, found.name);
  await checkNewRunDir(dir);
  return { found, recipe, seed: flags.seed ?? 0, limit: flags.limit, dir };
}

async function planResume(flags: TrainFlags, ctx: CliContext): Promise<Plan> {
  const dir = resolve(ctx.cwd, flags.resume!);
  if (flags.out) throw new UsageError("--out cannot be used with --resume: a resumed run stays in its own directory");
  const run = await readRun(dir);
  if (flags.model && flags.model.toLowerCase() !== run.model.name && !flags.model.includes("/")) {
    throw new UsageError(`--resume ${flags.resume}: that run trains ${run.model.name}, not ${flags.model}`);
  }
  // Changing the recipe midway would make the history differ from an uninterrupted run's.
  const kept: [string, number | undefined, number | undefined][] = [
    ["lr", flags.lr, run.recipe.lr],
    ["batch-size", flags.batchSize, run.recipe.batchSize],
    ["input-size", flags.inputSize, run.recipe.inputSize],
    ["seed", flags.seed, run.seed],
    ["limit", flags.limit, run.limit],
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
  const epochs = flags.epochs ?? run.recipe.epochs;
  if (epochs < done) {
    throw new UsageError(`--epochs ${epochs}: this run already has ${done} epochs; give at least ${done}`);
  }
  const found = await findSource(run.model.source, ctx.cwd);
  return {
    found,
    recipe: { ...run.recipe, epochs },
    seed: run.seed,
    limit: run.limit,
    dir,
    run,
    checkpoint,
  };
}

/** Writes history.json, history.csv, curves.svg and report.md: after every epoch and at the end. */
async function writeRunFiles(dir: string, run: RunRecord, history: EpochMetrics[], ctx: CliContext): Promise<void> {
  await writeJsonAtomic(join(dir, RUN_FILES.run), run);
  await writeJsonAtomic(join(dir, RUN_FILES.historyJson), history);
  await writeFileAtomic(join(dir, RUN_FILES.historyCsv), historyCsv(history));
  if (history.length > 0) {
    const title = `${run.model.title}: ${run.recipe.epochs} epochs, lr ${run.recipe.lr}, batch ${run.recipe.batchSize}, ${run.recipe.inputSize}×${run.recipe.inputSize}`;
    await writeFileAtomic(join(dir, RUN_FILES.curves), await curvesSvg(history, title));
  }
  await writeFileAtomic(join(dir, RUN_FILES.report), reportMarkdown(run, history, displayPath(dir, ctx.cwd)));
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

/** `2 × Intel(R) Xeon(R) …, Node v20.19.0`: goes with the timings in report.md. */
function hostDescription(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}`;
}

/** Smaller lr to suggest after a divergence. */
const smallerLr = (lr: number) => Number((lr / 2).toPrecision(2));

export async function trainCommand(argv: string[], ctx: CliContext): Promise<number> {
  const flags = readFlags(argv);
  if (flags === "help") {
    println(ctx.stdout, TRAIN_HELP);
    return EXIT.ok;
  }
  const plan = flags.resume ? await planResume(flags, ctx) : await planNewRun(flags, ctx);
  const { dir, found, seed } = plan;
  const shownDir = displayPath(dir, ctx.cwd);
  const done = plan.checkpoint?.epoch ?? 0;

  if (plan.run && plan.run.status === "complete" && plan.recipe.epochs === done) {
    println(
      ctx.stdout,
      `${shownDir} is already complete (${done} epochs); to train it longer: convnets train --resume ${shownDir} --epochs ${done + 5}`,
    );
    const [metrics, speed] = d2lLines(plan.checkpoint!.history, plan.run.sessions.at(-1)?.engine ?? "?");
    println(ctx.stdout, metrics);
    println(ctx.stdout, speed);
    return EXIT.ok;
  }

  const engine = await startEngine(flags.backend, { threads: flags.threads, notes: ctx.stderr });
  const spec = specOf(found);
  const recipe: Recipe = {
    epochs: plan.recipe.epochs ?? spec.defaults.epochs,
    lr: plan.recipe.lr ?? spec.defaults.lr,
    batchSize: plan.recipe.batchSize ?? spec.defaults.batchSize,
    inputSize: plan.recipe.inputSize ?? spec.defaults.inputSize,
  };
  refuseSmallInput(spec, recipe.inputSize);
  const data = await loadData({ limit: plan.limit, dataDir: flags.dataDir });
  const numClasses = data.classNames.length;

  let model: LayersModel;
  if (plan.checkpoint) {
    model = await loadCheckpointModel(dir, plan.checkpoint);
  } else {
    try {
      model = spec.build({ inputShape: [recipe.inputSize, recipe.inputSize, 1], numClasses });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${spec.name} cannot be built for ${recipe.inputSize}×${recipe.inputSize} input: ${(err as Error).message}`);
    }
  }
  try {
    return await runSession({ ctx, plan, spec, recipe, engine, data, model, seed, done, shownDir, numClasses });
  } finally {
    model.dispose();
  }
}

interface SessionArgs {
  ctx: CliContext;
  plan: Plan;
  spec: ModelSpec;
  recipe: Recipe;
  engine: EngineInfo;
  data: Data;
  model: LayersModel;
  seed: number;
  done: number;
  shownDir: string;
  numClasses: number;
}

async function runSession(args: SessionArgs): Promise<number> {
  const { ctx, plan, spec, recipe, engine, data, model, seed, done, shownDir, numClasses } = args;
  const { dir } = plan;
  const out = ctx.stdout;
  const warning = checkLogits(model, spec.name, numClasses);
  if (warning) println(ctx.stderr, warning);
  const params = summary(model);

  println(
    out,
    `${spec.name} (${spec.title}): ${formatInt(params.trainableParams)} trainable parameters` +
      (spec.d2lSection ? `, d2l §${spec.d2lSection}` : ""),
  );
  println(out, `engine: ${engine.description}`);
  println(out, `data: ${formatInt(data.train.count)} training and ${formatInt(data.test.count)} test images from ${data.dir}`);
  println(
    out,
    `recipe: ${recipe.epochs} epoch${recipe.epochs === 1 ? "" : "s"}, lr ${recipe.lr}, batch size ${recipe.batchSize}, input ${recipe.inputSize}×${recipe.inputSize}, seed ${seed}`,
  );
  if (done > 0) println(out, `resuming ${shownDir} after epoch ${done} of ${recipe.epochs}`);

  const estimate = await estimateRun(model, data, { ...recipe, seed, epochs: recipe.epochs - done });
  println(
    out,
    `estimated time: ${formatDuration(estimate.totalSeconds)} for ${recipe.epochs - done} epoch${recipe.epochs - done === 1 ? "" : "s"} ` +
      `(${formatInt(estimate.trainBatches)} batches at ${(estimate.trainBatchSeconds * 1000).toFixed(0)} ms, ` +
      `then ${formatInt(estimate.testBatches)} test batches, per epoch; timed over ${estimate.timed} batch${estimate.timed === 1 ? "" : "es"})`,
  );

  const session: Session = {
    started: new Date().toISOString(),
    engine: engine.description,
    host: hostDescription(),
    fromEpoch: done,
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
          d2lSection: spec.d2lSection,
          source: plan.found.source,
          trainableParams: params.trainableParams,
          totalParams: params.totalParams,
        },
        recipe,
        seed,
        limit: plan.limit,
        data: { dir: data.dir, train: data.train.count, test: data.test.count },
        created: session.started,
        status: "running",
        sessions: [session],
      };
  if (plan.run) await writeJsonAtomic(join(dir, RUN_FILES.run), run);
  else await createRunDir(dir, run);
  println(out, `run: ${shownDir}`);

  const history = [...(plan.checkpoint?.history ?? [])];
  const progress = new Progress(out, recipe.epochs, data.train.count);
  const controller = new AbortController();
  const onExternalAbort = () => controller.abort();
  ctx.signal?.addEventListener("abort", onExternalAbort);
  if (ctx.signal?.aborted) controller.abort();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts > 1) process.exit(EXIT.interrupted);
    progress.clearBar();
    println(ctx.stderr, "stopping after this batch (Ctrl-C again to quit at once)…");
    controller.abort();
  };
  if (ctx.handleSigint !== false) process.on("SIGINT", onSigint);

  const started = performance.now();
  const endSession = async (status: Session["status"], message?: string) => {
    session.ended = new Date().toISOString();
    session.toEpoch = history.length;
    session.seconds = (performance.now() - started) / 1000;
    session.status = status;
    run.status = status;
    run.message = message;
    await writeRunFiles(dir, run, history, ctx);
  };

  try {
    const result = await train(model, data, {
      ...recipe,
      seed,
      initialEpoch: done,
      signal: controller.signal,
      onBatch: (p) => progress.batch(p),
      onEpoch: async (metrics) => {
        history.push(metrics);
        await saveCheckpoint(dir, model, metrics.epoch, history, recipe.lr);
        await writeRunFiles(dir, run, history, ctx);
        progress.epoch(metrics);
      },
    });
    if (result.aborted) {
      progress.clearBar();
      await endSession("interrupted", `Stopped by the user after epoch ${history.length}.`);
      println(
        ctx.stderr,
        `stopped: ${history.length} of ${recipe.epochs} epochs done, the last checkpoint is in ${shownDir}` +
          (history.length === 0 ? " (none yet: the first epoch did not finish)" : "") +
          `. Continue with: convnets train --resume ${shownDir}`,
      );
      return EXIT.interrupted;
    }
    await saveModel(model, join(dir, RUN_FILES.model));
    await endSession("complete");
  } catch (err) {
    progress.clearBar();
    if (err instanceof DivergedError) {
      const message =
        `The loss became ${err.loss} at epoch ${err.epoch}, batch ${err.batch}: the run diverged with lr ${err.lr}. ` +
        `Try a smaller learning rate, e.g. --lr ${smallerLr(err.lr)}` +
        (history.length > 0 ? ` (the checkpoint of epoch ${history.length} is kept in ${shownDir})` : "");
      await endSession("diverged", message);
      println(ctx.stderr, `convnets: ${message}`);
      return EXIT.failed;
    }
    await endSession("failed", (err as Error).message).catch(() => {});
    throw err;
  } finally {
    if (ctx.handleSigint !== false) process.off("SIGINT", onSigint);
    ctx.signal?.removeEventListener("abort", onExternalAbort);
  }

  const [metrics, speed] = d2lLines(history, engine.description);
  println(out, metrics);
  println(out, speed);
  if (collapsed(history, estimate.trainBatches, numClasses)) {
    println(
      ctx.stderr,
      `warning: the loss is stuck near ln(${numClasses}) = ${Math.log(numClasses).toFixed(3)} and accuracy at chance level: ` +
        `the network did not learn. A smaller --lr (e.g. ${smallerLr(recipe.lr)}) or another --seed often helps.`,
    );
  }
  println(
    out,
    `saved ${shownDir}: ${RUN_FILES.model}/ (TensorFlow.js), ${RUN_FILES.historyJson}, ${RUN_FILES.historyCsv}, ${RUN_FILES.curves}, ${RUN_FILES.report} ` +
      `(took ${formatDuration(session.seconds ?? 0)}, estimated ${formatDuration(estimate.totalSeconds)})`,
  );
  return EXIT.ok;
}
