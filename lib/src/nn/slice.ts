/** Splitting along the feature axis: in_proj's output into (x, z), x_proj's into (Δ, B, C). */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { assertInteger, assertTensor } from "../validate";

/**
 * out[..., j] = x[..., from + j] for j in [0, count): columns [from, from + count) of the last axis.
 *
 * Shapes: x (..., c) -> (..., count), same dtype. Like `torch.split` / `chunk` on the last dim.
 */
export function sliceLastAxis(x: Tensor, from: number, count: number): Tensor {
  const fn = "sliceLastAxis";
  const t = assertTensor(`${fn}: x`, x, { finite: false });
  if (t.shape.length < 1)
    throw new Error(
      `${fn}: argument 'x' must be a tensor with at least 1 axis (..., c) (got shape [])`,
    );
  const c = t.shape[t.shape.length - 1];
  assertInteger(`${fn}: from`, from, 0, c);
  assertInteger(`${fn}: count`, count, 0, c - from);
  const rows = c === 0 ? 0 : t.data.length / c;
  const out = allocate(dtypeOf(t), rows * count);
  for (let r = 0; r < rows; r++)
    out.set(t.data.subarray(r * c + from, r * c + from + count), r * count);
  return { shape: [...t.shape.slice(0, -1), count], data: out };
}
