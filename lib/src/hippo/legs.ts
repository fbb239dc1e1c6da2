/**
 * HiPPO-LegS (Gu et al. 2020, "HiPPO: Recurrent Memory with Optimal Polynomial Projections"):
 * an N-dimensional state c(t) that at every time t holds the coefficients of the best polynomial
 * approximation of the whole history f on [0, t] in the scaled Legendre basis
 * g_n(s) = sqrt(2n+1) P_n(2s/t - 1) (see `legendre.ts`). Differentiating
 * c_n(t) = (1/t) ∫_0^t f(s) g_n(s) ds in t gives the linear, time-varying ODE
 *
 *   c'(t) = (1/t) A c(t) + (1/t) B f(t),
 *
 * with A and B from {@link hippoLegS}. (The paper writes -(1/t) A c with the positive matrix; the
 * A here already carries the minus sign, as S4's code does, so h' = A h + B x keeps its usual form.)
 */
import type { Tensor } from "../tensor";
import { checkArg, schema } from "../validate";
import { type HippoScanMethod, HIPPO_SCAN_METHOD, checkHippoSystem } from "./checks";
import { luRaw, luSolveRaw } from "../linalg/dense";

/**
 * The HiPPO-LegS matrices:
 *
 *   A_nk = -sqrt(2n+1) sqrt(2k+1)  for n > k,   A_nn = -(n+1),   A_nk = 0 for n < k,
 *   B_n  = sqrt(2n+1),
 *
 * for n, k = 0 … N-1. A is lower triangular with eigenvalues -1, -2, …, -N.
 *
 * @param N state size, >= 1
 * @returns A (N, N) and B (N, 1), float64
 */
export function hippoLegS(N: number): { A: Tensor; B: Tensor } {
  checkArg("hippoLegS", "N", N, schema.integer({ min: 1, max: 4096 }));
  const A = new Float64Array(N * N);
  const B = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    B[n] = Math.sqrt(2 * n + 1);
    for (let k = 0; k < n; k++) A[n * N + k] = -Math.sqrt(2 * n + 1) * Math.sqrt(2 * k + 1);
    A[n * N + n] = -(n + 1);
  }
  return { A: { shape: [N, N], data: A }, B: { shape: [N, 1], data: B } };
}

/** How {@link hippoScan} steps its time-varying ODE; see there. */
export type { HippoScanMethod } from "./checks";

/**
 * Runs the time-varying ("scaled") memory ODE c'(t) = (1/t) A c + (1/t) B f(t) over samples
 * f_1 … f_L taken at t = 1 … L (the 1/t makes the sampling step cancel: LegS has no timescale),
 * from c_0 = 0. With A_k = A/k and B_k = B/k, step k (1-based) is, as in the HiPPO paper:
 *
 * - `"bilinear"` (default): (I - A_k/2) c_k = (I + A_k/2) c_{k-1} + B_k f_k
 * - `"forward"`:            c_k = (I + A_k) c_{k-1} + B_k f_k
 * - `"backward"`:           (I - A_k) c_k = c_{k-1} + B_k f_k
 *
 * For HiPPO-LegS (A, B from {@link hippoLegS}), c_k holds the Legendre coefficients of the
 * samples seen so far, read back with `legendreReconstruct(c_k, u)` at window fractions
 * u ∈ [0, 1] (sample j <= k sits near u = j/k). A lower-triangular A (LegS) costs O(N²) per step,
 * any other A an LU factorisation, O(N³) per step.
 *
 * @param A (N, N)
 * @param B (N, 1) or (N)
 * @param f samples (L)
 * @returns the states after each sample, (L, N): row k-1 is c_k. float64
 */
export function hippoScan(
  A: Tensor,
  B: Tensor,
  f: Tensor,
  method: HippoScanMethod = "bilinear",
): Tensor {
  const fn = "hippoScan";
  const { a, b, N } = checkHippoSystem(fn, A, B);
  const fs = checkArg(fn, "f", f, schema.tensor({ rank: 1, axes: ["L"] }));
  checkArg(fn, "method", method, HIPPO_SCAN_METHOD);
  const L = fs.shape[0];
  let lower = true;
  for (let i = 0; i < N && lower; i++)
    for (let j = i + 1; j < N; j++) if (a.data[i * N + j] !== 0) lower = false;
  const out = new Float64Array(L * N);
  let c = new Float64Array(N);
  const rhs = new Float64Array(N);
  const M = new Float64Array(N * N);
  for (let k = 1; k <= L; k++) {
    const fk = fs.data[k - 1];
    // Right-hand side: (I + w A_k) c_{k-1} + B_k f_k, with w = 1/2, 1 or 0.
    const wExplicit = method === "bilinear" ? 0.5 : method === "forward" ? 1 : 0;
    const wImplicit = method === "bilinear" ? 0.5 : method === "backward" ? 1 : 0;
    for (let i = 0; i < N; i++) {
      let s = c[i] + (b.data[i] * fk) / k;
      if (wExplicit !== 0) {
        let t = 0;
        for (let j = 0; j < N; j++) t += a.data[i * N + j] * c[j];
        s += (wExplicit * t) / k;
      }
      rhs[i] = s;
    }
    if (wImplicit === 0) {
      c = Float64Array.from(rhs);
    } else if (lower) {
      // Forward substitution with the lower-triangular I - w A_k.
      const next = new Float64Array(N);
      for (let i = 0; i < N; i++) {
        let s = rhs[i];
        for (let j = 0; j < i; j++) s += ((wImplicit * a.data[i * N + j]) / k) * next[j];
        next[i] = s / (1 - (wImplicit * a.data[i * N + i]) / k);
      }
      c = next;
    } else {
      for (let i = 0; i < N * N; i++) M[i] = -(wImplicit * a.data[i]) / k;
      for (let i = 0; i < N; i++) M[i * N + i] += 1;
      c = luSolveRaw(luRaw(M, N), rhs, 1);
    }
    out.set(c, (k - 1) * N);
  }
  return { shape: [L, N], data: out };
}
