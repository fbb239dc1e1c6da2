/** Splitting along the feature axis: in_proj's output into (x, z), x_proj's into (Δ, B, C). */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";

/**
 * out[..., j] = x[..., from + j] for j in [0, count): columns [from, from + count) of the last axis.
 *
 * Shapes: x (..., c) -> (..., count), same dtype. Like `torch.split` / `chunk` on the last dim.
 */
export function sliceLastAxis(x: Tensor, from: number, count: number): Tensor {
  const fn = "sliceLastAxis";
  const t = checkArg(fn, "x", x, schema.tensor({ finite: false }));
  if (t.shape.length < 1) {
    throw argumentError(fn, "x", "a tensor with at least 1 axis (..., c) (got shape [])");
  }
  const c = t.shape[t.shape.length - 1];
  checkArg(fn, "from", from, schema.integer({ min: 0, max: c }));
  checkArg(fn, "count", count, schema.integer({ min: 0, max: c - from }));
  const rows = c === 0 ? 0 : t.data.length / c;
  const out = allocate(dtypeOf(t), rows * count);
  for (let r = 0; r < rows; r++)
    out.set(t.data.subarray(r * c + from, r * c + from + count), r * count);
  return { shape: [...t.shape.slice(0, -1), count], data: out };
}
