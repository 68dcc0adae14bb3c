import type { EpochMetrics } from "@convnets/core";
import { describe, expect, it } from "vitest";
import { curvesSvg, SERIES } from "../src/chart.js";
import { assertWellFormedXml } from "./helpers.js";

const history: EpochMetrics[] = [
  { epoch: 1, loss: 2.3, trainAcc: 0.1, testAcc: 0.12, examplesPerSec: 1000, seconds: 1 },
  { epoch: 2, loss: 1.1, trainAcc: 0.55, testAcc: 0.6, examplesPerSec: 1000, seconds: 1 },
  { epoch: 3, loss: 0.6, trainAcc: 0.78, testAcc: 0.75, examplesPerSec: 1000, seconds: 1 },
];

/** The line of one series: Vega labels each line mark with its data. */
function seriesPath(svg: string, label: string): string {
  const match = new RegExp(`<path aria-label="[^"]*series: ${label}"[^>]*\\sd="([^"]+)"[^>]*stroke="([^"]+)"`).exec(
    svg,
  );
  if (!match) throw new Error(`no line for ${label}`);
  return match[1]!;
}

describe("curves.svg", () => {
  it("is well-formed SVG with one line per series, one point per epoch, and a legend", async () => {
    const svg = await curvesSvg(history, "lenet");
    assertWellFormedXml(svg);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/class="mark-line role-mark/g)).toHaveLength(3);
    for (const s of SERIES) {
      const d = seriesPath(svg, s.label);
      // M x,y then L x,y per further epoch.
      expect(d.match(/[ML]/g)).toHaveLength(history.length);
      expect(svg).toContain(`>${s.label}</text>`);
    }
  });

  it("draws higher values higher: test acc rises, so its line's y falls (SVG y grows downwards)", async () => {
    const svg = await curvesSvg(history, "lenet");
    const ys = seriesPath(svg, "test acc")
      .split(/[ML]/)
      .filter(Boolean)
      .map((p) => Number(p.split(",")[1]));
    expect(ys).toHaveLength(3);
    expect(ys[0]!).toBeGreaterThan(ys[1]!);
    expect(ys[1]!).toBeGreaterThan(ys[2]!);
    const lossYs = seriesPath(svg, "train loss")
      .split(/[ML]/)
      .filter(Boolean)
      .map((p) => Number(p.split(",")[1]));
    expect(lossYs[0]!).toBeLessThan(lossYs[2]!);
  });
});
