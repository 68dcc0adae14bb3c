import { curvesSpec, type EpochMetrics } from "@convnets/core";
import { logger, None, parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export { CURVE_SERIES as SERIES, curvesSpec } from "@convnets/core";

// Vega's warnings would land in the middle of the command's output.
const quiet = logger(None);

/** Renders the curves to a standalone SVG with Vega (headless: no canvas, no browser). */
export async function curvesSvg(history: EpochMetrics[], title: string): Promise<string> {
  const view = new View(parse(compile(curvesSpec(history, title) as unknown as TopLevelSpec, { logger: quiet }).spec), {
    renderer: "none",
    logger: quiet,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
