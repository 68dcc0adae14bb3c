import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    // One browser at a time: the machine has 2 cores and the page trains on them.
    fileParallelism: false,
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
