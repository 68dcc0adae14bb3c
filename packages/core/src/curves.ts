import type { EpochMetrics } from "./train.js";

/** The three series d2l's Animator draws, in its colours and dashes (train loss solid, accuracies dashed). */
export const CURVE_SERIES = [
  { key: "loss", label: "train loss", color: "#1f77b4", dash: [1, 0] },
  { key: "trainAcc", label: "train acc", color: "#d62728", dash: [6, 3] },
  { key: "testAcc", label: "test acc", color: "#2ca02c", dash: [6, 3, 1, 3] },
] as const;

/** A Vega-Lite spec (typed loosely, so core needs no vega-lite: give it to vega-lite's `compile`). */
export type CurvesSpec = Record<string, unknown> & { $schema: string };

/**
 * The Vega-Lite spec of the training curves: one line per series over epochs, like `d2l.train_ch6`'s plot.
 * One spec for both places that draw it: the trainer's `curves.svg` and the playground's live chart.
 */
export function curvesSpec(history: EpochMetrics[], title: string): CurvesSpec {
  const values = history.flatMap((m) =>
    CURVE_SERIES.map((s) => ({ epoch: m.epoch, series: s.label, value: m[s.key] })),
  );
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
        scale: { domain: CURVE_SERIES.map((s) => s.label), range: CURVE_SERIES.map((s) => s.color) },
        legend: { orient: "top-right" },
      },
      strokeDash: {
        field: "series",
        type: "nominal",
        title: null,
        scale: { domain: CURVE_SERIES.map((s) => s.label), range: CURVE_SERIES.map((s) => [...s.dash]) },
      },
    },
  };
}
