import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // lavapipe (software Vulkan) compiles each shader on the CPU and runs the recipe-shape kernels slowly.
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: "forks",
    // The JSON report is what .ci/run counts.
    reporters: ["default", "json"],
    outputFile: { json: "test-results.json" },
  },
});
