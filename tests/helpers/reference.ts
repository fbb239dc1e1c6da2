/**
 * Independent float64 references and test inputs shared by several test files. Written here with
 * nested arrays, not imported from lib, so the tests compare lib against code of their own.
 */
import type { Rng } from "../../lib/src/rng";
import type { Tensor } from "../../lib/src/tensor";

/** A dense matrix as nested rows. */
export type M = number[][];

/** The n×n identity. */
export const eye = (n: number): M =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
/** The matrix product a b. */
export const mul = (a: M, b: M): M =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
/** a + s b. */
export const add = (a: M, b: M, s = 1): M => a.map((row, i) => row.map((v, j) => v + s * b[i][j]));
/** s a. */
export const scale = (a: M, s: number): M => a.map((row) => row.map((v) => v * s));
/** A rank-2 tensor as nested rows (a rank-1 tensor as a column). */
export const rows = (t: Tensor): M => {
  const c = t.shape.length === 2 ? t.shape[1] : 1;
  return Array.from({ length: t.shape[0] }, (_, i) => Array.from(t.data.slice(i * c, (i + 1) * c)));
};
/** The largest absolute entry. */
export const maxAbs = (a: M): number => Math.max(...a.flat().map(Math.abs));
/** The largest entrywise difference max |a - b|. */
export const maxDiff = (a: M, b: M): number => maxAbs(add(a, b, -1));
/** The entry t[i][j]... of a row-major tensor. */
export function at(t: Tensor, ...idx: number[]): number {
  let flat = 0;
  for (let i = 0; i < idx.length; i++) flat = flat * t.shape[i] + idx[i];
  return t.data[flat];
}

/** An r×c matrix of independent normal entries times `s`. */
export function randomMatrix(rng: Rng, r: number, c: number, s = 1): M {
  return Array.from({ length: r }, () => Array.from({ length: c }, () => s * rng.normal()));
}

/** A random orthogonal matrix (a product of Givens rotations): Q⁻¹ = Qᵀ exactly in theory. */
export function randomOrthogonal(rng: Rng, n: number): M {
  let q = eye(n);
  for (let s = 0; s < 4 * n; s++) {
    const i = rng.int(n);
    const j = (i + 1 + rng.int(n - 1)) % n;
    const th = rng.uniform(0, 2 * Math.PI);
    const g = eye(n);
    g[i][i] = g[j][j] = Math.cos(th);
    g[i][j] = -Math.sin(th);
    g[j][i] = Math.sin(th);
    q = mul(g, q);
  }
  return q;
}

/**
 * e^A by its Taylor series Σ A^k/k! (float64), for well-scaled A: summed until a term's largest
 * entry drops below 1e-18 (times the sum's largest entry when `relative`), at most `maxTerms` terms.
 */
export function taylorExpm(a: M, { maxTerms = 200, relative = true } = {}): M {
  let term = eye(a.length);
  let sum = eye(a.length);
  for (let k = 1; k < maxTerms; k++) {
    term = scale(mul(term, a), 1 / k);
    sum = add(sum, term);
    if (maxAbs(term) < 1e-18 * (relative ? maxAbs(sum) : 1)) break;
  }
  return sum;
}

/** Composite Simpson's rule on [a, b] with n (even) panels: an independent quadrature. */
function simpson(g: (s: number) => number, a: number, b: number, n = 4000): number {
  const h = (b - a) / n;
  let s = g(a) + g(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * g(a + i * h);
  return (s * h) / 3;
}

/** P_n(x) from the explicit sum P_n(x) = 2^-n Σ_k C(n,k)² (x-1)^(n-k) (x+1)^k. */
export function legendreExplicit(n: number, x: number): number {
  let s = 0;
  let binom = 1;
  for (let k = 0; k <= n; k++) {
    s += binom * binom * (x - 1) ** (n - k) * (x + 1) ** k;
    binom = (binom * (n - k)) / (k + 1);
  }
  return s / 2 ** n;
}

/** Legendre coefficients of f on [0, t], c_n = (1/t) ∫ f(s) sqrt(2n+1) P_n(2s/t - 1) ds, by Simpson. */
export function legendreCoefficients(f: (s: number) => number, N: number, t: number): number[] {
  return Array.from(
    { length: N },
    (_, n) =>
      simpson((s) => f(s) * Math.sqrt(2 * n + 1) * legendreExplicit(n, (2 * s) / t - 1), 0, t) / t,
  );
}

/**
 * The linear recurrence h_t = a_t h_{t-1} + b_t (h_{-1} = 0) in closed form,
 * h_t = Σ_{s<=t} (a_{s+1} ··· a_t) b_s: O(L²), float64, with the products formed from the right
 * (not the order any scan uses).
 */
export function recurrenceClosedForm(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const L = a.length;
  const h = new Float64Array(L);
  for (let t = 0; t < L; t++) {
    let sum = 0;
    for (let s = 0; s <= t; s++) {
      let p = 1;
      for (let r = t; r > s; r--) p *= a[r];
      sum += p * b[s];
    }
    h[t] = sum;
  }
  return h;
}

/** Random coefficients a in [-1.1, 1.1] and normal inputs b of a length-L recurrence. */
export function randomRecurrence(rng: Rng, L: number): { a: Float64Array; b: Float64Array } {
  return {
    a: Float64Array.from({ length: L }, () => rng.uniform(-1.1, 1.1)),
    b: Float64Array.from({ length: L }, () => rng.normal()),
  };
}

/** Pearson's chi-square statistic of observed counts against equal expected counts. */
export function chiSquareUniform(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const e = total / counts.length;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}
/** A generous bound: mean + 5 standard deviations of chi-square with df degrees of freedom. */
export const chiBound = (df: number): number => df + 5 * Math.sqrt(2 * df);

/** Least-squares slope of log(err) against log(h): the observed order of convergence. */
export function slope(hs: number[], errs: number[]): number {
  const xs = hs.map(Math.log);
  const ys = errs.map(Math.log);
  const mx = xs.reduce((s, v) => s + v, 0) / xs.length;
  const my = ys.reduce((s, v) => s + v, 0) / ys.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

/** A random stable discrete system: Ā = ρ M / ‖M‖_F, so its spectral radius is below ρ < 1. */
export function randomStableSystem(rng: Rng, n: number, rho = 0.95) {
  const m = rng.randn([n, n]);
  let fro = 0;
  for (const v of m.data) fro += v * v;
  fro = Math.sqrt(fro);
  const Abar: Tensor = { shape: [n, n], data: m.data.map((v) => (rho * v) / fro) };
  return { Abar, Bbar: rng.randn([n, 1]), C: rng.randn([1, n]) };
}

/** max |a_i - b_i| of two lists of the same length (a length mismatch throws). */
export function maxAbsErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`maxAbsErr: ${a.length} values against ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Σ_j |K_j| · max|x|: the size of the sums a convolution of x with K adds (scales rounding). */
export function convScale(K: ArrayLike<number>, x: ArrayLike<number>): number {
  let sk = 0;
  for (let i = 0; i < K.length; i++) sk += Math.abs(K[i]);
  let mx = 0;
  for (let i = 0; i < x.length; i++) mx = Math.max(mx, Math.abs(x[i]));
  return sk * mx;
}

/** The last position's logits, (b, vocab) flattened, out of (b, l, vocab) logits. */
export function lastPositionLogits(logits: { shape: number[]; data: ArrayLike<number> }): number[] {
  const [b, l, v] = logits.shape;
  const out: number[] = [];
  for (let i = 0; i < b; i++)
    for (let j = 0; j < v; j++) out.push(logits.data[(i * l + l - 1) * v + j]);
  return out;
}

/** A small Mamba and a small Transformer++ (vocabulary 16, 2 layers, width 16). */
export const SMALL_MAMBA = { vocab_size: 16, hidden_size: 16, num_hidden_layers: 2, state_size: 4 };
export const SMALL_LLAMA = {
  vocab_size: 16,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

/** A (b, l) batch of random token ids below `vocab`, as rows. */
export const randomTokens = (rng: Rng, b: number, l: number, vocab: number): number[][] =>
  Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(vocab)));

/** The logits of sequence b at position t, out of (b, l, vocab) logits. */
export function logitsRow(logits: Tensor, b: number, t: number): Float32Array {
  const [, l, v] = logits.shape;
  return logits.data.subarray((b * l + t) * v, (b * l + t + 1) * v) as Float32Array;
}

/**
 * The one error measure of the tests: max |got - want| / max(floor, max |want|), an error relative
 * to the output's scale. `floor` (default 1) keeps outputs near zero from inflating it; pass a tiny
 * floor (e.g. 1e-300) for a purely relative error. NaN counts as Infinity; a length mismatch throws.
 */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>, floor = 1): number {
  if (got.length !== want.length) {
    throw new Error(`relErr: got ${got.length} values, want ${want.length}`);
  }
  let scale = floor;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= err)) err = Number.isNaN(e) ? Infinity : e;
  }
  return err / scale;
}

/** {@link relErr} purely relative, the engines' agreement measure: max |got - want| / max |want|. */
export function relMax(got: ArrayLike<number>, want: ArrayLike<number>): number {
  return relErr(got, want, Number.MIN_VALUE);
}

/** A model with every parameter copied into float64 (the reference engine then sums in float64). */
export function float64Copy<T extends { params: Map<string, Tensor> }>(model: T): T {
  const params = new Map<string, Tensor>();
  for (const [k, t] of model.params)
    params.set(k, { shape: [...t.shape], data: Float64Array.from(t.data) });
  return { ...model, params };
}
