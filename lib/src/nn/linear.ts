/**
 * The affine map of every projection in a Mamba or Transformer block, in PyTorch's `nn.Linear`
 * layout: the weight is stored (out, in), so a checkpoint's tensor is used as it is.
 */
import type { Tensor } from "../tensor";
import { linear as referenceLinear } from "../ops/reference/forward";
import { argumentError, checkArg, isAbsent, schema } from "../validate";

/**
 * y = x Wᵀ + b (PyTorch's `F.linear`): y[..., o] = Σ_i x[..., i] · W[o, i] + b[o].
 *
 * Shapes: x (..., in) with any number of leading axes, weight (out, in), bias (out) or omitted.
 * Returns (..., out) with x's dtype; sums are accumulated in float64. x is checked for NaN/∞;
 * the weights are not scanned on every call (models validate theirs when built or loaded).
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const fn = "linear";
  const xt = checkArg(fn, "x", x, schema.tensor());
  if (xt.shape.length < 1) {
    throw argumentError(fn, "x", "a tensor with at least 1 axis (..., in) (got shape [])");
  }
  const w = checkArg(
    fn,
    "weight",
    weight,
    schema.tensor({ rank: 2, axes: ["out", "in"], finite: false }),
  );
  const [outDim, inDim] = w.shape;
  if (xt.shape[xt.shape.length - 1] !== inDim) {
    throw argumentError(
      fn,
      "x",
      `a tensor whose last axis is ${inDim} (in, from weight [${w.shape.join(", ")}]) (got shape [${xt.shape.join(", ")}])`,
    );
  }
  const b = isAbsent(bias)
    ? null
    : checkArg(fn, "bias", bias, schema.tensor({ shape: [outDim], axes: ["out"], finite: false }));
  return referenceLinear(xt, w, b);
}
