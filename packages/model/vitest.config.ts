import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The JSON report is what .ci/run counts.
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
