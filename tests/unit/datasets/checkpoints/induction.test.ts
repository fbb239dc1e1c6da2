/**
 * The committed induction-heads runs of lessons 11 and 13 (datasets/checkpoints/induction/): described in
 * datasets/README.md; every run has its record (command, log, curve) and its model;
 * extrapolation.json has the shape lessons 11 and 12 read, agrees with the evaluation's parts and
 * with its own intervals, and each model scores its recorded hits again at length 64.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  datasetsDir,
  extrapolationSet,
  inductionCorrect,
  loadMamba2Checkpoint,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
  wilsonInterval,
} from "../../../../lib/src/index";

const root = path.join(datasetsDir(), "checkpoints", "induction");
const TEST_SEED = 1_000_003; // lib/scripts/train/induction.ts
const sweep = JSON.parse(readFileSync(path.join(root, "extrapolation.json"), "utf8"));
const runNames = readdirSync(path.join(root, "runs"))
  .filter((f) => f.endsWith(".json"))
  .map((f) => f.slice(0, -5))
  .sort();

const KINDS = ["mamba", "mamba2", "transformer"] as const;

describe("the committed induction-heads runs (lessons 11 and 13)", () => {
  it("are described in datasets/README.md", () => {
    const readme = readFileSync(path.join(datasetsDir(), "README.md"), "utf8");
    expect(readme).toMatch(/^## `checkpoints\/induction\/`/m);
  });

  it("every run has its record, log and model; the records' curves end where the run stopped", () => {
    for (const kind of KINDS) expect(runNames.some((n) => n.startsWith(`${kind}-`))).toBe(true);
    for (const name of runNames) {
      const record = JSON.parse(readFileSync(path.join(root, "runs", `${name}.json`), "utf8"));
      expect(record.name).toBe(name);
      expect(record.commands.length).toBeGreaterThan(0);
      for (const c of record.commands)
        expect(c).toMatch(/^npm run train -- induction --phase train /);
      expect(existsSync(path.join(root, "runs", `${name}.log`))).toBe(true);
      expect(existsSync(path.join(root, record.model_dir, "model.safetensors"))).toBe(true);
      const last = record.evaluations[record.evaluations.length - 1];
      expect(last.accuracy).toBe(record.validation_accuracy);
      expect(record.steps).toBeGreaterThanOrEqual(last.step);
      expect(record.steps - last.step).toBeLessThan(record.eval_every);
    }
  });

  it("extrapolation.json has the shape lessons 11 and 12 read, its parts' counts and Wilson intervals", () => {
    for (const key of ["train_length", "lengths", "examples_per_length", "attention_budget_bytes"])
      expect(sweep[key]).toBeDefined();
    expect(sweep.examples_per_length).toBeGreaterThanOrEqual(128);
    for (const kind of KINDS) {
      expect(Object.keys(sweep[kind]).map(Number)).toEqual(sweep.lengths);
      expect(sweep[`${kind}_run`]).toMatch(new RegExp(`^${kind}-`));
    }
    // Recount every run and length from the part files (per-example hits, shard by shard).
    const parts = readdirSync(path.join(root, "parts")).map((f) =>
      JSON.parse(readFileSync(path.join(root, "parts", f), "utf8")),
    );
    for (const [name, run] of Object.entries<any>(sweep.runs)) {
      expect(runNames).toContain(name);
      for (const [l, a] of Object.entries<any>(run.accuracy)) {
        if (a === null) {
          expect(run.model).toBe("transformer");
          continue;
        }
        const hits = Array<string>(sweep.examples_per_length).fill("?");
        for (const p of parts.filter((q) => q.run === name && q.results[l]))
          for (let i = 0; i < p.results[l].hits.length; i++)
            hits[p.from + i] = p.results[l].hits[i];
        expect(hits.join(""), `${name} at ${l}`).toBe(run.hits[l]);
        expect(a.correct).toBe([...run.hits[l]].filter((c) => c === "1").length);
        expect(a.count).toBe(sweep.examples_per_length);
        const w = wilsonInterval(a.correct, a.count);
        expect(a.low).toBeCloseTo(w.low, 12);
        expect(a.high).toBeCloseTo(w.high, 12);
      }
    }
    // The headline accuracies are those of the named runs.
    for (const kind of KINDS) {
      const run = sweep.runs[sweep[`${kind}_run`]];
      for (const l of sweep.lengths) {
        const a = run.accuracy[String(l)];
        expect(sweep[kind][String(l)]).toBe(
          a === undefined || a === null ? null : a.correct / a.count,
        );
      }
    }
    // Distances: the test set's own trigger positions.
    const l = sweep.lengths[0];
    const set = extrapolationSet(TEST_SEED, l, sweep.examples_per_length, 16);
    expect(sweep.distances[String(l)]).toEqual(Array.from(set.triggerPositions, (p) => l - 1 - p));
  });

  for (const kind of KINDS) {
    it(`${kind}: the headline model loads and scores its recorded hits again at length 64`, () => {
      const name = sweep[`${kind}_run`];
      const dir = path.join(root, "models", name);
      const model =
        kind === "mamba"
          ? loadMambaCheckpoint(dir)
          : kind === "mamba2"
            ? loadMamba2Checkpoint(dir)
            : loadTransformerCheckpoint(dir);
      const set = extrapolationSet(TEST_SEED, 64, sweep.examples_per_length, 16);
      const got = inductionCorrect(model, set, { batchSize: 32 })!;
      expect(Array.from(got.hits).join("")).toBe(sweep.runs[name].hits["64"]);
    });
  }

  it("mamba2: scores its recorded hits again at length 1024, where it is right on some examples only", () => {
    const name = sweep.mamba2_run;
    const model = loadMamba2Checkpoint(path.join(root, "models", name));
    const want: string = sweep.runs[name].hits["1024"];
    expect(want).toMatch(/0/);
    expect(want).toMatch(/1/);
    const set = extrapolationSet(TEST_SEED, 1024, sweep.examples_per_length, 16);
    const got = inductionCorrect(model, set, { batchSize: 32 })!;
    expect(Array.from(got.hits).join("")).toBe(want);
  });
});
