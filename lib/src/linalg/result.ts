/**
 * The dtype rule of the linear-algebra and SSM functions, which compute in float64: a result is
 * float32 only when every tensor argument is float32. Not exported from lib's index (matrix.ts's
 * fromFloat64 is the checked public form of {@link withDType}).
 */
import { type DType, type Tensor, allocate, dtypeOf } from "../tensor";

/** float32 when every tensor is float32, else float64. */
export function resultDType(...tensors: Tensor[]): DType {
  return tensors.every((t) => dtypeOf(t) === "float32") ? "float32" : "float64";
}

/** Wraps float64 data of a checked shape as a tensor of `dtype` (copying only to narrow). */
export function withDType(shape: number[], data: Float64Array, dtype: DType): Tensor {
  if (dtype === "float64") return { shape, data };
  const out = allocate(dtype, data.length);
  out.set(data);
  return { shape, data: out };
}
