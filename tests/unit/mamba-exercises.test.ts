import { describe, expect, it } from "vitest";
import { evaluateExercise } from "../../lib/src/exercises/check";
import { causalConv1dArrays, convStateStep } from "../../lib/src/exercises/09-mamba-block";
import { Rng } from "../../lib/src/rng";

describe("lesson 09 exercises", () => {
  it("the conv-state step over a sequence from a zero state equals the causal conv (two algorithms)", () => {
    const rng = new Rng(2);
    for (const [d, l, k] of [
      [3, 10, 4],
      [1, 2, 4],
      [2, 5, 1],
    ]) {
      const x = Array.from({ length: d }, () => Array.from({ length: l }, () => rng.normal()));
      const w = Array.from({ length: d }, () => Array.from({ length: k }, () => rng.normal()));
      const bias = Array.from({ length: d }, () => rng.normal());
      const want = causalConv1dArrays(x, w, bias);
      let state = Array.from({ length: d }, () => new Array(k).fill(0));
      for (let t = 0; t < l; t++) {
        const r = convStateStep(
          state,
          x.map((row) => row[t]),
          w,
          bias,
        );
        state = r.state;
        r.y.forEach((v, c) => expect(Math.abs(v - want[c][t])).toBeLessThan(1e-12));
      }
    }
  });
  it("the checks pass the solutions and fail a kernel read the wrong way round", () => {
    expect(evaluateExercise("mamba-causal-conv1d", causalConv1dArrays).status).toBe("passed");
    expect(evaluateExercise("mamba-conv-state-step", convStateStep).status).toBe("passed");
    const flipped = (x: number[][], w: number[][], b: number[]) =>
      causalConv1dArrays(
        x,
        w.map((row) => [...row].reverse()),
        b,
      );
    expect(() => evaluateExercise("mamba-causal-conv1d", flipped)).toThrow(/mamba-causal-conv1d/);
    const noShift = (s: number[][], x: number[], w: number[][], b: number[]) =>
      convStateStep(
        s.map((row) => [...row.slice(0, -1), 0]),
        x,
        w,
        b,
      );
    expect(() => evaluateExercise("mamba-conv-state-step", noShift)).toThrow(
      /mamba-conv-state-step/,
    );
  });
});
