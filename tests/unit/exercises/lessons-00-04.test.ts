/**
 * The exercises of lessons 00-04, solved here the way a learner would (plain arrays, formulas
 * written out, nothing from lib), run through the checks: each must pass, a learner's unsolved
 * stub must report "not implemented", and a typical mistake must fail naming the exercise (and
 * the case, where the mistake shows on one). A checker whose reference were wrong would fail the
 * first; a checker that accepted anything would fail the last.
 */
import { type Mistake, type Solved, exerciseChecks } from "../../helpers/exercises";

/** Lesson 00: y_t = y_{t-1} + α (x_t − y_{t-1}) from y = 0, the EMA's update written as a step. */
function emaByHand(x: number[], alpha: number): number[] {
  let y = 0;
  return x.map((v) => (y += alpha * (v - y)));
}

/** Lesson 01: one classical RK4 step of h' = A h + B x with x held constant. */
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

/** Lesson 01: h(t) = e^{at} h0 + (e^{at} − 1)/a · b x, with the limit h0 + b x t at a = 0. */
function scalarResponseByHand(a: number, b: number, h0: number, x: number, t: number[]): number[] {
  return t.map((tk) =>
    a === 0 ? h0 + b * x * tk : Math.exp(a * tk) * h0 + ((Math.exp(a * tk) - 1) / a) * b * x,
  );
}

/** Lesson 02: zero-order hold of a diagonal system, entry by entry. */
function zohDiagonalByHand(a: number[], b: number[], dt: number) {
  return {
    Abar: a.map((ai) => Math.exp(dt * ai)),
    Bbar: a.map((ai, i) => (ai === 0 ? dt * b[i] : ((Math.exp(dt * ai) - 1) / ai) * b[i])),
  };
}

/** Lesson 02: the bilinear transform of a 2 × 2 system, inverting I − Δ/2 A by its adjugate. */
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

/** Lesson 03: K_j = C · v_j with v_0 = B̄ and v_{j+1} = Ā v_j (no matrix powers). */
function ssmKernelByHand(Abar: number[][], Bbar: number[], C: number[], L: number): number[] {
  const K: number[] = [];
  let v = [...Bbar];
  while (K.length < L) {
    let k = 0;
    for (let i = 0; i < v.length; i++) k += C[i] * v[i];
    K.push(k);
    v = Abar.map((row) => row.reduce((s, a, i) => s + a * v[i], 0));
  }
  return K;
}

/** An in-place radix-2 FFT (sign −1) or inverse FFT (sign +1, scaled by 1/n), n a power of two. */
function fftInPlace(re: number[], im: number[], sign: -1 | 1): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len *= 2) {
    const angle = (sign * 2 * Math.PI) / len;
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < len / 2; k++) {
        const [wr, wi] = [Math.cos(angle * k), Math.sin(angle * k)];
        const [a, b] = [start + k, start + k + len / 2];
        const tr = re[b] * wr - im[b] * wi;
        const ti = re[b] * wi + im[b] * wr;
        [re[b], im[b]] = [re[a] - tr, im[a] - ti];
        [re[a], im[a]] = [re[a] + tr, im[a] + ti];
      }
    }
  }
  if (sign === 1) for (let i = 0; i < n; i++) [re[i], im[i]] = [re[i] / n, im[i] / n];
}

/** Lesson 03: causal convolution by FFT, zero-padded to `pad(L)` (a power of two ≥ 2L − 1). */
function fftConvByHand(x: number[], K: number[], pad = (L: number) => 2 * L - 1): number[] {
  const L = x.length;
  let n = 1;
  while (n < pad(L)) n *= 2;
  const [xr, xi, kr, ki] = [[...x], [], [...K], []].map((v) => [
    ...v,
    ...new Array(n - v.length).fill(0),
  ]);
  fftInPlace(xr, xi, -1);
  fftInPlace(kr, ki, -1);
  const yr = xr.map((a, m) => a * kr[m] - xi[m] * ki[m]);
  const yi = xr.map((a, m) => a * ki[m] + xi[m] * kr[m]);
  fftInPlace(yr, yi, 1);
  return yr.slice(0, L);
}

/** Lesson 04: HiPPO-LegS, A lower triangular with −(n+1) on the diagonal, B_n = √(2n+1). */
function hippoLegSByHand(N: number): { A: number[][]; B: number[] } {
  const B = Array.from({ length: N }, (_, n) => Math.sqrt(2 * n + 1));
  const A = B.map((bn, n) => B.map((bk, k) => (n > k ? -bn * bk : n === k ? -(n + 1) : 0)));
  return { A, B };
}

const solved: Solved[] = [
  ["ema", emaByHand],
  ["ssm-rk4-step", rk4StepByHand],
  ["scalar-response", scalarResponseByHand],
  ["zoh-diagonal", zohDiagonalByHand],
  ["bilinear-2x2", bilinear2x2ByHand],
  ["ssm-kernel", ssmKernelByHand],
  ["fft-conv", fftConvByHand],
  ["hippo-legs", hippoLegSByHand],
];

const mistakes: Mistake[] = [
  [
    "ema",
    "α and 1 − α swapped",
    (x: number[], alpha: number) => emaByHand(x, 1 - alpha),
    /ema: wrong result/,
  ],
  [
    "ssm-rk4-step",
    "Euler instead of RK4",
    (A: number[][], B: number[][], h: number[], x: number[], dt: number) =>
      h.map(
        (hi, i) =>
          hi +
          dt *
            (A[i].reduce((s, a, j) => s + a * h[j], 0) + B[i].reduce((s, b, j) => s + b * x[j], 0)),
      ),
    /ssm-rk4-step: wrong result/,
  ],
  [
    "scalar-response",
    "the a = 0 limit forgotten (NaN)",
    (a: number, b: number, h0: number, x: number, t: number[]) =>
      t.map((tk) => Math.exp(a * tk) * h0 + ((Math.exp(a * tk) - 1) / a) * b * x),
    /a = 0/,
  ],
  [
    "zoh-diagonal",
    "Mamba's simplified B̄ = Δb, which is not ZOH",
    (a: number[], b: number[], dt: number) => ({
      Abar: a.map((ai) => Math.exp(dt * ai)),
      Bbar: b.map((bi) => dt * bi),
    }),
    /zoh-diagonal: wrong result/,
  ],
  [
    "bilinear-2x2",
    "forward Euler instead of bilinear",
    (A: number[][], b: number[], dt: number) => ({
      Abar: A.map((row, i) => row.map((v, j) => (i === j ? 1 : 0) + dt * v)),
      Bbar: b.map((v) => dt * v),
    }),
    /bilinear-2x2: wrong result/,
  ],
  [
    "ssm-kernel",
    "Ā applied before the first term (K_j = C Ā^{j+1} B̄)",
    (Abar: number[][], Bbar: number[], C: number[], L: number) =>
      ssmKernelByHand(
        Abar,
        Abar.map((row) => row.reduce((s, a, i) => s + a * Bbar[i], 0)),
        C,
        L,
      ),
    /ssm-kernel: wrong result/,
  ],
  [
    "fft-conv",
    "padding only to L, so the end wraps around onto the start",
    (x: number[], K: number[]) => fftConvByHand(x, K, (L) => L),
    /fft-conv: wrong result on case \d+\/\d+ \(a delay by one step\)/,
  ],
  [
    "hippo-legs",
    "the matrix transposed (upper triangular)",
    (N: number) => {
      const { A, B } = hippoLegSByHand(N);
      return { A: A.map((row, n) => row.map((_, k) => A[k][n])), B };
    },
    /hippo-legs: wrong result on case \d+\/\d+ \(N = 2\)/,
  ],
];

exerciseChecks("00-04", solved, mistakes);
