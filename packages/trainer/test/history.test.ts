import type { EpochMetrics } from "@convnets/core";
import { describe, expect, it } from "vitest";
import { formatDuration } from "../src/format.js";
import { d2lLines, historyCsv, overallExamplesPerSec } from "../src/history.js";
import { collapsed } from "../src/train-run.js";

const epoch = (
  n: number,
  loss: number,
  trainAcc: number,
  testAcc: number,
  examplesPerSec = 1000,
  seconds = 60,
): EpochMetrics => ({
  epoch: n,
  loss,
  trainAcc,
  testAcc,
  examplesPerSec,
  seconds,
});

describe("the d2l lines", () => {
  it("print the last epoch's metrics to three decimals and examples/sec over the whole run, as train_ch6 does", () => {
    // 60,000 examples in 2 s, then 60,000 in 6 s: 120,000 / 8 s = 15,000/s (not the mean of 30,000 and 10,000).
    const history = [epoch(1, 0.9, 0.6, 0.65, 30_000, 2), epoch(2, 0.4691, 0.8234, 0.7786, 10_000, 6)];
    expect(overallExamplesPerSec(history)).toBe(15_000);
    expect(d2lLines(history, "wasm (simd, 1 thread)")).toEqual([
      "loss 0.469, train acc 0.823, test acc 0.779",
      "15000.0 examples/sec on wasm (simd, 1 thread)",
    ]);
  });

  it("history.csv has a header and one full-precision row per epoch", () => {
    expect(historyCsv([epoch(1, 0.123456789, 0.5, 0.25, 1234.5, 3.25)])).toBe(
      "epoch,loss,train_acc,test_acc,examples_per_sec,seconds\n1,0.123456789,0.5,0.25,1234.5,3.25\n",
    );
  });
});

describe("a collapsed run", () => {
  const chance = Math.log(10);
  it("is one stuck at chance after many steps: loss ≈ ln 10 and accuracy near 0.1", () => {
    const stuck = [epoch(1, chance + 0.01, 0.1, 0.1), epoch(2, chance, 0.099, 0.1)];
    expect(collapsed(stuck, 235, 10)).toBe(true);
  });
  it("is not a run still warming up (too few steps), nor one that learns", () => {
    const stuck = [epoch(1, chance, 0.1, 0.1), epoch(2, chance, 0.1, 0.1)];
    expect(collapsed(stuck, 2, 10)).toBe(false);
    expect(collapsed([epoch(1, chance, 0.1, 0.1)], 235, 10)).toBe(false);
    expect(collapsed([epoch(1, 2.2, 0.15, 0.2), epoch(2, 0.9, 0.65, 0.66)], 235, 10)).toBe(false);
  });
});

describe("durations", () => {
  it("read at a glance", () => {
    expect(formatDuration(2.34)).toBe("2.3 s");
    expect(formatDuration(42.4)).toBe("42 s");
    expect(formatDuration(65)).toBe("1m 05s");
    expect(formatDuration(3 * 3600 + 4 * 60)).toBe("3h 04m");
  });
});
