import { describe, expect, it } from "vitest";
import { evaluateExercise, notImplemented } from "../../../lib/src/index";

/** The exercises of lessons 01 and 02, solved the way a learner would (plain arrays, no lib). */
function rk4StepByHand(
  A: number[][],
  B: number[][],
  h: number[],
  x: number[],
  dt: number,
): number[] {
  const f = (v: number[]) =>
    v.map(
      (_, i) =>
        A[i].reduce((s, a, j) => s + a * v[j], 0) + B[i].reduce((s, b, j) => s + b * x[j], 0),
    );
  const add = (v: number[], k: number[], s: number) => v.map((vi, i) => vi + s * k[i]);
  const k1 = f(h);
  const k2 = f(add(h, k1, dt / 2));
  const k3 = f(add(h, k2, dt / 2));
  const k4 = f(add(h, k3, dt));
  return h.map((hi, i) => hi + (dt / 6) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]));
}

function scalarResponseByHand(a: number, b: number, h0: number, x: number, t: number[]): number[] {
  return t.map((tk) =>
    a === 0 ? h0 + b * x * tk : Math.exp(a * tk) * h0 + ((Math.exp(a * tk) - 1) / a) * b * x,
  );
}

function zohDiagonalByHand(a: number[], b: number[], dt: number) {
  return {
    Abar: a.map((ai) => Math.exp(dt * ai)),
    Bbar: a.map((ai, i) => (ai === 0 ? dt * b[i] : ((Math.exp(dt * ai) - 1) / ai) * b[i])),
  };
}

function bilinear2x2ByHand(A: number[][], b: number[], dt: number) {
  const [[p, q], [r, s]] = A.map((row) => row.map((v) => (-dt / 2) * v));
  const m = [
    [1 + p, q],
    [r, 1 + s],
  ];
  const det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  const inv = [
    [m[1][1] / det, -m[0][1] / det],
    [-m[1][0] / det, m[0][0] / det],
  ];
  const P = A.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) + (dt / 2) * v));
  const Abar = inv.map((row) => [0, 1].map((j) => row[0] * P[0][j] + row[1] * P[1][j]));
  const Bbar = inv.map((row) => dt * (row[0] * b[0] + row[1] * b[1]));
  return { Abar, Bbar };
}

const solved: [string, unknown][] = [
  ["ssm-rk4-step", rk4StepByHand],
  ["scalar-response", scalarResponseByHand],
  ["zoh-diagonal", zohDiagonalByHand],
  ["bilinear-2x2", bilinear2x2ByHand],
];

describe("exercises of lessons 01 and 02", () => {
  it.each(solved)("%s: an independent solution passes", (id, fn) => {
    expect(evaluateExercise(id, fn).status).toBe("passed");
  });

  it.each(solved.map(([id]) => id))("%s: the learner's stub reports 'not implemented'", (id) => {
    const r = evaluateExercise(id, () => {
      throw notImplemented(id);
    });
    expect(r.status).toBe("not-implemented");
    expect(r.message).toMatch(/⏳/);
  });

  it("typical mistakes fail with a message naming the case", () => {
    // Euler instead of RK4.
    const euler = (A: number[][], B: number[][], h: number[], x: number[], dt: number) =>
      h.map(
        (hi, i) =>
          hi +
          dt *
            (A[i].reduce((s, a, j) => s + a * h[j], 0) + B[i].reduce((s, b, j) => s + b * x[j], 0)),
      );
    expect(() => evaluateExercise("ssm-rk4-step", euler)).toThrow(/ssm-rk4-step: wrong result/);
    // Forgetting the a = 0 limit gives NaN.
    const noLimit = (a: number, b: number, h0: number, x: number, t: number[]) =>
      t.map((tk) => Math.exp(a * tk) * h0 + ((Math.exp(a * tk) - 1) / a) * b * x);
    expect(() => evaluateExercise("scalar-response", noLimit)).toThrow(/a = 0/);
    // Mamba's simplified B̄ = Δb is not ZOH.
    const simplified = (a: number[], b: number[], dt: number) => ({
      Abar: a.map((ai) => Math.exp(dt * ai)),
      Bbar: b.map((bi) => dt * bi),
    });
    expect(() => evaluateExercise("zoh-diagonal", simplified)).toThrow(
      /zoh-diagonal: wrong result/,
    );
    // Forward Euler is not bilinear.
    const euler2 = (A: number[][], b: number[], dt: number) => ({
      Abar: A.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) + dt * v)),
      Bbar: b.map((v) => dt * v),
    });
    expect(() => evaluateExercise("bilinear-2x2", euler2)).toThrow(/bilinear-2x2: wrong result/);
  });
});
