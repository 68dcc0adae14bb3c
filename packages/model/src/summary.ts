import type { LayersModel } from "@tensorflow/tfjs-layers";

export interface LayerRow {
  name: string;
  /** tfjs class name: `Conv2D`, `AveragePooling2D`, … */
  type: string;
  /** Output shape without the batch dimension, channels-last: `[28, 28, 6]`. */
  outputShape: number[];
  params: number;
  trainableParams: number;
}

export interface ModelSummary {
  name: string;
  inputShape: number[];
  layers: LayerRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * The book's shape walk (d2l §7.6 and every chapter after it: `for layer in net: X = layer(X); print(...)`) as data: every layer's name,
 * type, output shape and parameter count, with totals split trainable / non-trainable.
 */
export function summary(model: LayersModel): ModelSummary {
  const layers: LayerRow[] = [];
  for (const layer of model.layers) {
    const type = layer.getClassName();
    if (type === "InputLayer") continue;
    const shape = layer.outputShape;
    const first = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
    layers.push({
      name: layer.name,
      type,
      outputShape: first.slice(1).map((d) => d ?? -1),
      params: layer.countParams(),
      trainableParams: layer.trainableWeights.reduce((sum, w) => sum + size(w.shape as number[]), 0),
    });
  }
  const totalParams = layers.reduce((a, l) => a + l.params, 0);
  const trainableParams = layers.reduce((a, l) => a + l.trainableParams, 0);
  const input = model.inputs[0]!.shape.slice(1).map((d) => d ?? -1);
  return {
    name: model.name,
    inputShape: input,
    layers,
    totalParams,
    trainableParams,
    nonTrainableParams: totalParams - trainableParams,
  };
}

const formatInt = (n: number) => n.toLocaleString("en-US");

/** A plain-text table of a summary, one row per layer, then the totals. */
export function formatSummary(s: ModelSummary): string {
  const header = ["layer", "type", "output shape", "params"];
  const rows = s.layers.map((l) => [l.name, l.type, l.outputShape.join("×"), formatInt(l.params)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  const rule = "-".repeat(widths.reduce((a, b) => a + b + 2, -2));
  return [
    `${s.name}, input ${s.inputShape.join("×")}`,
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `total params: ${formatInt(s.totalParams)}`,
    `trainable params: ${formatInt(s.trainableParams)}`,
    `non-trainable params: ${formatInt(s.nonTrainableParams)}`,
  ].join("\n");
}
