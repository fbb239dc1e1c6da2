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
  wilsonInterval,
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

  it("wilsonInterval: the proportions a 95% score test keeps (found by bisection as reference)", () => {
    // Independent reference: the score test's boundary |k/n − p| = z·√(p(1 − p)/n), solved for p
    // on each side of k/n by bisection (no closed form involved).
    const z = 1.959964;
    const boundary = (k: number, n: number, lo: number, hi: number, inside: "lo" | "hi") => {
      const rejects = (p: number) => Math.abs(k / n - p) > z * Math.sqrt((p * (1 - p)) / n);
      for (let i = 0; i < 200; i++) {
        const mid = (lo + hi) / 2;
        if (rejects(mid) === (inside === "hi")) lo = mid;
        else hi = mid;
      }
      return (lo + hi) / 2;
    };
    for (const [k, n] of [
      [0, 10],
      [3, 10],
      [10, 10],
      [64, 128],
      [127, 128],
      [128, 128],
      [1, 1000],
    ]) {
      const { low, high } = wilsonInterval(k, n);
      const wantLow = k === 0 ? 0 : boundary(k, n, 0, k / n, "hi");
      const wantHigh = k === n ? 1 : boundary(k, n, k / n, 1, "lo");
      expect(low, `${k}/${n}`).toBeCloseTo(wantLow, 9);
      expect(high, `${k}/${n}`).toBeCloseTo(wantHigh, 9);
    }
    // The textbook value: 128 of 128 gives [97.1%, 100%].
    expect(wilsonInterval(128, 128).low).toBeCloseTo(0.9709, 4);
    expect(() => wilsonInterval(5, 4)).toThrow(/wilsonInterval: argument 'correct'/);
    expect(() => wilsonInterval(0, 0)).toThrow(/wilsonInterval: argument 'count'/);
  });
});
