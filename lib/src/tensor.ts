/**
 * Tensors: the one data structure every lesson passes around.
 *
 * A tensor is a plain object `{ shape, data }` with `data` stored row-major (the last axis is
 * contiguous), exactly as PyTorch's default layout. Keeping it a plain object means a learner can
 * build one by hand (`{ shape: [2, 2], data: new Float64Array([1, 0, 0, 1]) }`) and every lib
 * function accepts it.
 */

import { MAX_ELEMENTS, argumentError, checkArg, describe, schema } from "./validate";

/** The element storage a tensor may use. Float64 for references, Float32 for speed (as on GPUs). */
export type FloatArray = Float32Array | Float64Array;

/** A dense row-major tensor. `data.length` must equal the product of `shape`. */
export interface Tensor<T extends FloatArray = FloatArray> {
  shape: number[];
  data: T;
}

/** The element type names a tensor can carry. */
export type DType = "float32" | "float64";

/** Number of elements of a shape: the product of its entries (1 for a scalar shape `[]`). */
export function numel(shape: readonly number[]): number {
  checkShape("numel", shape, Infinity);
  return product(shape);
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Row-major strides of a shape: `strides[i]` is the distance in `data` between steps along axis i. */
export function strides(shape: readonly number[]): number[] {
  checkShape("strides", shape, Infinity);
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out[i] = s;
    s *= shape[i];
  }
  return out;
}

/** The dtype name of a tensor's storage. */
export function dtypeOf(t: Tensor): DType {
  checkAnyTensor("dtypeOf", "t", t);
  return t.data instanceof Float32Array ? "float32" : "float64";
}

/** A new typed array of the given dtype and length. */
export function allocate(dtype: DType, length: number): FloatArray {
  checkDType("allocate", dtype);
  checkArg("allocate", "length", length, schema.integer({ min: 0, max: MAX_ELEMENTS }));
  return dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
}

/** A tensor of zeros with the given shape and dtype (float64 unless stated). */
export function zeros(shape: readonly number[], dtype: DType = "float64"): Tensor {
  checkShape("zeros", shape, MAX_ELEMENTS);
  checkDType("zeros", dtype);
  return { shape: [...shape], data: allocate(dtype, product(shape)) };
}

/**
 * A tensor from nested arrays (`[[1, 2], [3, 4]]` has shape `[2, 2]`) or from a flat list plus a
 * shape. Ragged nesting, non-finite values and more than {@link MAX_ELEMENTS} elements are
 * rejected.
 */
export function tensor(values: NestedNumbers, dtype: DType = "float64"): Tensor {
  checkDType("tensor", dtype);
  if (typeof values !== "number" && !Array.isArray(values)) {
    throw argumentError(
      "tensor",
      "values",
      `a number or nested arrays of numbers (got ${describe(values)})`,
    );
  }
  const shape: number[] = [];
  let probe: NestedNumbers = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0] as NestedNumbers;
  }
  const flat: number[] = [];
  const walk = (v: NestedNumbers, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== "number")
        throw argumentError(
          "tensor",
          "values",
          `a nested array of numbers with equal-length rows (got ${describe(v)} at depth ${depth})`,
        );
      if (!Number.isFinite(v)) {
        throw argumentError(
          "tensor",
          "values",
          `finite numbers (got ${v} at flat index ${flat.length})`,
        );
      }
      if (flat.length >= MAX_ELEMENTS) {
        throw argumentError("tensor", "values", `at most ${MAX_ELEMENTS} numbers (got more)`);
      }
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw argumentError(
        "tensor",
        "values",
        `a nested array of numbers with equal-length rows (got ${describe(v)} where an array of length ${shape[depth]} belongs, at depth ${depth})`,
      );
    }
    for (const x of v) walk(x, depth + 1);
  };
  walk(values, 0);
  const data = allocate(dtype, flat.length);
  data.set(flat);
  return { shape, data };
}

/** Numbers nested in arrays, as accepted by {@link tensor}. */
export type NestedNumbers = number | NestedNumbers[];

/** Nested plain arrays from a tensor (the inverse of {@link tensor}); handy for printing. */
export function toNested(t: Tensor): NestedNumbers {
  checkAnyTensor("toNested", "t", t);
  const st = strides(t.shape);
  const build = (axis: number, offset: number): NestedNumbers => {
    if (axis === t.shape.length) return t.data[offset];
    const out: NestedNumbers[] = [];
    for (let i = 0; i < t.shape[axis]; i++) out.push(build(axis + 1, offset + i * st[axis]));
    return out;
  };
  return build(0, 0);
}

/** A copy of a tensor converted to the given dtype. */
export function astype(t: Tensor, dtype: DType): Tensor {
  checkAnyTensor("astype", "t", t);
  checkDType("astype", dtype);
  const data = allocate(dtype, t.data.length);
  data.set(t.data);
  return { shape: [...t.shape], data };
}

/** Largest absolute elementwise difference of two same-shaped tensors (for tolerances in tests). */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  checkAnyTensor("maxAbsDiff", "a", a);
  checkAnyTensor("maxAbsDiff", "b", b);
  if (a.shape.length !== b.shape.length || a.shape.some((s, i) => s !== b.shape[i])) {
    throw new Error(
      `maxAbsDiff: argument 'b' must be a tensor of a's shape [${a.shape.join(", ")}] (got shape [${b.shape.join(", ")}])`,
    );
  }
  let m = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

// Checks, after the definitions they guard. A tensor here may hold NaN (these are the storage
// helpers; the numerics reject non-finite values themselves).
const DTYPES = schema.oneOf(["float32", "float64"] as const);

function checkDType(fn: string, dtype: unknown): void {
  checkArg(fn, "dtype", dtype, DTYPES);
}

function checkShape(fn: string, shape: unknown, maxElements: number): void {
  checkArg(fn, "shape", shape, schema.shape({ maxElements }));
}

function checkAnyTensor(fn: string, arg: string, t: unknown): void {
  checkArg(fn, arg, t, schema.tensor({ finite: false }));
}
