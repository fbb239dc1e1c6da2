import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** The repository: test paths and fixtures are relative to it. */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// Two projects: `npm run test:unit` (tests/unit: lib's functions and the scripts' pure parts,
// files in parallel, seconds) and `npm run test:integration` (tests/integration: Jupyter,
// nbclient, Chromium, the kernel, the runner, start and install; real servers and kernels, so
// one file at a time and generous timeouts). One file: `npm run vitest -- run tests/unit/rng.test.ts`.
export default defineConfig({
  test: {
    projects: [
      {
        root,
        test: {
          name: "unit",
          root,
          include: ["tests/unit/**/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        root,
        test: {
          name: "integration",
          root,
          include: ["tests/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
