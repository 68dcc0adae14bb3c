import { curvesSpec, type EpochMetrics } from "@convnets/core/browser";
import { parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

let view: View | undefined;

/** Draws the training curves in `container`: the spec of the trainer's curves.svg, rendered by Vega as SVG. */
export async function drawCurves(container: HTMLElement, history: EpochMetrics[], title: string): Promise<void> {
  view?.finalize();
  const spec = curvesSpec(history, title) as unknown as TopLevelSpec;
  view = new View(parse(compile(spec).spec), { renderer: "svg", container, hover: true });
  await view.runAsync();
}
