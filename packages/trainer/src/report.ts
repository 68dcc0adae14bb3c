import type { EpochMetrics } from "@convnets/core";
import { bookCitation } from "./book.js";
import { f3, formatDuration, formatInt, markdownTable } from "./format.js";
import { d2lLines } from "./history.js";
import { RUN_FILES, type RunRecord } from "./run-dir.js";

const STATUS_TEXT: Record<RunRecord["status"], string> = {
  running: "running",
  complete: "complete",
  interrupted: "interrupted (resumable with `convnets train --resume`)",
  diverged: "diverged",
  failed: "failed",
};

function epochRange(from: number, to: number | undefined): string {
  if (to === undefined) return `${from + 1}–?`;
  if (to === from) return "none";
  return to === from + 1 ? String(to) : `${from + 1}–${to}`;
}

/** `report.md`: the recipe, the engine, the timings, the final metrics and the chart of a run. */
export function reportMarkdown(run: RunRecord, history: EpochMetrics[], runName: string): string {
  const { model, recipe } = run;
  const engines = [...new Set(run.sessions.map((s) => s.engine))];
  const lines: string[] = [
    `# ${model.title} on Fashion-MNIST`,
    "",
    `Run \`${runName}\`: ${STATUS_TEXT[run.status]}, ${history.length} of ${recipe.epochs} epochs.` +
      (run.message ? ` ${run.message}` : ""),
    "",
    "## Model",
    "",
    `- name: \`${model.name}\` (${model.source.kind === "package" ? `${model.source.specifier}, export \`${model.source.export}\`` : model.source.kind === "module" ? `module ${model.source.path}` : "registered in the process that trained it"})`,
    `- paper: ${model.paper}`,
    ...(bookCitation(model) ? [`- book: ${bookCitation(model)} (Dive into Deep Learning, d2l.ai)`] : []),
    `- parameters: ${formatInt(model.trainableParams)} trainable, ${formatInt(model.totalParams)} in all`,
    "",
    "## Recipe",
    "",
    markdownTable(
      ["epochs", "lr", "batch size", "input size", "seed", "training images", "test images"],
      [
        [
          String(recipe.epochs),
          String(recipe.lr),
          String(recipe.batchSize),
          `${recipe.inputSize}×${recipe.inputSize}`,
          String(run.seed),
          formatInt(run.data.train),
          formatInt(run.data.test),
        ],
      ],
      ["right", "right", "right", "right", "right", "right", "right"],
    ),
    "",
    "SGD on softmax cross-entropy of the logits, Xavier-uniform kernels and PyTorch's default biases, training set reshuffled every epoch (d2l `train_ch6`).",
    "",
    "## Engine and timings",
    "",
    markdownTable(
      ["session", "engine", "machine", "epochs", "estimated", "took"],
      run.sessions.map((s, i) => [
        String(i + 1),
        s.engine,
        s.host ?? "",
        epochRange(s.fromEpoch, s.toEpoch),
        s.estimatedSeconds !== undefined ? formatDuration(s.estimatedSeconds) : "—",
        s.seconds !== undefined ? formatDuration(s.seconds) : "—",
      ]),
    ),
    "",
  ];
  if (history.length > 0) {
    const [metrics, speed] = d2lLines(history, engines.join(" + "));
    lines.push(
      "## Results",
      "",
      "```",
      metrics,
      speed,
      "```",
      "",
      markdownTable(
        ["epoch", "loss", "train acc", "test acc", "examples/sec", "seconds"],
        history.map((m) => [
          String(m.epoch),
          f3(m.loss),
          f3(m.trainAcc),
          f3(m.testAcc),
          m.examplesPerSec.toFixed(1),
          m.seconds.toFixed(2),
        ]),
        ["right", "right", "right", "right", "right", "right"],
      ),
      "",
      `![train loss, train acc and test acc per epoch](${RUN_FILES.curves})`,
      "",
    );
  }
  lines.push(
    "## Files",
    "",
    `- \`${RUN_FILES.model}/\`: the trained model in TensorFlow.js layers format (\`tf.loadLayersModel\` reads it in a browser or Node)`,
    `- \`${RUN_FILES.historyJson}\`, \`${RUN_FILES.historyCsv}\`: the metrics per epoch; \`${RUN_FILES.curves}\`: the chart above`,
    `- \`${RUN_FILES.checkpoint}\`, \`${RUN_FILES.checkpoints}/\`: the newest checkpoint, for \`convnets train --resume\``,
    `- \`${RUN_FILES.run}\`: the recipe, the model's source and each training session`,
    "",
  );
  return lines.join("\n");
}
