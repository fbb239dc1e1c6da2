/**
 * The exercises of lessons 05-08, solved here the way a learner would (plain arrays, formulas
 * written out; lesson 08's as a gpu.js kernel through `runGpuKernel`, as the lesson asks), run
 * through the checks: each must pass, a learner's unsolved stub must report "not implemented",
 * and a typical mistake must fail naming the exercise (and the case, where the mistake shows on
 * one). A checker whose reference were wrong would fail the first; a checker that accepted
 * anything would fail the last.
 */
import { runGpuKernel } from "../../../lib/src/index";
import { type Mistake, type Solved, exerciseChecks } from "../../helpers/exercises";

/**
 * Lesson 05, in closed form rather than as a loop: a real word x_t ends with weight
 * decay^(number of real words after it) in channel x_t; the filler adds nothing and decays nothing.
 */
function fillerSkippingByHand(
  tokens: number[],
  vocabSize: number,
  filler: number,
  decay: number,
): number[] {
  const words = tokens.filter((x) => x !== filler);
  const h = new Array(vocabSize).fill(0);
  words.forEach((x, t) => (h[x] += decay ** (words.length - 1 - t)));
  return h;
}

/** Lesson 06: h'_i = e^{Δ A_i} h_i + Δ B_i u, then y = Σ_i C_i h'_i, one state entry at a time. */
function selectiveStepByHand(
  h: number[],
  u: number,
  delta: number,
  A: number[],
  B: number[],
  C: number[],
) {
  const next: number[] = [];
  let y = 0;
  for (let i = 0; i < h.length; i++) {
    const decay = Math.exp(delta * A[i]);
    next.push(decay * h[i] + delta * B[i] * u);
    y += C[i] * next[i];
  }
  return { h: next, y };
}

/** Lesson 06: softplus(x) = max(x, 0) + log(1 + e^{−|x|}), which never overflows. */
const softplusByHand = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Lesson 06: Δ = dtMin (dtMax/dtMin)^v is log-uniform; the bias is log(e^Δ − 1) = Δ + log(1 − e^{−Δ}). */
function dtBiasByHand(v: number[], dtMin: number, dtMax: number): number[] {
  return v.map((vi) => {
    const dt = dtMin * (dtMax / dtMin) ** vi;
    return dt + Math.log(-Math.expm1(-dt));
  });
}

/** Lesson 07: h → a1 h + b1, then h → a2 h + b2, is h → a1 a2 h + (a2 b1 + b2). */
const combineByHand = ([a1, b1]: [number, number], [a2, b2]: [number, number]) => [
  a1 * a2,
  a2 * b1 + b2,
];

/**
 * Lesson 07: Blelloch's down-sweep on copies, with the scan operator `op` (prefix first): the root
 * becomes the identity, then at each level a node's old value goes to its left child and the node
 * becomes (old value) ∘ (left child's old value).
 */
function downSweepByHand(a: number[], b: number[], op = combineByHand): [number[], number[]] {
  const x: [number, number][] = a.map((ai, i) => [ai, b[i]]);
  const P = x.length;
  x[P - 1] = [1, 0];
  for (let stride = P; stride >= 2; stride /= 2) {
    for (let i = stride - 1; i < P; i += stride) {
      const left = i - stride / 2;
      const saved = x[left];
      x[left] = x[i];
      x[i] = op(x[i], saved) as [number, number];
    }
  }
  return [x.map((p) => p[0]), x.map((p) => p[1])];
}

/** The `this` gpu.js gives a kernel of lesson 08's exercise. */
interface SummaryThread {
  thread: { x: number; y: number; z: number };
  constants: { T: number; L: number };
}

/**
 * Lesson 08: one gpu.js thread per (n, c, d) runs s ← e^{Δ_t A[d][n]} s + Δ_t B[n][t] u[d][t]
 * over chunk c from s = 0, on gpu.js's CPU backend (the mode the exercise cell sets).
 */
function chunkSummariesByHand(
  u: number[][],
  delta: number[][],
  A: number[][],
  B: number[][],
  T: number,
) {
  const [D, L, N] = [u.length, u[0].length, A[0].length];
  const settings = {
    output: [N, Math.ceil(L / T), D],
    constants: { T, L },
    loopMaxIterations: T,
    mode: "cpu" as const,
  };
  const kernel = function (
    this: SummaryThread,
    u: number[][],
    delta: number[][],
    A: number[][],
    B: number[][],
  ): number {
    const n = this.thread.x;
    const c = this.thread.y;
    const d = this.thread.z;
    let s = 0;
    for (let k = 0; k < this.constants.T; k++) {
      const t = c * this.constants.T + k;
      if (t < this.constants.L) {
        s = Math.exp(delta[d][t] * A[d][n]) * s + delta[d][t] * B[n][t] * u[d][t];
      }
    }
    return s;
  };
  return runGpuKernel(kernel as (...args: never[]) => number, settings, u, delta, A, B).output;
}

const solved: Solved[] = [
  ["filler-skipping-memory", fillerSkippingByHand],
  ["s6-selective-step", selectiveStepByHand],
  ["s6-softplus", softplusByHand],
  ["s6-dt-bias-init", dtBiasByHand],
  ["scan-combine", combineByHand],
  ["blelloch-down-sweep", downSweepByHand],
  ["gpu-chunk-summary", chunkSummariesByHand],
];

const mistakes: Mistake[] = [
  [
    "filler-skipping-memory",
    "the filler decays the memory too (the LTI memory of the lesson)",
    (tokens: number[], vocabSize: number, filler: number, decay: number) => {
      const h = new Array(vocabSize).fill(0);
      tokens.forEach((x, t) => {
        if (x !== filler) h[x] += decay ** (tokens.length - 1 - t);
      });
      return h;
    },
    /filler-skipping-memory: wrong result on case \d+\/\d+ \(the lesson's sentence/,
  ],
  [
    "s6-selective-step",
    "y read from the state before the step",
    (h: number[], u: number, delta: number, A: number[], B: number[], C: number[]) => ({
      h: selectiveStepByHand(h, u, delta, A, B, C).h,
      y: h.reduce((s, hi, i) => s + C[i] * hi, 0),
    }),
    /s6-selective-step: wrong result/,
  ],
  [
    "s6-softplus",
    "log(1 + e^x), which overflows",
    (x: number) => Math.log(1 + Math.exp(x)),
    /s6-softplus: wrong result on case \d+\/\d+ \(a large x \(e\^x overflows\)\)/,
  ],
  [
    "s6-dt-bias-init",
    "the bias set to Δ itself (softplus not inverted)",
    (v: number[], dtMin: number, dtMax: number) => v.map((vi) => dtMin * (dtMax / dtMin) ** vi),
    /s6-dt-bias-init: wrong result/,
  ],
  [
    "scan-combine",
    "the later pair applied first",
    ([a1, b1]: [number, number], [a2, b2]: [number, number]) => [a1 * a2, a1 * b2 + b1],
    /scan-combine: wrong result on case \d+\/\d+ \(\(2, 1\) then \(3, 1\)\)/,
  ],
  [
    "blelloch-down-sweep",
    "the saved left child combined first",
    (a: number[], b: number[]) =>
      downSweepByHand(a, b, (x: [number, number], y: [number, number]) => combineByHand(y, x)),
    /blelloch-down-sweep: wrong result/,
  ],
  [
    "gpu-chunk-summary",
    "the input term without Δ (B u instead of Δ B u)",
    (u: number[][], delta: number[][], A: number[][], B: number[][], T: number) =>
      u.map((ud, d) =>
        Array.from({ length: Math.ceil(ud.length / T) }, (_, c) =>
          A[d].map((a, n) => {
            let s = 0;
            for (let t = c * T; t < Math.min(ud.length, (c + 1) * T); t++) {
              s = Math.exp(delta[d][t] * a) * s + B[n][t] * ud[t];
            }
            return s;
          }),
        ),
      ),
    /gpu-chunk-summary: wrong result/,
  ],
];

exerciseChecks("05-08", solved, mistakes);
