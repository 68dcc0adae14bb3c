import { createRequire } from "node:module";
import { BENCH_HELP, benchCommand } from "./commands/bench.js";
import { EVAL_HELP, evalCommand } from "./commands/eval.js";
import { LIST_HELP, listCommand } from "./commands/list.js";
import { PREDICT_HELP, predictCommand } from "./commands/predict.js";
import { SUMMARY_HELP, summaryCommand } from "./commands/summary.js";
import { SWEEP_HELP, sweepCommand } from "./commands/sweep.js";
import { TRAIN_HELP, trainCommand } from "./commands/train.js";
import { WORKER_HELP, workerCommand } from "./commands/worker.js";
import { type CliContext, defaultContext, EXIT, println, UsageError } from "./context.js";

type Command = (argv: string[], ctx: CliContext) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string; about: string }> = {
  list: { run: listCommand, help: LIST_HELP, about: "the networks installed, with their recipes" },
  summary: { run: summaryCommand, help: SUMMARY_HELP, about: "a network's layers, output shapes and parameters" },
  train: { run: trainCommand, help: TRAIN_HELP, about: "train on Fashion-MNIST into a run directory (resumable)" },
  eval: { run: evalCommand, help: EVAL_HELP, about: "test accuracy, per-class accuracy, confusion matrix of a run" },
  predict: {
    run: predictCommand,
    help: PREDICT_HELP,
    about: "test images with true and predicted labels (PNG/SVG + text)",
  },
  sweep: {
    run: sweepCommand,
    help: SWEEP_HELP,
    about: "many runs from a spec: here one after another, or on a Redis queue",
  },
  worker: {
    run: workerCommand,
    help: WORKER_HELP,
    about: "train the runs of a queued sweep (on any number of machines)",
  },
  bench: { run: benchCommand, help: BENCH_HELP, about: "training and inference examples/sec and peak memory" },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "convnets: the classic CNNs of Dive into Deep Learning, trained on Fashion-MNIST with TensorFlow.js",
    "",
    "usage: convnets <command> [options]",
    "",
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.about}`),
    "",
    "convnets <command> --help shows a command's options. Start with: convnets train lenet",
  ].join("\n");
}

function version(): string {
  const pkg = createRequire(import.meta.url)("../package.json") as { version: string };
  return pkg.version;
}

/**
 * The `convnets` command. Returns the exit code: 0 done, 1 failed, 2 bad input, 128 + the signal's number when
 * a signal stopped a training (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
 * `ctx` lets tests run it in-process with their own streams and directory.
 */
export async function main(argv: string[], ctx: CliContext = defaultContext()): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      const topic = name === "help" && rest[0] ? COMMANDS[rest[0]] : undefined;
      println(ctx.stdout, topic ? topic.help : usage());
      return EXIT.ok;
    }
    if (name === "--version" || name === "-v") {
      println(ctx.stdout, version());
      return EXIT.ok;
    }
    const command = COMMANDS[name];
    if (!command) {
      throw new UsageError(
        `unknown command "${name}"; the commands are ${Object.keys(COMMANDS).join(", ")} (convnets help)`,
      );
    }
    return await command.run(rest, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      println(ctx.stderr, `convnets: ${err.message}`);
      return err.exitCode;
    }
    const error = err as Error;
    println(ctx.stderr, `convnets: ${error.message}`);
    if (process.env.CONVNETS_DEBUG) println(ctx.stderr, error.stack);
    return EXIT.failed;
  }
}
