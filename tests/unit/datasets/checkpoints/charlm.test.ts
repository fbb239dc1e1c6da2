/**
 * The committed character-level LM checkpoints of lesson 12 (datasets/checkpoints/charlm/):
 * described in datasets/README.md, loadable, recording their vocabulary and size, and scoring the
 * last point of their recorded validation curve again.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  charVocabulary,
  datasetsDir,
  encodeChars,
  evaluateBitsPerChar,
  loadDatasetText,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
  mambaForward,
  mambaParamCount,
  splitTrainValidation,
  transformerForward,
  transformerParamCount,
  validationWindows,
} from "../../../../lib/src/index";

const root = path.join(datasetsDir(), "checkpoints", "charlm");
const text = loadDatasetText("austen-persuasion.txt");
const vocab = charVocabulary(text);
const split = splitTrainValidation(encodeChars(vocab, text), 0.1);

describe("the committed character-level LM checkpoints (lesson 12)", () => {
  it("are described in datasets/README.md", () => {
    const readme = readFileSync(path.join(datasetsDir(), "README.md"), "utf8");
    expect(readme).toMatch(/^## `checkpoints\/charlm\/`/m);
  });

  for (const model of ["mamba", "transformer"] as const) {
    it(`${model}: loads, records the vocabulary and its size, and scores the recorded validation curve's last point`, () => {
      const dir = path.join(root, model);
      const info = JSON.parse(readFileSync(path.join(dir, "charlm.json"), "utf8"));
      expect(info.vocabulary).toBe(vocab.chars.join(""));
      const set = validationWindows(split.validation, info.context, info.val_curve_windows);
      const last = info.val_curve[info.val_curve.length - 1];
      expect(last.step).toBe(info.steps);
      let bits: number;
      if (model === "mamba") {
        const m = loadMambaCheckpoint(dir);
        expect(mambaParamCount(m.config)).toBe(info.parameters);
        bits = evaluateBitsPerChar((t) => mambaForward(m, t), set, 8);
      } else {
        const m = loadTransformerCheckpoint(dir);
        expect(transformerParamCount(m.config)).toBe(info.parameters);
        bits = evaluateBitsPerChar((t) => transformerForward(m, t), set, 8);
      }
      // The same float32 arithmetic as the script's evaluation: equal to many digits.
      expect(bits).toBeCloseTo(last.val_bits_per_char, 6);
      // Both models learned something: far below the uniform log2 V.
      expect(info.val_bits_per_char).toBeLessThan(Math.log2(vocab.chars.length) - 1);
    });
  }
});
