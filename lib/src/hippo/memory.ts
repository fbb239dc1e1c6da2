/**
 * What a linear memory can recall. After L samples, the state of any linear recurrence that
 * starts from zero is a linear function of the samples:
 *
 *   c_L = M f,   M of shape (N, L),
 *
 * whose row n says how much each past sample contributed to state n (the memory's "measure").
 * Given only c_L, the reconstruction of the history with the smallest norm among all histories
 * that produce exactly c_L is the least-squares readout
 *
 *   f̂ = Mᵀ (M Mᵀ)⁻¹ c_L,
 *
 * the best any linear decoder can do without knowing more about f. It lets lesson 04 compare
 * HiPPO-LegS with a random A fairly: each memory gets its own optimal decoder.
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";
import { luRaw, luSolveRaw, SINGULAR_PIVOT_RATIO } from "../linalg/dense";
import { type HippoScanMethod, HIPPO_SCAN_METHOD, checkHippoSystem } from "./checks";

/**
 * The matrix M (N, L) with hippoScan(A, B, f, method) at step L equal to M f for every f (L).
 * Column k-1 is Φ_k q_k, where step k maps c_{k-1} to P_k c_{k-1} + q_k f_k and
 * Φ_k = P_L ⋯ P_{k+1} is accumulated backwards from Φ_L = I. O(L · N³).
 *
 * @param A (N, N)
 * @param B (N, 1) or (N)
 * @param L number of samples, >= 1
 * @param method as in `hippoScan` (default "bilinear")
 * @returns M (N, L), float64
 */
export function hippoMemoryMatrix(
  A: Tensor,
  B: Tensor,
  L: number,
  method: HippoScanMethod = "bilinear",
): Tensor {
  const fn = "hippoMemoryMatrix";
  const { a, b, N } = checkHippoSystem(fn, A, B);
  checkArg(fn, "L", L, schema.integer({ min: 1, max: 1 << 24 }));
  checkArg(fn, "method", method, HIPPO_SCAN_METHOD);
  const wExplicit = method === "bilinear" ? 0.5 : method === "forward" ? 1 : 0;
  const wImplicit = method === "bilinear" ? 0.5 : method === "backward" ? 1 : 0;
  // Work with Ψ = Φᵀ: Ψ_{k-1} = P_kᵀ Ψ_k = (I + wE Aᵀ/k) S_k⁻ᵀ Ψ_k, S_k = I - wI A/k.
  let psi = new Float64Array(N * N);
  for (let i = 0; i < N; i++) psi[i * N + i] = 1;
  const St = new Float64Array(N * N);
  const S = new Float64Array(N * N);
  const M = new Float64Array(N * L);
  const bk = new Float64Array(N);
  for (let k = L; k >= 1; k--) {
    for (let i = 0; i < N; i++) bk[i] = b.data[i] / k;
    let q: Float64Array;
    let z: Float64Array;
    if (wImplicit === 0) {
      q = bk;
      z = psi;
    } else {
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) {
          const v = (i === j ? 1 : 0) - (wImplicit * a.data[i * N + j]) / k;
          S[i * N + j] = v;
          St[j * N + i] = v;
        }
      }
      const fs = luRaw(S, N);
      if (!(fs.pivotRatio > SINGULAR_PIVOT_RATIO)) {
        throw argumentError(
          fn,
          "A",
          `a matrix with I - A/${k / wImplicit} nonsingular at every step (got it singular at step ${k})`,
        );
      }
      q = luSolveRaw(fs, bk, 1);
      z = luSolveRaw(luRaw(St, N), psi, N);
    }
    // Column k-1 of M: Φ_k q_k = Ψ_kᵀ q_k.
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let i = 0; i < N; i++) s += psi[i * N + j] * q[i];
      M[j * L + (k - 1)] = s;
    }
    // Ψ_{k-1} = z + (wE/k) Aᵀ z.
    const next = new Float64Array(N * N);
    const scale = wExplicit / k;
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) next[i * N + j] = z[i * N + j];
      if (scale === 0) continue;
      for (let p = 0; p < N; p++) {
        const apI = scale * a.data[p * N + i]; // (Aᵀ)_{ip}
        if (apI === 0) continue;
        for (let j = 0; j < N; j++) next[i * N + j] += apI * z[p * N + j];
      }
    }
    psi = next;
  }
  return { shape: [N, L], data: M };
}

/**
 * The minimum-norm history consistent with a memory state: f̂ = Mᵀ (M Mᵀ + λ I)⁻¹ c with the
 * small ridge λ = ridge · tr(M Mᵀ)/N that keeps an ill-conditioned M solvable.
 *
 * @param M the memory matrix (N, L) from {@link hippoMemoryMatrix}
 * @param c the state (N)
 * @param ridge relative ridge, >= 0 (default 1e-12)
 * @returns f̂ (L), float64
 */
export function minNormReconstruct(M: Tensor, c: Tensor, ridge = 1e-12): Tensor {
  const fn = "minNormReconstruct";
  const m = checkArg(fn, "M", M, schema.tensor({ rank: 2, axes: ["N", "L"] }));
  const [N, L] = m.shape;
  if (N < 1 || L < 1) {
    throw argumentError(fn, "M", `a non-empty matrix (got [${m.shape.join(", ")}])`);
  }
  const cs = checkArg(fn, "c", c, schema.tensor({ shape: [N], axes: ["N"] }));
  checkArg(fn, "ridge", ridge, schema.number({ min: 0 }));
  const G = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = 0; t < L; t++) s += m.data[i * L + t] * m.data[j * L + t];
      G[i * N + j] = s;
      G[j * N + i] = s;
    }
  }
  let tr = 0;
  for (let i = 0; i < N; i++) tr += G[i * N + i];
  for (let i = 0; i < N; i++) G[i * N + i] += (ridge * tr) / N;
  const f = luRaw(G, N);
  if (!(f.pivotRatio > 0)) {
    throw argumentError(
      fn,
      "M",
      "a matrix with M Mᵀ nonsingular, or pass a positive ridge (got M Mᵀ singular and ridge = 0)",
    );
  }
  const zeta = luSolveRaw(f, cs.data, 1);
  const out = new Float64Array(L);
  for (let i = 0; i < N; i++) {
    const w = zeta[i];
    for (let t = 0; t < L; t++) out[t] += m.data[i * L + t] * w;
  }
  return { shape: [L], data: out };
}
