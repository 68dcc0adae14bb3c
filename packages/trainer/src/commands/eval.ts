import { join, resolve } from "node:path";
import { evaluate } from "@convnets/core";
import { checkBackend, loadData, openRun, saveResult, THREADS_HELP, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { f3, formatInt, formatTable } from "../format.js";
import { intOption, parseCommandArgs, stringOption } from "../options.js";
import { displayPath, RUN_FILES } from "../run-dir.js";

export const EVAL_HELP = `convnets eval <run> [options]

Test accuracy, accuracy of each class and the confusion matrix of a trained run
(its final model, or its newest checkpoint if it did not finish). Also writes <run>/eval.json; on a
read-only run it prints the results, says what it could not save, and exits 0.

  --limit N         only the first N test images (default: all 10,000)
  --batch-size N    examples per inference batch (default: the run's)
  --backend NAME    auto, tensorflow, webgpu, wasm or cpu
${THREADS_HELP}
  --data-dir DIR    Fashion-MNIST's directory
  --out FILE        write the evaluation (JSON) here instead of <run>/eval.json`;

const OPTIONS = {
  limit: { type: "string" },
  "batch-size": { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
  "data-dir": { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function evalCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("eval", argv, OPTIONS);
  if (values.help) {
    println(ctx.stdout, EVAL_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError(`eval takes one run directory, got ${positionals.join(" ")}`);
  const limit = intOption("limit", values.limit, 1, "how many test images to evaluate, e.g. 1000");
  const batchSizeFlag = intOption("batch-size", values["batch-size"], 1, "examples per batch, e.g. 256");
  const backend = checkBackend(stringOption(values.backend));

  const threads = threadsOption(values.threads);
  const opened = await openRun(positionals[0], "eval", ctx.cwd, { backend, threads, notes: ctx.stderr });
  const { run, model, dir } = opened;
  try {
    const data = await loadData({ limit, dataDir: stringOption(values["data-dir"]) });
    const batchSize = batchSizeFlag ?? run.recipe.batchSize;
    const result = await evaluate(model, data.test, { batchSize, inputSize: run.recipe.inputSize });
    const correct = result.confusion.reduce((sum, row, i) => sum + row[i]!, 0);
    const out = ctx.stdout;
    println(
      out,
      `${run.model.name}: ${opened.from === RUN_FILES.model ? "final model" : opened.from} of run ${displayPath(dir, ctx.cwd)}, on ${opened.engine.description}`,
    );
    println(out, `test acc ${f3(result.accuracy)} (${formatInt(correct)} of ${formatInt(result.count)} test images)`);
    println(out);
    const classNames = data.classNames;
    println(
      out,
      formatTable(
        ["class", "accuracy", "correct"],
        classNames.map((name, i) => {
          const row = result.confusion[i]!;
          const total = row.reduce((a, b) => a + b, 0);
          return [`${i} ${name}`, total ? f3(result.perClass[i]!) : "—", `${formatInt(row[i]!)}/${formatInt(total)}`];
        }),
        ["left", "right", "right"],
      ),
    );
    println(out);
    println(out, "confusion matrix (rows: true class, columns: predicted class)");
    println(
      out,
      formatTable(
        ["", ...classNames.map((_, i) => String(i))],
        result.confusion.map((row, i) => [`${i} ${classNames[i]}`, ...row.map((n) => String(n))]),
        ["left", ...classNames.map(() => "right" as const)],
      ),
    );
    const outFlag = stringOption(values.out);
    const path = outFlag ? resolve(ctx.cwd, outFlag) : join(dir, RUN_FILES.eval);
    const saved = await saveResult(path, ctx, "--out FILE writes it elsewhere", {
      model: opened.from,
      engine: opened.engine.description,
      testImages: result.count,
      accuracy: result.accuracy,
      perClass: Object.fromEntries(classNames.map((name, i) => [name, result.perClass[i]])),
      classNames,
      confusion: result.confusion,
      evaluated: new Date().toISOString(),
    });
    if (saved && outFlag) println(out, `saved ${displayPath(path, ctx.cwd)}`);
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}
