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
