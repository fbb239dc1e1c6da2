/**
 * The exercises of lesson 13, solved here the way a learner would (plain arrays, formulas written
 * out, nothing from lib), run through the checks: each must pass, a learner's unsolved stub must
 * report "not implemented", and a typical mistake must fail naming the exercise.
 */
import { type Mistake, type Solved, exerciseChecks } from "../../helpers/exercises";

/** Sums each segment from its own terms, column by column. */
function segsumByHand(a: number[]): number[][] {
  const T = a.length;
  const out = Array.from({ length: T }, () => new Array<number>(T).fill(-Infinity));
  for (let j = 0; j < T; j++) {
    let s = 0;
    out[j][j] = 0;
    for (let i = j + 1; i < T; i++) out[i][j] = s += a[i];
  }
  return out;
}

/** Differences of cumulative sums: right in exact arithmetic, wrong after a huge first decay. */
function segsumNaive(a: number[]): number[][] {
  const cum: number[] = [];
  a.reduce((s, v, i) => (cum[i] = s + v), 0);
  return a.map((_, i) => a.map((_, j) => (j <= i ? cum[i] - cum[j] : -Infinity)));
}

function intraChunkByHand(x: number[][], a: number[], B: number[][], C: number[][]): number[][] {
  const S = segsumByHand(a);
  return x.map((_, t) => {
    const y = new Array<number>(x[0].length).fill(0);
    for (let s = 0; s <= t; s++) {
      const score = C[t].reduce((acc, c, n) => acc + c * B[s][n], 0);
      const w = score * Math.exp(S[t][s]);
      x[s].forEach((v, p) => (y[p] += w * v));
    }
    return y;
  });
}

const solved: Solved[] = [
  ["stable-segsum", segsumByHand],
  ["intra-chunk-output", intraChunkByHand],
];

const mistakes: Mistake[] = [
  ["stable-segsum", "differences of cumulative sums", segsumNaive, /huge first decay/],
  [
    "stable-segsum",
    "0 instead of −∞ above the diagonal",
    (a: number[]) => segsumByHand(a).map((row) => row.map((v) => (v === -Infinity ? 0 : v))),
  ],
  [
    "stable-segsum",
    "the segment includes a[j]",
    (a: number[]) => segsumByHand(a).map((row, i) => row.map((v, j) => (j <= i ? v + a[j] : v))),
  ],
  [
    "intra-chunk-output",
    "no causal mask (every s, not s ≤ t)",
    (x: number[][], a: number[], B: number[][], C: number[][]) =>
      x.map((_, t) => {
        const y = new Array<number>(x[0].length).fill(0);
        for (let s = 0; s < x.length; s++) {
          const S = s <= t ? segsumByHand(a)[t][s] : -segsumByHand(a)[s][t];
          const w = C[t].reduce((acc, c, n) => acc + c * B[s][n], 0) * Math.exp(S);
          x[s].forEach((v, p) => (y[p] += w * v));
        }
        return y;
      }),
  ],
  [
    "intra-chunk-output",
    "no decay (plain masked attention)",
    (x: number[][], a: number[], B: number[][], C: number[][]) =>
      intraChunkByHand(
        x,
        a.map(() => 0),
        B,
        C,
      ),
  ],
];

exerciseChecks("13", solved, mistakes);
