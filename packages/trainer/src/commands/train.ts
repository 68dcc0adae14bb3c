import { checkBackend, THREADS_HELP, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { intOption, parseCommandArgs, positiveOption, stringOption } from "../options.js";
import { type TrainRunOptions, trainRun } from "../train-run.js";

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
  --resume RUN      continue an interrupted run from its last checkpoint

One process writes a run directory at a time (run.lock). SIGINT (Ctrl-C), SIGTERM and SIGHUP stop after the
current batch with the run resumable; a second one quits at once.`;

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

/** What the command line asked for (TrainRunOptions' command-line part); every value checked before any work starts. */
type TrainFlags = Pick<
  TrainRunOptions,
  | "model"
  | "epochs"
  | "lr"
  | "batchSize"
  | "inputSize"
  | "limit"
  | "seed"
  | "backend"
  | "threads"
  | "dataDir"
  | "out"
  | "resume"
>;

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

export async function trainCommand(argv: string[], ctx: CliContext): Promise<number> {
  const flags = readFlags(argv);
  if (flags === "help") {
    println(ctx.stdout, TRAIN_HELP);
    return EXIT.ok;
  }
  const result = await trainRun({
    ...flags,
    cwd: ctx.cwd,
    stdout: ctx.stdout,
    stderr: ctx.stderr,
    signal: ctx.signal,
    handleSignals: ctx.handleSigint !== false,
  });
  return result.exitCode;
}
