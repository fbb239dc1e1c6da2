/** Exercises of lesson 13-mamba2-and-ssd: the stable segment sum and one chunk's output. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { segsumRaw, ssdQuadraticRaw } from "../ops/reference/ssd";

/** segsum(a) as rows: out[i][j] = a_{j+1} + … + a_i for j ≤ i, −∞ above the diagonal. */
function segsumRows(a: number[]): number[][] {
  const T = a.length;
  const out = new Float64Array(T * T);
  segsumRaw(a, out);
  return Array.from({ length: T }, (_, i) => Array.from(out.subarray(i * T, (i + 1) * T)));
}

/**
 * One chunk of one head: Y[t] = Σ_{s ≤ t} (C_t · B_s) exp(segsum(a)[t][s]) x_s, with x (Q × P),
 * a (Q), B and C (Q × N): the quadratic form on the chunk.
 */
function intraChunkReference(x: number[][], a: number[], B: number[][], C: number[][]): number[][] {
  const Q = a.length;
  const P = x[0].length;
  const N = B[0].length;
  const y = new Float64Array(Q * P);
  const dims = { batch: 1, length: Q, heads: 1, headDim: P, groups: 1, dstate: N };
  ssdQuadraticRaw(dims, x.flat(), a, B.flat(), C.flat(), y);
  return Array.from({ length: Q }, (_, t) => Array.from(y.subarray(t * P, (t + 1) * P)));
}

const matrix = (rng: Rng, rows: number, cols: number): number[][] =>
  Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
const decays = (rng: Rng, n: number): number[] =>
  Array.from({ length: n }, () => -rng.uniform(0, 1.5));

export const mamba2SsdExercises: Exercise[] = [
  {
    id: "stable-segsum",
    lesson: "13-mamba2-and-ssd",
    title:
      "the stable segment sum: out[i][j] = a[j+1] + … + a[i] for j ≤ i (0 on the diagonal), −Infinity above it",
    hint:
      "for each column j, start a running sum s = 0 at row j (the diagonal) and add a[i] for rows " +
      "i = j+1, j+2, …; do not subtract two cumulative sums: cumsum[i] − cumsum[j] loses the " +
      "digits of a short segment once the cumulative sum is large",
    reference: segsumRows,
    cases: (rng: Rng) => [
      { label: "one step", args: [[-0.5]] },
      { label: "four steps by hand", args: [[0.5, -1, 2, -0.25]] },
      { label: "random, 8 steps", args: [decays(rng, 8)] },
      { label: "random, 33 steps", args: [decays(rng, 33)] },
      {
        // cumsum ≈ −1e9 after the first step: float64's spacing there is 1.2e-7, a segment of the
        // later steps (−0.001 each) loses about 1e-4 of itself to the subtraction
        label: "a huge first decay, then small ones (the naive difference of cumsums fails here)",
        args: [[-1e9, ...Array.from({ length: 15 }, (_, k) => -0.001 * (k + 1))]],
      },
    ],
    rtol: 1e-9,
    atol: 1e-12,
  },
  {
    id: "intra-chunk-output",
    lesson: "13-mamba2-and-ssd",
    title:
      "one chunk's output (the diagonal block): Y[t] = Σ_{s ≤ t} (C[t] · B[s]) · exp(segsum(a)[t][s]) · x[s]",
    hint:
      "compute S = segsum(a) (lib's `segsum` or your own); for every output position t and every " +
      "s ≤ t, the weight is the dot product of C[t] and B[s] times exp(S[t][s]); add weight · x[s] " +
      "into Y[t] (a row of P numbers); positions s > t contribute nothing",
    reference: intraChunkReference,
    cases: (rng: Rng) => {
      const make = (Q: number, P: number, N: number) => [
        matrix(rng, Q, P),
        decays(rng, Q),
        matrix(rng, Q, N),
        matrix(rng, Q, N),
      ];
      return [
        { label: "Q = 1 (one position: Y = (C·B) x)", args: make(1, 2, 3) },
        { label: "Q = 4, P = 1, N = 1 (a scalar SSM)", args: make(4, 1, 1) },
        {
          label: "no decay (a = 0): masked attention with scores C·B",
          args: (() => {
            const c = make(5, 2, 2);
            c[1] = [0, 0, 0, 0, 0];
            return c;
          })(),
        },
        { label: "random, Q = 8, P = 3, N = 4", args: make(8, 3, 4) },
        { label: "random, Q = 16, P = 2, N = 5", args: make(16, 2, 5) },
      ] as { label: string; args: [number[][], number[], number[][], number[][]] }[];
    },
    rtol: 1e-9,
    atol: 1e-12,
  },
];
