import { architectureChecks } from "@convnets/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alexnetFeatureSize, alexnetSpec } from "../src/index.js";
import { ALEXNET } from "./network.js";

// Parameter count, the book's shape walk, names, dropout and biases, JSON round trip, input sizes and the
// spec: the checks every network runs, from AlexNet's row. Built and inspected on the cpu backend, so that
// they do not depend on the wasm engine (training.test.ts runs the computations on wasm).
architectureChecks({ describe, it, expect, beforeAll, afterAll }, ALEXNET);

describe("alexnetFeatureSize", () => {
  it("computes the minimum from the architecture: 65 leaves a 1×1 map, 64 nothing", () => {
    expect(alexnetSpec.minInputSize).toBe(65);
    expect(alexnetFeatureSize(224)).toBe(5);
    expect(alexnetFeatureSize(100)).toBe(2);
    expect(alexnetFeatureSize(65)).toBe(1);
    expect(alexnetFeatureSize(64)).toBe(0);
  });
});
