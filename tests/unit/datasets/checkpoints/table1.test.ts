/**
 * The committed Table 1 checkpoints of lesson 10 (datasets/checkpoints/table1/): described in
 * datasets/README.md; each of lti, s6 and mamba loads, names its variant and scores its recorded
 * held-out accuracy again.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  Rng,
  SELECTIVE_COPYING_SET,
  datasetsDir,
  loadMambaCheckpoint,
  selectiveCopying,
  taskAccuracy,
} from "../../../../lib/src/index";

const root = path.join(datasetsDir(), "checkpoints", "table1");

describe("the committed Table 1 checkpoints", () => {
  it("are described in datasets/README.md", () => {
    const readme = readFileSync(path.join(datasetsDir(), "README.md"), "utf8");
    expect(readme).toMatch(/^## `checkpoints\/table1\/`/m);
  });
  for (const variant of ["lti", "s6", "mamba"]) {
    it(`${variant}: loads, names its variant, and scores the recorded held-out accuracy`, () => {
      const dir = path.join(root, variant);
      expect(existsSync(path.join(dir, "model.safetensors"))).toBe(true);
      const info = JSON.parse(readFileSync(path.join(dir, "table1.json"), "utf8"));
      const model = loadMambaCheckpoint(dir);
      expect(model.extraConfig?.mamba_ts_variant).toBe(variant);
      expect(model.config.hidden_size).toBe(64);
      const test = selectiveCopying(new Rng(SELECTIVE_COPYING_SET.splits.test.seed), {
        ...info.task_options,
        count: 400,
      });
      expect(taskAccuracy(model, test)).toBeCloseTo(info.test_accuracy, 10);
    });
  }
});
