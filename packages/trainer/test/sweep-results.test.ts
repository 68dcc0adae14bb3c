import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vegaLiteSvg } from "../src/chart.js";
import { type RunResult, resultRows, resultsChart, resultsCsv, resultsMarkdown } from "../src/sweep/results.js";
import { expandSpec, readSweep, runId, type SweepRun } from "../src/sweep/spec.js";
import { assertWellFormedXml, PACKAGE_DIR } from "./helpers.js";

const run = (seed: number, lr = 0.9): SweepRun => {
  const r = { sweep: "s", network: "lenet", epochs: 10, lr, batchSize: 256, inputSize: 28, limit: undefined, seed };
  return { id: runId("lenet", r), ...r };
};
const done = (r: SweepRun, testAcc: number, engine = "wasm (simd, 1 thread)"): RunResult => ({
  run: r,
  status: "complete",
  summary: {
    epochs: 10,
    loss: 0.5 + r.seed / 100,
    trainAcc: 0.8,
    testAcc,
    examplesPerSec: 1000 * (r.seed + 1),
    seconds: 60 + r.seed,
    engine,
  },
});

describe("a sweep's results table", () => {
  const results: RunResult[] = [
    done(run(0), 0.75),
    done(run(1), 0.78),
    done(run(2), 0.72, "webgpu (NVIDIA H200, vulkan)"),
    done(run(0, 0.3), 0.7),
    { run: run(1, 0.3), status: "diverged", message: "The loss became NaN" },
  ];

  it("one row per network and recipe: the mean, min and max over the complete seeds, how many of how many", () => {
    const rows = resultRows(results);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      lr: 0.9,
      seeds: [0, 1, 2],
      complete: 3,
      loss: 0.51,
      examplesPerSec: 2000,
      seconds: 61,
    });
    expect(rows[0]!.testAcc!.mean).toBeCloseTo(0.75, 12);
    expect(rows[0]!.testAcc).toMatchObject({ min: 0.72, max: 0.78 });
    expect(rows[0]!.engines).toEqual(["wasm (simd, 1 thread)", "webgpu (NVIDIA H200, vulkan)"]);
    expect(rows[1]).toMatchObject({ lr: 0.3, seeds: [0, 1], complete: 1, testAcc: { mean: 0.7, min: 0.7, max: 0.7 } });

    const markdown = resultsMarkdown("s", rows);
    expect(markdown).toContain(
      "| lenet | 10 ep, lr 0.9, batch 256, 28×28 | 3 of 3 | 0.750 (0.720–0.780) | 0.510 | 2,000 | 1m 01s | wasm (simd, 1 thread); webgpu (NVIDIA H200, vulkan) |",
    );
    expect(markdown).toContain("| lenet | 10 ep, lr 0.3, batch 256, 28×28 | 1 of 2 | 0.700 (0.700–0.700) |");

    const csv = resultsCsv(rows).trim().split("\n");
    expect(csv).toHaveLength(3);
    expect(csv[1]!.startsWith("lenet,10,0.9,256,28,,0 1 2,3,")).toBe(true);
    // The engine list holds a comma: the field is quoted.
    expect(csv[1]).toContain('"wasm (simd, 1 thread); webgpu (NVIDIA H200, vulkan)"');
  });

  it("the vega-lite chart has one point per complete seed and draws", async () => {
    const chart = resultsChart("s", results) as {
      data: { values: { network: string; seed: number; testAcc: number }[] };
    };
    expect(chart.data.values.map((v) => [v.seed, v.testAcc])).toEqual([
      [0, 0.75],
      [1, 0.78],
      [2, 0.72],
      [0, 0.7],
    ]);
    const svg = await vegaLiteSvg(chart);
    assertWellFormedXml(svg);
    expect(svg).toContain("Sweep s: test accuracy, one point per seed");
    expect(svg).toContain("lenet");
  });
});

describe("a sweep spec", () => {
  it("crosses networks, seeds and recipe lists; fills in each network's recipe; names each run by it", async () => {
    const { name, runs } = await expandSpec(
      {
        name: "grid",
        networks: ["lenet", "lenet-bn"],
        seeds: [0, 1],
        recipe: { lr: [0.1, 0.5], epochs: 3 },
        runs: [{ network: "lenet", lr: 0.1, epochs: 3 }],
      },
      "grid.yaml",
      PACKAGE_DIR,
      "default",
    );
    expect(name).toBe("grid");
    expect(runs).toHaveLength(8); // the explicit run is the grid's lenet, seed 0, lr 0.1
    expect(runs.map((r) => r.id)).toContain("lenet-e3-lr0.1-b256-in28-all-s0");
    expect(runs.find((r) => r.network === "lenet-bn")).toMatchObject({ epochs: 3, batchSize: 256, inputSize: 28 });
    expect(new Set(runs.map((r) => r.id)).size).toBe(8);
  });

  it("crosses the lists of a single run too; the example fidelity spec is 29 runs", async () => {
    const { runs } = await expandSpec(
      { runs: [{ network: "lenet", seed: [0, 1, 2], lr: [0.3, 0.9] }] },
      "one.yaml",
      PACKAGE_DIR,
      "one",
    );
    expect(runs.map((r) => `${r.seed}/${r.lr}`)).toEqual(["0/0.3", "0/0.9", "1/0.3", "1/0.9", "2/0.3", "2/0.9"]);
    const fidelity = await readSweep(join(PACKAGE_DIR, "examples", "fidelity-sweep.yaml"), PACKAGE_DIR);
    expect(fidelity.runs).toHaveLength(29);
    expect(fidelity.runs.find((r) => r.network === "nin")).toMatchObject({
      inputSize: 67,
      limit: 16_000,
      epochs: 12,
      lr: 0.025,
      batchSize: 32,
    });
  });
});
