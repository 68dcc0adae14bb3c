import { extname, join, resolve } from "node:path";
import { evaluate, takeImages } from "@convnets/core";
import { checkBackend, loadData, openRun, saveResult, THREADS_HELP, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { formatTable } from "../format.js";
import { intOption, parseCommandArgs, stringOption } from "../options.js";
import { type Prediction, predictionsPng, predictionsSvg } from "../picture.js";
import { displayPath, RUN_FILES } from "../run-dir.js";

export const PREDICT_HELP = `convnets predict <run> [options]

Like d2l's predict_ch3: the first test images with their true and predicted labels,
as a picture (PNG or SVG) and as text.

  --count N         how many test images (default 10)
  --format FORMAT   png or svg (default png, or the --out file's extension)
  --out FILE        where to write the picture (default <run>/predictions.png)
  --backend NAME    auto, tensorflow, webgpu, wasm or cpu
${THREADS_HELP}
  --data-dir DIR    Fashion-MNIST's directory`;

const OPTIONS = {
  count: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  backend: { type: "string" },
  threads: { type: "string" },
  "data-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function predictCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("predict", argv, OPTIONS);
  if (values.help) {
    println(ctx.stdout, PREDICT_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError(`predict takes one run directory, got ${positionals.join(" ")}`);
  const count = intOption("count", values.count, 1, "how many test images to show, e.g. 10") ?? 10;
  if (count > 10_000) throw new UsageError(`--count ${count}: the test set has 10,000 images`);
  const out = stringOption(values.out);
  const format = (stringOption(values.format) ?? (out ? extname(out).slice(1).toLowerCase() : "png")) || "png";
  if (format !== "png" && format !== "svg") {
    throw new UsageError(`--format ${format}: the picture can be png or svg`);
  }
  const backend = checkBackend(stringOption(values.backend));

  const threads = threadsOption(values.threads);
  const opened = await openRun(positionals[0], "predict", ctx.cwd, { backend, threads, notes: ctx.stderr });
  const { run, model, dir } = opened;
  try {
    const data = await loadData({ dataDir: stringOption(values["data-dir"]) });
    const set = takeImages(data.test, count);
    const { predictions } = await evaluate(model, set, {
      batchSize: run.recipe.batchSize,
      inputSize: run.recipe.inputSize,
    });
    const pixels = set.height * set.width;
    const shown: Prediction[] = Array.from({ length: set.count }, (_, i) => ({
      pixels: set.images.subarray(i * pixels, (i + 1) * pixels),
      height: set.height,
      width: set.width,
      trueLabel: data.classNames[set.labels[i]!]!,
      predictedLabel: data.classNames[predictions[i]!]!,
    }));
    const right = shown.filter((p) => p.trueLabel === p.predictedLabel).length;
    println(
      ctx.stdout,
      `${run.model.name}: ${opened.from === RUN_FILES.model ? "final model" : opened.from} of run ${displayPath(dir, ctx.cwd)}, on ${opened.engine.description}`,
    );
    println(
      ctx.stdout,
      formatTable(
        ["#", "true", "predicted", ""],
        shown.map((p, i) => [
          String(i + 1),
          p.trueLabel,
          p.predictedLabel,
          p.trueLabel === p.predictedLabel ? "✓" : "✗",
        ]),
        ["right", "left", "left", "left"],
      ),
    );
    const path = out ? resolve(ctx.cwd, out) : join(dir, `predictions.${format}`);
    const saved = await saveResult(
      path,
      ctx,
      "--out FILE writes it elsewhere",
      format === "png" ? predictionsPng(shown) : predictionsSvg(shown),
    );
    println(
      ctx.stdout,
      `${right} of ${shown.length} right` + (saved ? `; picture: ${displayPath(path, ctx.cwd)}` : ""),
    );
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}
