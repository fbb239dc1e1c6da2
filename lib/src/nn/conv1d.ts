/**
 * Mamba's short convolution: a causal depthwise 1-D convolution over the sequence axis, in the
 * layout of PyTorch's `nn.Conv1d(d, d, k, groups=d, padding=k-1)` followed by keeping the first l
 * outputs (what `mamba_simple.py` does).
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, isAbsent, schema } from "../validate";
import { channelsFirst } from "../ops/reference/layout";
import { convInLayout } from "../ops/reference/forward";

/**
 * y[b, c, t] = bias[c] + Σ_{j=0}^{k-1} w[c, 0, j] · x[b, c, t − (k−1) + j], with x = 0 before
 * t = 0: each channel c sees only its own current and k−1 previous inputs (causal, depthwise).
 * PyTorch's Conv1d is a cross-correlation, hence w[c, 0, k−1] multiplies the current input.
 *
 * Shapes: x (b, d, l), weight (d, 1, k), bias (d) or null. Returns (b, d, l) with x's dtype.
 */
export function causalDepthwiseConv1d(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  const fn = "causalDepthwiseConv1d";
  const xt = checkArg(fn, "x", x, schema.tensor({ rank: 3, axes: ["b", "d", "l"] }));
  const [batch, dim, len] = xt.shape;
  const w = checkArg(
    fn,
    "weight",
    weight,
    schema.tensor({ shape: [dim, 1, null], axes: ["d", "1", "k"], finite: false }),
  );
  const k = w.shape[2];
  if (k < 1) {
    throw argumentError(
      fn,
      "weight",
      `a tensor (d, 1, k) with kernel size k >= 1 (got shape [${w.shape.join(", ")}])`,
    );
  }
  const b = isAbsent(bias)
    ? null
    : checkArg(fn, "bias", bias, schema.tensor({ shape: [dim], axes: ["d"], finite: false }));
  const out = allocate(dtypeOf(xt), xt.data.length);
  const layout = channelsFirst(dim, len);
  convInLayout(xt.data, layout, batch, dim, len, w.data, k, b ? b.data : null, null, out);
  return { shape: [batch, dim, len], data: out };
}
