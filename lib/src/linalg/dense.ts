/**
 * Raw dense kernels over row-major `Float64Array`s, shared by the tensor-level helpers in this
 * folder and by the SSM modules. They do no validation: callers check shapes first. Matrices are
 * `(rows, cols)` row-major, so entry (i, j) of an `r × c` matrix sits at `i * c + j`.
 */

/** The n × n identity. */
export function eyeRaw(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/** C = A B for A (r, k) and B (k, c): C_ij = Σ_p A_ip B_pj. */
export function matmulRaw(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  r: number,
  k: number,
  c: number,
): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const row = i * c;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      if (aip === 0) continue;
      const brow = p * c;
      for (let j = 0; j < c; j++) out[row + j] += aip * b[brow + j];
    }
  }
  return out;
}

/** Aᵀ (c, r) for A (r, c). */
export function transposeRaw(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

/** Max column sum of |A| for A (r, c): the matrix 1-norm ‖A‖₁. */
export function norm1Raw(a: ArrayLike<number>, r: number, c: number): number {
  let best = 0;
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let i = 0; i < r; i++) s += Math.abs(a[i * c + j]);
    if (s > best) best = s;
  }
  return best;
}

/** An LU factorisation with partial pivoting, P A = L U, packed as LAPACK's getrf does. */
export interface LuRaw {
  n: number;
  /** L (unit lower, below the diagonal) and U (upper, with the diagonal) in one n × n array. */
  lu: Float64Array;
  /** Row i of P A is row perm[i] of A. */
  perm: Int32Array;
  /** +1 or -1: the sign of the permutation (for determinants). */
  sign: number;
  /** The smallest |U_ii| relative to the largest: 0 for an exactly singular matrix. */
  pivotRatio: number;
}

/** Doolittle LU with partial pivoting (row swaps): P A = L U for A (n, n). */
export function luRaw(a: ArrayLike<number>, n: number): LuRaw {
  const lu = Float64Array.from(a as ArrayLike<number>);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  let sign = 1;
  let maxPivot = 0;
  let minPivot = Infinity;
  for (let k = 0; k < n; k++) {
    let p = k;
    let best = Math.abs(lu[k * n + k]);
    for (let i = k + 1; i < n; i++) {
      const v = Math.abs(lu[i * n + k]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = lu[k * n + j];
        lu[k * n + j] = lu[p * n + j];
        lu[p * n + j] = t;
      }
      const t = perm[k];
      perm[k] = perm[p];
      perm[p] = t;
      sign = -sign;
    }
    maxPivot = Math.max(maxPivot, best);
    minPivot = Math.min(minPivot, best);
    const pivot = lu[k * n + k];
    if (pivot === 0) continue;
    for (let i = k + 1; i < n; i++) {
      const l = lu[i * n + k] / pivot;
      lu[i * n + k] = l;
      if (l === 0) continue;
      for (let j = k + 1; j < n; j++) lu[i * n + j] -= l * lu[k * n + j];
    }
  }
  const pivotRatio = n === 0 ? 1 : maxPivot === 0 ? 0 : minPivot / maxPivot;
  return { n, lu, perm, sign, pivotRatio };
}

/** Solves A X = B from A's LU factors, for B (n, m). Returns X (n, m). */
export function luSolveRaw(f: LuRaw, b: ArrayLike<number>, m: number): Float64Array {
  const { n, lu, perm } = f;
  const x = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const src = perm[i] * m;
    for (let j = 0; j < m; j++) x[i * m + j] = b[src + j];
  }
  // Forward substitution with the unit lower factor: L Y = P B.
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const l = lu[i * n + k];
      if (l === 0) continue;
      for (let j = 0; j < m; j++) x[i * m + j] -= l * x[k * m + j];
    }
  }
  // Back substitution with the upper factor: U X = Y.
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const u = lu[i * n + k];
      if (u === 0) continue;
      for (let j = 0; j < m; j++) x[i * m + j] -= u * x[k * m + j];
    }
    const d = lu[i * n + i];
    for (let j = 0; j < m; j++) x[i * m + j] /= d;
  }
  return x;
}

/** Relative pivot size below which a matrix counts as singular to working precision. */
export const SINGULAR_PIVOT_RATIO = 1e-14;
