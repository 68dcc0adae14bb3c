import { defineConfig } from "vitest/config";
import { convnetsNetworks } from "./vite.config.js";

export default defineConfig({
  // src/networks.ts imports the page's network packages through this plugin's virtual module.
  plugins: [convnetsNetworks()],
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
