/**
 * The affine map of every projection in a Mamba or Transformer block, in PyTorch's `nn.Linear`
 * layout: the weight is stored (out, in), so a checkpoint's tensor is used as it is.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { assertTensor } from "../validate";

/**
 * y = x Wᵀ + b (PyTorch's `F.linear`): y[..., o] = Σ_i x[..., i] · W[o, i] + b[o].
 *
 * Shapes: x (..., in) with any number of leading axes, weight (out, in), bias (out) or omitted.
 * Returns (..., out) with x's dtype; sums are accumulated in float64. x is checked for NaN/∞;
 * the weights are not scanned on every call (models validate theirs when built or loaded).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const fn = "linear";
  const xt = assertTensor(`${fn}: x`, x);
  if (xt.shape.length < 1)
    throw new Error(
      `${fn}: argument 'x' must be a tensor with at least 1 axis (..., in) (got shape [])`,
    );
  const w = assertTensor(`${fn}: weight`, weight, { rank: 2, axes: ["out", "in"], finite: false });
  const [outDim, inDim] = w.shape;
  if (xt.shape[xt.shape.length - 1] !== inDim) {
    throw new Error(
      `${fn}: argument 'x' must be a tensor whose last axis is ${inDim} (in, from weight [${w.shape.join(", ")}]) (got shape [${xt.shape.join(", ")}])`,
    );
  }
  const b =
    bias === undefined || bias === null
      ? null
      : assertTensor(`${fn}: bias`, bias, { shape: [outDim], axes: ["out"], finite: false });
  const rowCount = rowsOf(xt.shape);
  const out = allocate(dtypeOf(xt), rowCount * outDim);
  const xd = xt.data;
  const wd = w.data;
  for (let r = 0; r < rowCount; r++) {
    const xo = r * inDim;
    const yo = r * outDim;
    let o = 0;
    // Four output features at a time: each x value is loaded once for four weight rows.
    for (; o + 4 <= outDim; o += 4) {
      const w0 = o * inDim;
      const w1 = w0 + inDim;
      const w2 = w1 + inDim;
      const w3 = w2 + inDim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < inDim; i++) {
        const xi = xd[xo + i];
        s0 += xi * wd[w0 + i];
        s1 += xi * wd[w1 + i];
        s2 += xi * wd[w2 + i];
        s3 += xi * wd[w3 + i];
      }
      out[yo + o] = s0 + (b ? b.data[o] : 0);
      out[yo + o + 1] = s1 + (b ? b.data[o + 1] : 0);
      out[yo + o + 2] = s2 + (b ? b.data[o + 2] : 0);
      out[yo + o + 3] = s3 + (b ? b.data[o + 3] : 0);
    }
    for (; o < outDim; o++) {
      const wo = o * inDim;
      let s = 0;
      for (let i = 0; i < inDim; i++) s += xd[xo + i] * wd[wo + i];
      out[yo + o] = s + (b ? b.data[o] : 0);
    }
  }
  return { shape: [...xt.shape.slice(0, -1), outDim], data: out };
}

function rowsOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length - 1; i++) n *= shape[i];
  return n;
}
