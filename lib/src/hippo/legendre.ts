/**
 * Legendre polynomials: the basis in which HiPPO-LegS stores the history of a signal.
 *
 * P_0 = 1, P_1 = x, (n+1) P_{n+1}(x) = (2n+1) x P_n(x) - n P_{n-1}(x) (Bonnet's recurrence),
 * orthogonal on [-1, 1] with ∫ P_n P_m dx = 2/(2n+1) δ_nm. Shifted and scaled to a window [0, t],
 *
 *   g_n(s) = sqrt(2n+1) P_n(2s/t - 1),   (1/t) ∫_0^t g_n(s) g_m(s) ds = δ_nm,
 *
 * they are orthonormal for the uniform measure on the window, so the best degree-(N-1) polynomial
 * approximation of f on [0, t] is Σ_n c_n g_n(s) with c_n = (1/t) ∫_0^t f(s) g_n(s) ds. Positions
 * below are given as fractions u = s/t ∈ [0, 1] of the window.
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, describe, schema } from "../validate";

/** Parses the argument `name` of `fn`: an array of positions in [lo, hi]. */
function positions(fn: string, name: string, u: unknown, lo: number, hi: number): Float64Array {
  const ok = Array.isArray(u) || u instanceof Float64Array || u instanceof Float32Array;
  if (!ok) {
    throw argumentError(fn, name, `a number[] or Float64Array of positions (got ${describe(u)})`);
  }
  const out = Float64Array.from(u as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    if (!(out[i] >= lo && out[i] <= hi)) {
      throw argumentError(
        fn,
        name,
        `an array of values in [${lo}, ${hi}] (got ${out[i]} at index ${i})`,
      );
    }
  }
  return out;
}

/** Most polynomials (N) and quadrature nodes (M) the functions below compute. */
const MAX_ORDER = 100000;
const ORDER = schema.integer({ min: 1, max: MAX_ORDER });

/**
 * P_0(x) … P_{N-1}(x) at each point x_j ∈ [-1, 1], by Bonnet's recurrence (stable for all n).
 *
 * @param N number of polynomials, >= 1
 * @param x points in [-1, 1], length m
 * @returns (N, m): entry (n, j) = P_n(x_j)
 */
export function legendreP(N: number, x: ArrayLike<number>): Tensor {
  checkArg("legendreP", "N", N, ORDER);
  return legendreRaw(N, positions("legendreP", "x", x, -1, 1));
}

/** P_0 … P_{N-1} at checked positions xs in [-1, 1] (see {@link legendreP}). */
function legendreRaw(N: number, xs: Float64Array): Tensor {
  const m = xs.length;
  const out = new Float64Array(N * m);
  for (let j = 0; j < m; j++) {
    let prev = 1;
    let cur = xs[j];
    out[j] = 1;
    if (N > 1) out[m + j] = cur;
    for (let n = 1; n + 1 < N; n++) {
      const next = ((2 * n + 1) * xs[j] * cur - n * prev) / (n + 1);
      out[(n + 1) * m + j] = next;
      prev = cur;
      cur = next;
    }
  }
  return { shape: [N, m], data: out };
}

/**
 * Evaluates the reconstruction f̂(u) = Σ_{n<N} c_n sqrt(2n+1) P_n(2u - 1) at window fractions
 * u ∈ [0, 1] (u = s/t: 0 is the start of the history, 1 the present).
 *
 * @param c coefficients (N), e.g. a HiPPO-LegS state at time t
 * @param u positions in [0, 1], length m
 * @returns f̂ (m), float64
 */
export function legendreReconstruct(c: Tensor, u: ArrayLike<number>): Tensor {
  const fn = "legendreReconstruct";
  const cs = checkArg(fn, "c", c, schema.tensor({ rank: 1, axes: ["N"] }));
  const N = cs.shape[0];
  if (N < 1) throw argumentError(fn, "c", "a tensor of at least one coefficient (got shape [0])");
  const us = positions(fn, "u", u, 0, 1);
  const P = legendreRaw(
    N,
    us.map((v) => 2 * v - 1),
  );
  const m = us.length;
  const out = new Float64Array(m);
  for (let n = 0; n < N; n++) {
    const w = cs.data[n] * Math.sqrt(2 * n + 1);
    for (let j = 0; j < m; j++) out[j] += w * P.data[n * m + j];
  }
  return { shape: [m], data: out };
}

/**
 * Gauss-Legendre quadrature on [-1, 1] with M nodes: Σ_i w_i g(x_i) = ∫ g(x) dx exactly for
 * polynomials of degree <= 2M - 1. Nodes are the roots of P_M, found by Newton's method from
 * Chebyshev guesses; w_i = 2 / ((1 - x_i²) P_M'(x_i)²).
 *
 * @param M number of nodes, >= 1
 * @returns nodes (M) ascending and weights (M)
 */
export function gaussLegendre(M: number): { nodes: Float64Array; weights: Float64Array } {
  return gaussLegendreRaw(checkArg("gaussLegendre", "M", M, ORDER));
}

/** The M-point Gauss–Legendre rule (see {@link gaussLegendre}) for a checked M. */
function gaussLegendreRaw(M: number): { nodes: Float64Array; weights: Float64Array } {
  const nodes = new Float64Array(M);
  const weights = new Float64Array(M);
  for (let i = 0; i < M; i++) {
    let x = -Math.cos((Math.PI * (i + 0.75)) / (M + 0.5));
    let dp = 1;
    for (let iter = 0; iter < 100; iter++) {
      // P_M(x) and P_M'(x) by the recurrence.
      let p0 = 1;
      let p1 = x;
      for (let n = 1; n < M; n++) {
        const p2 = ((2 * n + 1) * x * p1 - n * p0) / (n + 1);
        p0 = p1;
        p1 = p2;
      }
      const pm = M === 1 ? x : p1;
      const pPrev = M === 1 ? 1 : p0;
      dp = (M * (x * pm - pPrev)) / (x * x - 1);
      const dx = pm / dp;
      x -= dx;
      if (Math.abs(dx) < 1e-16) break;
    }
    nodes[i] = x;
    weights[i] = 2 / ((1 - x * x) * dp * dp);
  }
  return { nodes, weights };
}

/**
 * The optimal (offline) coefficients of f on a window, c_n = ∫_0^1 f(u) sqrt(2n+1) P_n(2u-1) du
 * for u = s/t ∈ [0, 1], by Gauss-Legendre quadrature with M nodes (exact when f is a polynomial of
 * degree <= 2M - N). This is what an online memory (HiPPO-LegS) approximates at every instant.
 *
 * @param f the function on [0, 1] (window fraction)
 * @param N number of coefficients, >= 1
 * @param M quadrature nodes (default max(64, 2N))
 * @returns c (N), float64
 */
export function legendreProject(f: (u: number) => number, N: number, M?: number): Tensor {
  const fn = "legendreProject";
  checkArg(fn, "f", f, schema.function());
  checkArg(fn, "N", N, ORDER);
  // The quadrature costs O(M²): M is capped like gaussLegendre's, and so is its default 2N.
  const m = M === undefined ? Math.max(64, 2 * N) : checkArg(fn, "M", M, ORDER);
  if (m > MAX_ORDER) {
    throw argumentError(
      fn,
      "N",
      `an integer <= ${MAX_ORDER / 2} when M is not given (M defaults to 2N <= ${MAX_ORDER}) (got ${N})`,
    );
  }
  const { nodes, weights } = gaussLegendreRaw(m);
  const P = legendreRaw(N, nodes);
  const c = new Float64Array(N);
  for (let j = 0; j < m; j++) {
    const v = f((nodes[j] + 1) / 2);
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw argumentError(
        fn,
        "f",
        `a function returning finite numbers (got ${describe(v)} at u = ${(nodes[j] + 1) / 2})`,
      );
    }
    // du = dx/2
    for (let n = 0; n < N; n++) c[n] += 0.5 * weights[j] * v * P.data[n * m + j];
  }
  for (let n = 0; n < N; n++) c[n] *= Math.sqrt(2 * n + 1);
  return { shape: [N], data: c };
}
