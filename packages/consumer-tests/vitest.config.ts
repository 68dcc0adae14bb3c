import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // npm installs from the registry: minutes on a slow link.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: "forks",
    // The JSON report is what .ci/run counts.
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
