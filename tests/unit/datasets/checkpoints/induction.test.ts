/**
 * The committed induction-heads checkpoints of lesson 11 (datasets/checkpoints/induction/):
 * described in datasets/README.md; extrapolation.json has the shape lesson 12 reads; each model
 * scores its recorded held-out accuracy again and reproduces the recorded sweep at lengths 64 and
 * 128.
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  datasetsDir,
  extrapolationSet,
  inductionCorrect,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
} from "../../../../lib/src/index";

const root = path.join(datasetsDir(), "checkpoints", "induction");
const TEST_SEED = 1_000_003; // lib/scripts/train/induction.ts
const sweep = JSON.parse(readFileSync(path.join(root, "extrapolation.json"), "utf8"));
const models = {
  mamba: () => loadMambaCheckpoint(path.join(root, "mamba")),
  transformer: () => loadTransformerCheckpoint(path.join(root, "transformer")),
};

describe("the committed induction-heads checkpoints (lesson 11)", () => {
  it("are described in datasets/README.md", () => {
    const readme = readFileSync(path.join(datasetsDir(), "README.md"), "utf8");
    expect(readme).toMatch(/^## `checkpoints\/induction\/`/m);
  });

  it("extrapolation.json has the shape lesson 12 reads", () => {
    expect(Object.keys(sweep).sort()).toEqual(
      [
        "attention_budget_bytes",
        "command",
        "examples_per_length",
        "lengths",
        "mamba",
        "train_length",
        "transformer",
      ].sort(),
    );
    for (const kind of ["mamba", "transformer"]) {
      expect(Object.keys(sweep[kind]).map(Number)).toEqual(sweep.lengths);
      for (const v of Object.values(sweep[kind]))
        expect(v === null || (typeof v === "number" && v >= 0 && v <= 1)).toBe(true);
    }
    // Mamba is never skipped; attention is skipped exactly past its budget.
    expect(Object.values(sweep.mamba).every((v) => v !== null)).toBe(true);
  });

  for (const kind of ["mamba", "transformer"] as const) {
    it(`${kind}: loads, scores its recorded held-out accuracy, and reproduces the sweep at 64 and 128`, () => {
      const dir = path.join(root, kind);
      expect(existsSync(path.join(dir, "model.safetensors"))).toBe(true);
      const info = JSON.parse(readFileSync(path.join(dir, "induction.json"), "utf8"));
      expect(info.task_options.length).toBe(sweep.train_length);
      const model = models[kind]();
      const held = extrapolationSet(TEST_SEED, info.task_options.length, 256, 16);
      const r = inductionCorrect(model, held, { batchSize: 64 })!;
      expect(r.correct / r.count).toBeCloseTo(info.held_out_accuracy, 10);
      for (const l of [64, 128]) {
        const set = extrapolationSet(TEST_SEED, l, sweep.examples_per_length, 16);
        const got = inductionCorrect(model, set, { batchSize: 32 })!;
        expect(got.correct / got.count, `length ${l}`).toBeCloseTo(sweep[kind][String(l)], 10);
      }
    });
  }
});
