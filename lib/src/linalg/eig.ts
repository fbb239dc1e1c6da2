/**
 * Eigenvalues of a small real matrix: the stability test of an SSM reads them off A. The
 * algorithm (Hessenberg reduction and the Francis double-shift QR iteration, cost O(n³)) is in
 * eig-raw.ts; these functions check A and call it.
 */
import type { Tensor } from "../tensor";
import { checkSquare } from "./checks";
import { type Eigenvalues, eigvalsRaw } from "./eig-raw";

export type { Eigenvalues } from "./eig-raw";

/**
 * The n eigenvalues λ of A (n, n), the roots of det(A − λI) = 0, sorted by decreasing real part
 * (then decreasing imaginary part). Computed in float64 whatever A's dtype.
 */
export function eigvals(A: Tensor): Eigenvalues {
  const n = checkSquare("eigvals", "A", A);
  return eigvalsRaw(A.data, n);
}

/**
 * The spectral abscissa α(A) = max Re λ(A). The continuous system h' = A h is asymptotically
 * stable exactly when α(A) < 0: every solution decays like e^{α t}.
 */
export function spectralAbscissa(A: Tensor): number {
  const n = checkSquare("spectralAbscissa", "A", A);
  const { re } = eigvalsRaw(A.data, n);
  return re.length === 0 ? -Infinity : re[0];
}

/** The spectral radius ρ(A) = max |λ(A)|. The recurrence h_k = A h_{k-1} is stable when ρ(A) < 1. */
export function spectralRadius(A: Tensor): number {
  const n = checkSquare("spectralRadius", "A", A);
  const { re, im } = eigvalsRaw(A.data, n);
  let r = 0;
  for (let i = 0; i < re.length; i++) r = Math.max(r, Math.hypot(re[i], im[i]));
  return r;
}
