import { curvesSpec, type EpochMetrics } from "@convnets/core";
import { logger, None, parse, View } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export { CURVE_SERIES as SERIES, curvesSpec } from "@convnets/core";

// Vega's warnings would land in the middle of the command's output.
const quiet = logger(None);

/** Renders the curves to a standalone SVG with Vega (headless: no canvas, no browser). */
export function curvesSvg(history: EpochMetrics[], title: string): Promise<string> {
  return vegaLiteSvg(curvesSpec(history, title));
}

/** Renders a vega-lite spec to a standalone SVG. */
export async function vegaLiteSvg(spec: object): Promise<string> {
  const view = new View(parse(compile(spec as unknown as TopLevelSpec, { logger: quiet }).spec), {
    renderer: "none",
    logger: quiet,
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
