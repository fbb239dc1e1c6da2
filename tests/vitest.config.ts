import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Notebook and Jupyter tests start real servers and kernels: give them room, and run test
    // files one at a time so two Jupyter servers never compete for the 2 CI cores.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
