/**
 * The matrix exponential e^A = Σ_k A^k / k!, the solution operator of h' = A h: h(t) = e^{At} h(0).
 *
 * Computed by scaling and squaring with a Padé approximant (Higham, "The scaling and squaring
 * method for the matrix exponential revisited", SIAM J. Matrix Anal. Appl. 26(4), 2005):
 *
 *   e^A = (e^{A / 2^s})^{2^s},   e^{X} ≈ r_m(X) = q_m(X)⁻¹ p_m(X),
 *
 * where p_m / q_m is the [m/m] Padé approximant of e^x (q_m(x) = p_m(−x)). The degree m ∈ {3, 5, 7,
 * 9, 13} and the number of squarings s are chosen from ‖A‖₁ so that the backward error of r_m is
 * below the float64 unit roundoff. Only ‖A‖₁ matters, so a stiff A (eigenvalues near −10³) costs a
 * handful of extra squarings and stays accurate to about the conditioning of the problem.
 */
import type { Tensor } from "../tensor";
import { checkArg, schema } from "../validate";
import { expmRaw, expmRawWithInfo } from "./expm-raw";
import { checkSquare } from "../linalg/checks";
import { resultDType, withDType } from "../linalg/result";

/**
 * e^A for A (n, n), by scaling and squaring with Padé approximants (see the module comment).
 * Computes in float64; returns float32 when A is float32, float64 otherwise.
 */
export function expm(A: Tensor): Tensor {
  const n = checkSquare("expm", "A", A);
  return withDType([n, n], expmRaw(A.data, n), resultDType(A));
}

/** What `expmWithInfo` computed, and how. */
export interface ExpmInfo {
  /** e^A (n, n), the same tensor `expm(A)` returns. */
  expA: Tensor;
  /** ‖A‖₁, the largest absolute column sum: the only property of A that picks the algorithm. */
  norm1: number;
  /** The degree m ∈ {3, 5, 7, 9, 13} of the Padé approximant r_m that was evaluated. */
  degree: number;
  /** The number s of squarings: e^A = r_m(A / 2^s)^(2^s). 0 unless m = 13. */
  squarings: number;
}

/**
 * e^A for A (n, n) as `expm` computes it, together with the choices the algorithm made: the Padé
 * degree m and the number of squarings s (Higham 2005, Algorithm 2.3), so that a lesson can print
 * what was done rather than recompute it from the formula.
 */
export function expmWithInfo(A: Tensor): ExpmInfo {
  const n = checkSquare("expmWithInfo", "A", A);
  const { value, norm1, degree, squarings } = expmRawWithInfo(A.data, n);
  return { expA: withDType([n, n], value, resultDType(A)), norm1, degree, squarings };
}

/**
 * e^{diag(a)} for a diagonal matrix given by its diagonal a (n): elementwise exp(a_i). Returns the
 * diagonal (n), float32 when a is float32.
 */
export function expmDiagonal(a: Tensor): Tensor {
  const t = checkArg("expmDiagonal", "a", a, schema.tensor({ rank: 1, axes: ["n"] }));
  return withDType([t.shape[0]], Float64Array.from(t.data, Math.exp), resultDType(t));
}
