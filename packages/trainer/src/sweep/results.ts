import { existsSync } from "node:fs";
import { join } from "node:path";
import { f3, formatDuration, formatInt, markdownTable } from "../format.js";
import { RUN_FILES, type RunStatus, readCheckpoint, readRun } from "../run-dir.js";
import type { Sweep, SweepRun } from "./spec.js";
import { type RunSummary, summarize } from "./train-sweep-run.js";

/** One run of a sweep as its directory tells it. */
export interface RunResult {
  run: SweepRun;
  /** `missing`: no run directory yet (waiting, or never submitted). */
  status: RunStatus | "missing";
  summary?: RunSummary;
  message?: string;
}

/** One row of a sweep's table: a network and recipe, over its seeds. */
export interface ResultRow {
  network: string;
  epochs: number;
  lr: number;
  batchSize: number;
  inputSize: number;
  limit?: number;
  seeds: number[];
  /** Seeds whose run is complete; the numbers below are over these. */
  complete: number;
  testAcc?: { mean: number; min: number; max: number };
  loss?: number;
  examplesPerSec?: number;
  /** Mean training wall time of a run, in seconds. */
  seconds?: number;
  engines: string[];
}

export async function readResults(sweep: Sweep, runsDir: string): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const run of sweep.runs) {
    const dir = join(runsDir, run.id);
    if (!existsSync(join(dir, RUN_FILES.run))) {
      results.push({ run, status: "missing" });
      continue;
    }
    const record = await readRun(dir);
    const checkpoint = await readCheckpoint(dir);
    const summary =
      checkpoint && checkpoint.history.length > 0 ? summarize(checkpoint.history, record.sessions) : undefined;
    results.push({ run, status: record.status, summary, message: record.message });
  }
  return results;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Groups the runs by network and recipe (every seed of one recipe is one row), in the spec's order. */
export function resultRows(results: RunResult[]): ResultRow[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) {
    const { network, epochs, lr, batchSize, inputSize, limit } = r.run;
    const key = JSON.stringify([network, epochs, lr, batchSize, inputSize, limit]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const { network, epochs, lr, batchSize, inputSize, limit } = group[0]!.run;
    const done = group.filter((r) => r.status === "complete" && r.summary).map((r) => r.summary!);
    const accs = done.map((s) => s.testAcc);
    return {
      network,
      epochs,
      lr,
      batchSize,
      inputSize,
      limit,
      seeds: group.map((r) => r.run.seed),
      complete: done.length,
      testAcc: done.length ? { mean: mean(accs), min: Math.min(...accs), max: Math.max(...accs) } : undefined,
      loss: done.length ? mean(done.map((s) => s.loss)) : undefined,
      examplesPerSec: done.length ? mean(done.map((s) => s.examplesPerSec)) : undefined,
      seconds: done.length ? mean(done.map((s) => s.seconds)) : undefined,
      engines: [...new Set(done.map((s) => s.engine))],
    };
  });
}

const recipeText = (r: ResultRow) =>
  `${r.epochs} ep, lr ${r.lr}, batch ${r.batchSize}, ${r.inputSize}×${r.inputSize}${r.limit ? `, ${formatInt(r.limit)} images` : ""}`;

/** The table as Markdown: test accuracy mean (min–max) over the seeds, and how each row was measured. */
export function resultsMarkdown(name: string, rows: ResultRow[]): string {
  const header = [
    "network",
    "recipe",
    "seeds done",
    "test acc mean (min–max)",
    "final loss",
    "examples/sec",
    "wall time",
    "engine",
  ];
  const body = rows.map((r) => [
    r.network,
    recipeText(r),
    `${r.complete} of ${r.seeds.length}`,
    r.testAcc ? `${f3(r.testAcc.mean)} (${f3(r.testAcc.min)}–${f3(r.testAcc.max)})` : "–",
    r.loss !== undefined ? f3(r.loss) : "–",
    r.examplesPerSec !== undefined ? formatInt(r.examplesPerSec) : "–",
    r.seconds !== undefined ? formatDuration(r.seconds) : "–",
    r.engines.join("; ") || "–",
  ]);
  return `## Sweep ${name}\n\n${markdownTable(header, body, ["left", "left", "right", "right", "right", "right", "right", "left"])}\n`;
}

const CSV_HEADER = [
  "network",
  "epochs",
  "lr",
  "batch_size",
  "input_size",
  "limit",
  "seeds",
  "complete",
  "test_acc_mean",
  "test_acc_min",
  "test_acc_max",
  "final_loss",
  "examples_per_sec",
  "wall_seconds",
  "engine",
];

const csvField = (value: string | number | undefined) => {
  const text = value === undefined ? "" : String(value);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

/** The same table for spreadsheets and pandas: full precision, one row per network and recipe. */
export function resultsCsv(rows: ResultRow[]): string {
  const lines = rows.map((r) =>
    [
      r.network,
      r.epochs,
      r.lr,
      r.batchSize,
      r.inputSize,
      r.limit,
      r.seeds.join(" "),
      r.complete,
      r.testAcc?.mean,
      r.testAcc?.min,
      r.testAcc?.max,
      r.loss,
      r.examplesPerSec,
      r.seconds,
      r.engines.join("; "),
    ]
      .map(csvField)
      .join(","),
  );
  return `${[CSV_HEADER.join(","), ...lines].join("\n")}\n`;
}

/** A vega-lite chart: test accuracy by network (and recipe), one point per seed, a tick at the mean. */
export function resultsChart(name: string, results: RunResult[]): Record<string, unknown> {
  const values = results
    .filter((r) => r.status === "complete" && r.summary)
    .map((r) => ({
      network: r.run.network,
      recipe: `lr ${r.run.lr}, ${r.run.epochs} ep, batch ${r.run.batchSize}, ${r.run.inputSize}px${r.run.limit ? `, ${r.run.limit} img` : ""}`,
      seed: r.run.seed,
      testAcc: r.summary!.testAcc,
    }));
  const x = { field: "network", type: "nominal", sort: null, title: "network" };
  const color = { field: "recipe", type: "nominal", title: "recipe" };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: `Sweep ${name}: test accuracy, one point per seed`,
    data: { values },
    width: { step: 60 },
    height: 240,
    layer: [
      {
        mark: { type: "point", filled: true, size: 60, opacity: 0.8 },
        encoding: {
          x,
          xOffset: { field: "recipe" },
          y: { field: "testAcc", type: "quantitative", title: "test accuracy", scale: { zero: false } },
          color,
          tooltip: [{ field: "network" }, { field: "recipe" }, { field: "seed" }, { field: "testAcc", format: ".3f" }],
        },
      },
      {
        mark: { type: "tick", thickness: 2, size: 18 },
        encoding: {
          x,
          xOffset: { field: "recipe" },
          y: { aggregate: "mean", field: "testAcc", type: "quantitative" },
          color,
        },
      },
    ],
  };
}
