import type { EpochMetrics } from "@convnets/core";
import { logger, None, parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** The three series d2l's Animator draws, in its colours and dashes (train loss solid, accuracies dashed). */
export const SERIES = [
  { key: "loss", label: "train loss", color: "#1f77b4", dash: [1, 0] },
  { key: "trainAcc", label: "train acc", color: "#d62728", dash: [6, 3] },
  { key: "testAcc", label: "test acc", color: "#2ca02c", dash: [6, 3, 1, 3] },
] as const;

/** The Vega-Lite spec of the training curves: one line per series over epochs, like `d2l.train_ch6`'s plot. */
export function curvesSpec(history: EpochMetrics[], title: string): TopLevelSpec {
  const values = history.flatMap((m) => SERIES.map((s) => ({ epoch: m.epoch, series: s.label, value: m[s.key] })));
  const lastEpoch = Math.max(1, ...history.map((m) => m.epoch));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title,
    width: 480,
    height: 300,
    background: "white",
    data: { values },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: {
      x: {
        field: "epoch",
        type: "quantitative",
        title: "epoch",
        scale: { domain: [history.length > 0 ? Math.min(...history.map((m) => m.epoch)) : 1, lastEpoch], nice: false },
        axis: { tickMinStep: 1, format: "d" },
      },
      y: { field: "value", type: "quantitative", title: null, scale: { zero: true } },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: SERIES.map((s) => s.label), range: SERIES.map((s) => s.color) },
        legend: { orient: "top-right" },
      },
      strokeDash: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: SERIES.map((s) => s.label), range: SERIES.map((s) => [...s.dash]) },
      },
    },
  };
}

// Vega's warnings would land in the middle of the command's output.
const quiet = logger(None);

/** Renders the curves to a standalone SVG with Vega (headless: no canvas, no browser). */
export async function curvesSvg(history: EpochMetrics[], title: string): Promise<string> {
  const view = new View(parse(compile(curvesSpec(history, title), { logger: quiet }).spec), {
    renderer: "none",
    logger: quiet,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
