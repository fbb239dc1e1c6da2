/**
 * The affine map of every projection in a Mamba or Transformer block, in PyTorch's `nn.Linear`
 * layout: the weight is stored (out, in), so a checkpoint's tensor is used as it is.
 */
import type { Tensor } from "../tensor";
import { linear as referenceLinear } from "../ops/reference/forward";
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
  return referenceLinear(xt, w, b);
}
