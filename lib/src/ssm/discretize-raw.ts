/**
 * The computations behind discretize.ts's public functions, on checked row-major float64 data:
 * the dense discretizations (formulas in discretize.ts's module comment) and the discrete state
 * recurrence. The simulators of continuous.ts call these too, so that an error never names a
 * function the user did not call. Not exported from lib's index.
 */
import { SINGULAR_PIVOT_RATIO, eyeRaw, luRaw, luSolveRaw } from "../linalg/dense";
import { expmRaw } from "./expm-raw";

/** How to discretize; see discretize.ts's module comment for the formulas. */
export type DiscretizationMethod = "zoh" | "bilinear" | "euler" | "mamba";

/**
 * Ā (n, n) and B̄ (n, m) of h' = A h + B x, A (n, n) and B (n, m) row-major, with step dt; null
 * for "bilinear" when I − Δ/2·A is singular (A has an eigenvalue near 2/dt).
 */
export function discretizeRaw(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  m: number,
  dt: number,
  method: DiscretizationMethod,
): { abar: Float64Array; bbar: Float64Array } | null {
  if (method === "zoh") {
    // Van Loan: exp(Δ [[A, B], [0, 0]]) = [[Ā, B̄], [0, I]].
    const k = n + m;
    const aug = new Float64Array(k * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) aug[i * k + j] = dt * a[i * n + j];
      for (let j = 0; j < m; j++) aug[i * k + n + j] = dt * b[i * m + j];
    }
    const e = expmRaw(aug, k);
    const abar = new Float64Array(n * n);
    const bbar = new Float64Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) abar[i * n + j] = e[i * k + j];
      for (let j = 0; j < m; j++) bbar[i * m + j] = e[i * k + n + j];
    }
    return { abar, bbar };
  }
  if (method === "bilinear") {
    // (I − Δ/2·A) Ā = I + Δ/2·A and (I − Δ/2·A) B̄ = ΔB, from one LU factorisation.
    const minus = eyeRaw(n);
    const plus = eyeRaw(n);
    for (let i = 0; i < n * n; i++) {
      minus[i] -= 0.5 * dt * a[i];
      plus[i] += 0.5 * dt * a[i];
    }
    const f = luRaw(minus, n);
    if (!(f.pivotRatio > SINGULAR_PIVOT_RATIO)) return null;
    return {
      abar: luSolveRaw(f, plus, n),
      bbar: luSolveRaw(
        f,
        Float64Array.from(b, (v) => dt * v),
        m,
      ),
    };
  }
  // Euler: Ā = I + ΔA; Mamba: Ā = e^{ΔA}. Both take B̄ = ΔB.
  const bbar = Float64Array.from(b, (v) => dt * v);
  if (method === "euler") {
    const abar = eyeRaw(n);
    for (let i = 0; i < n * n; i++) abar[i] += dt * a[i];
    return { abar, bbar };
  }
  return {
    abar: expmRaw(
      Float64Array.from(a, (v) => dt * v),
      n,
    ),
    bbar,
  };
}

/**
 * The states h (L, n) of h_k = Ā h_{k-1} + B̄ x_k for k = 0..L−1 from h_{-1} = h0: Ā (n, n), or its
 * diagonal (n) when `diagonal`; B̄ (n, m); x (L, m); h0 (n) or null for zeros.
 */
export function discreteStatesRaw(
  a: ArrayLike<number>,
  diagonal: boolean,
  b: ArrayLike<number>,
  xs: ArrayLike<number>,
  n: number,
  m: number,
  L: number,
  h0: ArrayLike<number> | null,
): Float64Array {
  const out = new Float64Array(L * n);
  let prev = new Float64Array(n);
  if (h0 !== null) prev.set(h0);
  for (let k = 0; k < L; k++) {
    // Row k of `out` is h_k; `prev` is h_{k-1}.
    const base = k * n;
    for (let i = 0; i < n; i++) {
      let v = 0;
      if (diagonal) v = a[i] * prev[i];
      else for (let j = 0; j < n; j++) v += a[i * n + j] * prev[j];
      for (let j = 0; j < m; j++) v += b[i * m + j] * xs[k * m + j];
      out[base + i] = v;
    }
    prev = out.subarray(base, base + n);
  }
  return out;
}
