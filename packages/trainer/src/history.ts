import type { EpochMetrics } from "@convnets/core";
import { f3 } from "./format.js";

export const CSV_COLUMNS = ["epoch", "loss", "train_acc", "test_acc", "examples_per_sec", "seconds"] as const;

/** `history.csv`: one row per epoch, full precision, for spreadsheets and pandas. */
export function historyCsv(history: EpochMetrics[]): string {
  const rows = history.map((m) => [m.epoch, m.loss, m.trainAcc, m.testAcc, m.examplesPerSec, m.seconds].join(","));
  return `${[CSV_COLUMNS.join(","), ...rows].join("\n")}\n`;
}

/** Training examples per second over the whole run, as d2l computes it: all examples / all training time. */
export function overallExamplesPerSec(history: EpochMetrics[]): number {
  const seconds = history.reduce((sum, m) => sum + m.seconds, 0);
  const examples = history.reduce((sum, m) => sum + m.examplesPerSec * m.seconds, 0);
  return seconds > 0 ? examples / seconds : 0;
}

/** The two lines `d2l.train_ch6` ends with. */
export function d2lLines(history: EpochMetrics[], engine: string): [string, string] {
  const last = history[history.length - 1]!;
  return [
    `loss ${f3(last.loss)}, train acc ${f3(last.trainAcc)}, test acc ${f3(last.testAcc)}`,
    `${overallExamplesPerSec(history).toFixed(1)} examples/sec on ${engine}`,
  ];
}
