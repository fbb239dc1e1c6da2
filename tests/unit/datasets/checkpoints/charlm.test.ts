/**
 * The committed character-level LM checkpoints and learning-rate sweeps of lesson 12
 * (datasets/checkpoints/charlm/: Mamba and the Transformer++) and lesson 13
 * (datasets/checkpoints/charlm-mamba2/: Mamba-2, the same recipe): described in datasets/README.md; every sweep record complete
 * (settings, command, a curve that ends at its final number); at least two learning rates per
 * model at seed 0, and a second seed at the chosen one (the lowest seed-0 number), a different run;
 * the three checkpoints the seed-0 runs of the chosen settings, loadable, recording their vocabulary
 * and size, and scoring their recorded validation bits/char again over every validation character.
 */
import { readFileSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  charVocabulary,
  datasetsDir,
  encodeChars,
  evaluateBitsPerChar,
  loadDatasetText,
  loadMamba2Checkpoint,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
  mamba2Forward,
  mamba2ParamCount,
  mambaForward,
  mambaParamCount,
  splitTrainValidation,
  transformerForward,
  transformerParamCount,
  validationWindows,
} from "../../../../lib/src/index";

const root = path.join(datasetsDir(), "checkpoints", "charlm");
const mamba2Root = path.join(datasetsDir(), "checkpoints", "charlm-mamba2");
const text = loadDatasetText("austen-persuasion.txt");
const vocab = charVocabulary(text);
const split = splitTrainValidation(encodeChars(vocab, text), 0.1);

/* eslint-disable @typescript-eslint/no-explicit-any */
const readJson = (file: string): any => JSON.parse(readFileSync(file, "utf8"));
const sweep = [path.join(root, "sweep"), path.join(mamba2Root, "sweep")].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => ({ dir, file: f, record: readJson(path.join(dir, f)) })),
);
const groupOf = (r: any): string =>
  r.model === "mamba" || r.model === "mamba2" ? r.model : `transformer-${r.init}`;
/** A group's chosen learning rate: the lowest final number at seed 0. */
function chosenLr(group: string): number {
  const seed0 = sweep.map((s) => s.record).filter((r) => groupOf(r) === group && r.seed === 0);
  const bits = (r: any): number => r.val_bits_per_char ?? Infinity;
  return seed0.reduce((a, b) => (bits(b) < bits(a) ? b : a)).schedule.peakLr;
}

describe("the committed character-level LM checkpoints (lesson 12)", () => {
  it("are described in datasets/README.md", () => {
    const readme = readFileSync(path.join(datasetsDir(), "README.md"), "utf8");
    expect(readme).toMatch(/^## `checkpoints\/charlm\/`/m);
    expect(readme).toMatch(/^## `checkpoints\/charlm-mamba2\/`/m);
  });

  it("sweep: every record is complete, with its log, and its curve ends at its final number", () => {
    expect(sweep.length).toBeGreaterThanOrEqual(10);
    for (const { dir, file, record: r } of sweep) {
      expect(r.vocabulary, file).toBe(vocab.chars.join(""));
      expect(r.command, file).toMatch(
        /^npm run train -- charlm --model (mamba|transformer|mamba2) /,
      );
      expect(r.command, file).toContain(`--lr ${r.schedule.peakLr}`);
      expect(r.command, file).toContain(`--seed ${r.seed}`);
      expect(readFileSync(path.join(dir, file.replace(/\.json$/, ".log")), "utf8")).toContain(
        `charlm ${file.replace(/\.json$/, "")}:`,
      );
      expect(r.validation_characters, file).toBe(
        validationWindows(split.validation, 128).targets.data.length,
      );
      if (r.diverged_at_step === undefined) {
        expect(r.steps, file).toBe(r.schedule.totalSteps);
        const last = r.val_curve[r.val_curve.length - 1];
        expect(last.step, file).toBe(r.steps);
        expect(last.val_bits_per_char, file).toBe(r.val_bits_per_char);
        expect(last.tokens, file).toBe(r.tokens);
        // CPU seconds grow along the curve.
        for (let i = 1; i < r.val_curve.length; i++) {
          expect(r.val_curve[i].cpu_seconds, file).toBeGreaterThan(r.val_curve[i - 1].cpu_seconds);
        }
      } else {
        expect(r.val_bits_per_char, file).toBeNull();
      }
    }
  });

  for (const group of ["mamba", "transformer-fan-in", "mamba2"]) {
    it(`${group}: a sweep at seed 0, and seed 1 at the chosen learning rate, a different run`, () => {
      const runs = sweep.map((s) => s.record).filter((r) => groupOf(r) === group);
      expect(
        new Set(runs.filter((r) => r.seed === 0).map((r) => r.schedule.peakLr)).size,
      ).toBeGreaterThanOrEqual(2);
      const lr = chosenLr(group);
      const [seed0, seed1] = [0, 1].map((seed) =>
        runs.find((r) => r.schedule.peakLr === lr && r.seed === seed),
      );
      expect(seed1, `${group} seed 1 at lr ${lr}`).toBeDefined();
      // Everything but the seed as in seed 0.
      expect(seed1.command).toBe(
        seed0.command.replace(/--seed 0/, "--seed 1").replace(/seed0$/, "seed1"),
      );
      // Another initialisation: its untrained model already scores differently.
      expect(seed1.val_curve[0].val_bits_per_char).not.toBe(seed0.val_curve[0].val_bits_per_char);
      expect(seed1.sample.text).not.toBe(seed0.sample.text);
    });
  }

  for (const model of ["mamba", "transformer", "mamba2"] as const) {
    it(`${model}: the seed-0 run of its best setting; loads and scores its recorded validation bits/char`, () => {
      const dir = path.join(model === "mamba2" ? mamba2Root : root, model);
      const info = readJson(path.join(dir, "charlm.json"));
      // The chosen setting of its group, seed 0: the same record as in the sweep.
      const bestLr = chosenLr(groupOf(info));
      expect(info.schedule.peakLr).toBe(bestLr);
      expect(info.seed).toBe(0);
      const twin = sweep.find(
        (s) =>
          groupOf(s.record) === groupOf(info) &&
          s.record.schedule.peakLr === bestLr &&
          s.record.seed === 0,
      );
      expect(twin?.record).toEqual(info);

      expect(info.vocabulary).toBe(vocab.chars.join(""));
      const set = validationWindows(split.validation, info.context);
      let bits: number;
      if (model === "mamba") {
        const m = loadMambaCheckpoint(dir);
        expect(mambaParamCount(m.config)).toBe(info.parameters);
        bits = evaluateBitsPerChar((t) => mambaForward(m, t), set, 16);
      } else if (model === "mamba2") {
        const m = loadMamba2Checkpoint(dir);
        expect(mamba2ParamCount(m.config)).toBe(info.parameters);
        // the engine the script evaluated on
        bits = evaluateBitsPerChar((t) => mamba2Forward(m, t, { engine: "simd" }), set, 16);
      } else {
        const m = loadTransformerCheckpoint(dir);
        expect(transformerParamCount(m.config)).toBe(info.parameters);
        bits = evaluateBitsPerChar((t) => transformerForward(m, t), set, 16);
      }
      // The script's evaluation in float32 on the default engines: lib's engines agree within
      // relative 1e-4 on logits, so to about 1e-5 bits here; a different checkpoint would be
      // off by far more than 1e-3.
      expect(Math.abs(bits - info.val_bits_per_char)).toBeLessThan(5e-5);
      // Every model learned far more than the uniform log2 V.
      expect(info.val_bits_per_char).toBeLessThan(Math.log2(vocab.chars.length) - 3);
    });
  }
});
