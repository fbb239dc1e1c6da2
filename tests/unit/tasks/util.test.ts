/**
 * Scoring and display of task sets (lib/src/tasks/util.ts): tokenAccuracy, accuracyByTarget and
 * chanceAccuracy on predictions with known mistakes, and renderExample.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  accuracyByTarget,
  chanceAccuracy,
  copying,
  inductionHeads,
  renderExample,
  selectiveCopying,
  taskExample,
  tokenAccuracy,
} from "../../../lib/src/index";

describe("scoring and display", () => {
  it("tokenAccuracy, accuracyByTarget and chanceAccuracy", () => {
    const s = selectiveCopying(new Rng(31), { count: 4, length: 6, numTokens: 2, vocabSize: 6 });
    const pred = Int32Array.from(s.targets);
    expect(tokenAccuracy(pred, s)).toBe(1);
    pred[0] = 0;
    pred[2] = 0;
    expect(tokenAccuracy(pred, s)).toBe(6 / 8);
    expect(accuracyByTarget(pred, s)).toEqual([0.5, 1]);
    expect(chanceAccuracy(s)).toBe(1 / 4);
    expect(chanceAccuracy(inductionHeads(new Rng(1), { count: 1, length: 5, vocabSize: 6 }))).toBe(
      1 / 5,
    );
    expect(() => tokenAccuracy([1, 2], s)).toThrow(
      /tokenAccuracy: argument 'predictions' must be an array of 8/,
    );
  });

  it("renderExample draws noise, markers, triggers and tokens", () => {
    const s = copying(new Rng(1), { count: 1, length: 5, numTokens: 2, vocabSize: 6 });
    const { target } = taskExample(s, 0);
    const letters = target.map((t) => "ABCD"[t - 1]).join("");
    expect(renderExample(s, 0)).toBe(`${letters}···?? → ${letters}`);
    const ih = inductionHeads(new Rng(2), { count: 1, length: 4, vocabSize: 4 });
    expect(renderExample(ih, 0)).toMatch(/^[abc*]{3}\* → [abc]$/);
  });
});
