/**
 * Small dense matrices as tensors: identity, products, transpose and norms.
 *
 * Everything here computes in float64. A result is float32 only when every tensor argument is
 * float32; otherwise it is float64. These helpers are meant for the small matrices of the SSM
 * lessons (N up to a few hundred), not for speed.
 */
import { type DType, type Tensor, allocate, dtypeOf, numel } from "../tensor";
import { argumentError, checkArg, describe, schema } from "../validate";
import { eyeRaw, matmulRaw, norm1Raw, transposeRaw } from "./dense";
import { resultDType, withDType } from "./result";

const DTYPE = schema.oneOf<DType>(["float32", "float64"]);

/** Wraps float64 data as a tensor of the given dtype (copying only to narrow to float32). */
export function fromFloat64(shape: number[], data: Float64Array, dtype: DType): Tensor {
  checkArg("fromFloat64", "shape", shape, schema.shape());
  if (!(data instanceof Float64Array) || data.length !== numel(shape)) {
    throw argumentError(
      "fromFloat64",
      "data",
      `a Float64Array of ${numel(shape)} values for shape [${shape.join(", ")}] (got ${describe(data)}${ArrayBuffer.isView(data) ? ` of length ${(data as Float64Array).length}` : ""})`,
    );
  }
  checkArg("fromFloat64", "dtype", dtype, DTYPE);
  return withDType(shape, data, dtype);
}

/** The n × n identity matrix I (n, n), float64 unless `dtype` says otherwise; n <= 8192. */
export function identity(n: number, dtype: DType = "float64"): Tensor {
  checkArg("identity", "n", n, schema.integer({ min: 0, max: 8192 }));
  checkArg("identity", "dtype", dtype, DTYPE);
  return withDType([n, n], eyeRaw(n), dtype);
}

/**
 * The matrix product C = A B, C_ij = Σ_k A_ik B_kj, for A (r, k) and B (k, c); returns C (r, c).
 */
export function matmul(A: Tensor, B: Tensor): Tensor {
  const a = checkArg("matmul", "A", A, schema.tensor({ rank: 2, axes: ["r", "k"] }));
  const b = checkArg("matmul", "B", B, schema.tensor({ rank: 2, axes: ["k", "c"] }));
  const [r, k] = a.shape;
  const c = b.shape[1];
  if (b.shape[0] !== k) {
    throw argumentError(
      "matmul",
      "B",
      `a matrix of ${k} rows to match A's ${k} columns (got shape [${b.shape.join(", ")}])`,
    );
  }
  return withDType([r, c], matmulRaw(a.data, b.data, r, k, c), resultDType(a, b));
}

/** The matrix-vector product y = A x, y_i = Σ_j A_ij x_j, for A (r, c) and x (c); returns y (r). */
export function matvec(A: Tensor, x: Tensor): Tensor {
  const a = checkArg("matvec", "A", A, schema.tensor({ rank: 2, axes: ["r", "c"] }));
  const [r, c] = a.shape;
  const v = checkArg("matvec", "x", x, schema.tensor({ shape: [c], axes: ["c"] }));
  return withDType([r], matmulRaw(a.data, v.data, r, c, 1), resultDType(a, v));
}

/** The transpose Aᵀ (c, r) of A (r, c): (Aᵀ)_ij = A_ji. Keeps A's dtype. */
export function transpose(A: Tensor): Tensor {
  const a = checkArg(
    "transpose",
    "A",
    A,
    schema.tensor({ rank: 2, axes: ["r", "c"], finite: false }),
  );
  const [r, c] = a.shape;
  const out = allocate(dtypeOf(a), r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a.data[i * c + j];
  return { shape: [c, r], data: out };
}

/** Which matrix norm {@link norm} computes. */
export type MatrixNorm = "1" | "inf" | "fro" | "max";

const NORM_KINDS = schema.oneOf<MatrixNorm>(["1", "inf", "fro", "max"]);

/**
 * A matrix norm of A (r, c): `"1"` ‖A‖₁ = max_j Σ_i |A_ij| (largest column sum), `"inf"`
 * ‖A‖_∞ = max_i Σ_j |A_ij| (largest row sum), `"fro"` ‖A‖_F = √(Σ_ij A_ij²), `"max"` max_ij |A_ij|.
 * A vector (n) is treated as a column (n, 1).
 */
export function norm(A: Tensor, kind: MatrixNorm = "fro"): number {
  const a = checkArg("norm", "A", A, schema.tensor());
  if (a.shape.length !== 1 && a.shape.length !== 2) {
    throw argumentError(
      "norm",
      "A",
      `a vector (n) or a matrix (r, c) (got shape [${a.shape.join(", ")}])`,
    );
  }
  checkArg("norm", "kind", kind, NORM_KINDS);
  const r = a.shape[0];
  const c = a.shape.length === 2 ? a.shape[1] : 1;
  switch (kind) {
    case "1":
      return norm1Raw(a.data, r, c);
    case "inf":
      return norm1Raw(transposeRaw(a.data, r, c), c, r);
    case "max": {
      let m = 0;
      for (const v of a.data) m = Math.max(m, Math.abs(v));
      return m;
    }
    case "fro": {
      // Scaled sum of squares, as LAPACK's dlange does, so huge or tiny entries cannot overflow.
      let scale = 0;
      let ssq = 1;
      for (const v of a.data) {
        const x = Math.abs(v);
        if (x === 0) continue;
        if (scale < x) {
          ssq = 1 + ssq * (scale / x) ** 2;
          scale = x;
        } else {
          ssq += (x / scale) ** 2;
        }
      }
      return scale * Math.sqrt(ssq);
    }
  }
}
