/** Root-mean-square layer normalisation (Zhang & Sennrich 2019), Mamba's and Llama's norm. */
import type { Tensor } from "../tensor";
import { rmsNorm as referenceRmsNorm } from "../ops/reference/forward";
import { argumentError, checkArg, schema } from "../validate";

/**
 * y[..., j] = x[..., j] / sqrt(mean_j(x²) + eps) · w[j]  (RMSNorm; no mean subtraction, no bias).
 *
 * Shapes: x (..., d), weight (d). Returns (..., d) with x's dtype; the mean is taken in float64.
 * @param eps a small non-negative number (Mamba: `layer_norm_epsilon` = 1e-5)
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const fn = "rmsNorm";
  const xt = checkArg(fn, "x", x, schema.tensor());
  if (xt.shape.length < 1) {
    throw argumentError(fn, "x", "a tensor with at least 1 axis (..., d) (got shape [])");
  }
  const d = xt.shape[xt.shape.length - 1];
  const w = checkArg(
    fn,
    "weight",
    weight,
    schema.tensor({ shape: [d], axes: ["d"], finite: false }),
  );
  const e = checkArg(fn, "eps", eps, schema.number({ min: 0 }));
  return referenceRmsNorm(xt, w, e);
}
