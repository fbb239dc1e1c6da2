/**
 * The exercises of lessons 09-12, solved here the way a learner would (plain arrays, formulas
 * written out, nothing from lib), run through the checks: each must pass, a learner's unsolved
 * stub must report "not implemented", and a typical mistake must fail naming the exercise. A
 * checker whose reference were wrong would fail the first; a checker that accepted anything would
 * fail the last.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../lib/src/index";
import { type Mistake, type Solved, exerciseChecks } from "../../helpers/exercises";
import { causalConv1dArrays, convStateStep } from "../../../lib/src/exercises/09-mamba-block";

/** y[c][t] = bias[c] + Σ_j w[c][j] · x[c][t − (k−1) + j], x = 0 before position 0. */
function causalConvByHand(x: number[][], w: number[][], bias: number[]): number[][] {
  return x.map((row, c) => {
    const k = w[c].length;
    const padded = [...new Array(k - 1).fill(0), ...row];
    return row.map((_, t) => {
      let s = bias[c];
      for (let j = 0; j < k; j++) s += w[c][j] * padded[t + j];
      return s;
    });
  });
}

/** Drop the oldest input, append x[c], and take the dot product with the kernel. */
function convStepByHand(state: number[][], x: number[], w: number[][], bias: number[]) {
  const next: number[][] = [];
  const y: number[] = [];
  for (let c = 0; c < state.length; c++) {
    const row = state[c].slice(1);
    row.push(x[c]);
    next.push(row);
    let s = bias[c];
    for (let j = 0; j < row.length; j++) s += row[j] * w[c][j];
    y.push(s);
  }
  return { state: next, y };
}

/** ∂x_i = r g_i w_i − x_i r³ (Σ_j g_j w_j x_j) / d, r = 1 / sqrt(mean(x²) + eps). */
function rmsNormBackwardByHand(x: number[], w: number[], eps: number, g: number[]): number[] {
  const d = x.length;
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / d + eps);
  let dot = 0;
  for (let j = 0; j < d; j++) dot += g[j] * w[j] * x[j];
  return x.map((xi, i) => r * g[i] * w[i] - (xi * r ** 3 * dot) / d);
}

/** One step of the adjoint recurrence of the selective scan, for one channel. */
function reverseScanStepByHand(
  carry: number[],
  gO: number,
  C: number[],
  dt: number,
  A: number[],
  B: number[],
  u: number,
  xPrev: number[],
): [number[], number[], number, number[]] {
  const h: number[] = [];
  const dB: number[] = [];
  const next: number[] = [];
  let dDelta = 0;
  for (let n = 0; n < carry.length; n++) {
    const hn = carry[n] + gO * C[n];
    const decay = Math.exp(dt * A[n]);
    h.push(hn);
    dB.push(hn * dt * u);
    dDelta += hn * A[n] * decay * xPrev[n] + hn * B[n] * u;
    next.push(decay * hn);
  }
  return [h, dB, dDelta, next];
}

/** angle_j = distance / θ^(2j / headDim). */
function ropeAnglesByHand(headDim: number, theta: number, distance: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < headDim / 2; j++) out.push(distance / theta ** ((2 * j) / headDim));
  return out;
}

/** Keys and values: 2 · layers · kvHeads · headDim float32 numbers per position and sequence. */
function kvCacheBytesByHand(
  layers: number,
  kvHeads: number,
  headDim: number,
  position: number,
  batch: number,
): number {
  return 2 * layers * kvHeads * headDim * position * batch * 4;
}

/** Mean over positions of −log₂ softmax(logits[t])[targets[t]], with the max subtracted. */
function bitsPerCharByHand(logits: number[][], targets: number[]): number {
  let total = 0;
  logits.forEach((row, t) => {
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    total += (lse - row[targets[t]]) / Math.LN2;
  });
  return total / logits.length;
}

const solved: Solved[] = [
  ["mamba-causal-conv1d", causalConvByHand],
  ["mamba-conv-state-step", convStepByHand],
  ["rmsnorm-backward", rmsNormBackwardByHand],
  ["reverse-scan-step", reverseScanStepByHand],
  ["rope-angles", ropeAnglesByHand],
  ["kv-cache-bytes", kvCacheBytesByHand],
  ["bits-per-char", bitsPerCharByHand],
];

const mistakes: Mistake[] = [
  [
    "mamba-causal-conv1d",
    "the kernel read the wrong way round",
    (x: number[][], w: number[][], b: number[]) =>
      causalConvByHand(
        x,
        w.map((row) => [...row].reverse()),
        b,
      ),
  ],
  [
    "mamba-conv-state-step",
    "the state not shifted",
    (s: number[][], x: number[], w: number[][], b: number[]) =>
      convStepByHand(
        s.map((row) => [x[0], ...row.slice(0, -1)]),
        x,
        w,
        b,
      ),
  ],
  [
    "rmsnorm-backward",
    "the path through r forgotten",
    (x: number[], w: number[], eps: number, g: number[]) => {
      const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
      return x.map((_, i) => r * g[i] * w[i]);
    },
  ],
  [
    "reverse-scan-step",
    "the carry not decayed",
    (...args: Parameters<typeof reverseScanStepByHand>) => {
      const [h, dB, dDelta] = reverseScanStepByHand(...args);
      return [h, dB, dDelta, h];
    },
  ],
  [
    "rope-angles",
    "the exponent j / headDim instead of 2j / headDim",
    (headDim: number, theta: number, distance: number) =>
      Array.from({ length: headDim / 2 }, (_, j) => distance / theta ** (j / headDim)),
  ],
  [
    "kv-cache-bytes",
    "the values forgotten",
    (...args: Parameters<typeof kvCacheBytesByHand>) => kvCacheBytesByHand(...args) / 2,
  ],
  [
    "bits-per-char",
    "nats instead of bits",
    (logits: number[][], targets: number[]) => bitsPerCharByHand(logits, targets) * Math.LN2,
  ],
];

exerciseChecks("09-12", solved, mistakes);

describe("lesson 09's two references agree (two algorithms)", () => {
  it("the conv-state step over a sequence from a zero state equals the causal conv", () => {
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
});
