/**
 * Linear systems through the LU factorisation with partial pivoting: P A = L U, with L unit lower
 * triangular, U upper triangular and P the row permutation that puts the largest available pivot
 * on the diagonal at each step (Golub & Van Loan, Algorithm 3.4.1). Computes in float64; see
 * matrix.ts for the dtype of results.
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";
import { checkNonsingular, checkSquare } from "./checks";
import { luRaw, luSolveRaw } from "./dense";
import { resultDType, withDType } from "./result";

/** The factors of P A = L U as tensors. */
export interface LuFactors {
  /** L (n, n), unit lower triangular. */
  L: Tensor;
  /** U (n, n), upper triangular. */
  U: Tensor;
  /** Row i of P A is row perm[i] of A. */
  perm: number[];
  /** The sign of the permutation, ±1. */
  sign: number;
}

/** Factors A (n, n) as P A = L U with partial pivoting. L and U are float64. */
export function lu(A: Tensor): LuFactors {
  const n = checkSquare("lu", "A", A);
  const f = luRaw(A.data, n);
  const L = new Float64Array(n * n);
  const U = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = f.lu[i * n + j];
      if (j < i) L[i * n + j] = v;
      else U[i * n + j] = v;
    }
    L[i * n + i] = 1;
  }
  return {
    L: { shape: [n, n], data: L },
    U: { shape: [n, n], data: U },
    perm: Array.from(f.perm),
    sign: f.sign,
  };
}

/**
 * Solves A X = B for A (n, n) and B (n) or (n, m); returns X with B's shape. Throws when A is
 * singular to working precision.
 */
export function solve(A: Tensor, B: Tensor): Tensor {
  const n = checkSquare("solve", "A", A);
  const b = checkArg("solve", "B", B, schema.tensor());
  if (!(b.shape.length === 1 || b.shape.length === 2) || b.shape[0] !== n) {
    throw argumentError(
      "solve",
      "B",
      `a tensor of shape [${n}] or [${n}, m] to match A (${n}, ${n}) (got [${b.shape.join(", ")}])`,
    );
  }
  const m = b.shape.length === 2 ? b.shape[1] : 1;
  const f = luRaw(A.data, n);
  checkNonsingular("solve", "A", f);
  return withDType([...b.shape], luSolveRaw(f, b.data, m), resultDType(A, b));
}

/** The inverse A⁻¹ (n, n) of A (n, n), from A X = I. Prefer {@link solve} for systems. */
export function inverse(A: Tensor): Tensor {
  const n = checkSquare("inverse", "A", A);
  const f = luRaw(A.data, n);
  checkNonsingular("inverse", "A", f);
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return withDType([n, n], luSolveRaw(f, eye, n), resultDType(A));
}

/** The determinant det A = sign(P) Π U_ii of A (n, n). */
export function det(A: Tensor): number {
  const n = checkSquare("det", "A", A);
  const f = luRaw(A.data, n);
  let d = f.sign;
  for (let i = 0; i < n; i++) d *= f.lu[i * n + i];
  return d;
}
