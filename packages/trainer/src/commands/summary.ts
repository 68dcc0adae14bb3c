import { formatSummary, summary } from "@convnets/core";
import { bookCitation } from "../book.js";
import { checkBackend, startEngine, THREADS_HELP, threadsOption } from "../common.js";
import { type CliContext, EXIT, println, UsageError } from "../context.js";
import { intOption, parseCommandArgs, stringOption } from "../options.js";
import { findModel, specOf } from "../registry.js";

export const SUMMARY_HELP = `convnets summary <model> [--input-size N] [--json]

The shape walk the book prints (for layer in net: X = layer(X); print(…)): every layer's output shape (channels last) and parameters, with totals.

  --input-size N    input side (default: the model's recipe)
  --backend NAME    auto, tensorflow, webgpu, wasm or cpu (the model is built, not trained)
${THREADS_HELP}
  --json            the summary as JSON`;

export async function summaryCommand(argv: string[], ctx: CliContext): Promise<number> {
  const { values, positionals } = parseCommandArgs("summary", argv, {
    "input-size": { type: "string" },
    backend: { type: "string" },
    threads: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    println(ctx.stdout, SUMMARY_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError("summary: which model? e.g. convnets summary lenet (convnets list shows them)");
  }
  const inputFlag = intOption("input-size", values["input-size"], 1, "the side images are resized to, e.g. 224");
  const backend = checkBackend(stringOption(values.backend));
  const threads = threadsOption(values.threads);
  const found = await findModel(positionals[0]!, ctx.cwd);
  if (found.spec && inputFlag !== undefined && inputFlag < found.spec.minInputSize) {
    throw new UsageError(
      `--input-size ${inputFlag}: ${found.spec.name} needs images of at least ${found.spec.minInputSize}×${found.spec.minInputSize}`,
    );
  }
  await startEngine(backend, { threads, notes: ctx.stderr });
  const spec = specOf(found);
  const inputSize = inputFlag ?? spec.defaults.inputSize;
  if (inputSize < spec.minInputSize) {
    throw new UsageError(
      `--input-size ${inputSize}: ${spec.name} needs images of at least ${spec.minInputSize}×${spec.minInputSize}`,
    );
  }
  const model = spec.build({ inputShape: [inputSize, inputSize, 1], numClasses: 10 });
  try {
    const s = summary(model);
    if (values.json) {
      println(ctx.stdout, JSON.stringify({ model: spec.name, title: spec.title, ...s }, null, 2));
      return EXIT.ok;
    }
    println(ctx.stdout, `${spec.name}: ${spec.title}${bookCitation(spec) ? `, ${bookCitation(spec)}` : ""}`);
    println(ctx.stdout, `paper: ${spec.paper}`);
    println(ctx.stdout, formatSummary(s));
    return EXIT.ok;
  } finally {
    model.dispose();
  }
}
