import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/** The kernels are tested on the single-threaded build and on the threaded one with every core (at least 2). */
const ALL_CORES = String(Math.max(2, availableParallelism()));

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The JSON report is what .ci/run counts.
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
    projects: [
      { extends: true, test: { name: "1 thread", env: { CONVNETS_TEST_THREADS: "1" } } },
      { extends: true, test: { name: `${ALL_CORES} threads`, env: { CONVNETS_TEST_THREADS: ALL_CORES } } },
    ],
  },
});
