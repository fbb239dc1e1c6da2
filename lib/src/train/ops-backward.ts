/**
 * Backward passes of the model's ops, each paired with its forward in `nn/` (same name +
 * "Backward"), llm.c style: the backward takes what the forward read (its inputs, kept by the
 * caller as the cache) and g = ∂loss/∂(the forward's output), and returns ∂loss/∂(each input).
 * Every formula below is the forward's equation differentiated by hand;
 * `tests/unit/train/ops-backward.test.ts` checks each against central finite differences.
 *
 * Gradients are accumulated in float64 and returned in the dtype of the input they belong to.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { sigmoidRaw } from "../ops/reference/scalar";
import { channelsFirst } from "../ops/reference/layout";
import { reference } from "../ops/reference/index";
import type { CrossEntropy } from "../ops/backend";
import { convBackwardInLayout } from "../ops/reference/backward";
import { MAX_ELEMENTS, argumentError, checkArg, describe, schema } from "../validate";

const ANY_TENSOR = schema.tensor();

function like(t: Tensor, data: Float64Array, shape: readonly number[] = t.shape): Tensor {
  const o = allocate(dtypeOf(t), data.length);
  o.set(data);
  return { shape: [...shape], data: o };
}

/** Checks the upstream gradient (argument `name`): a finite tensor of the given shape. */
function sameShape(fn: string, name: string, g: unknown, shape: readonly number[]): void {
  checkArg(fn, name, g, schema.tensor({ shape }));
}

/**
 * Backward of `linear` (y = x Wᵀ + b):  ∂x = g W,  ∂W = Σ_rows gᵀ x,  ∂b = Σ_rows g.
 *
 * Shapes: x (..., in), weight (out, in), g (..., out). Returns dx (..., in), dweight (out, in) and,
 * with `hasBias`, dbias (out).
 */
export function linearBackward(
  x: Tensor,
  weight: Tensor,
  g: Tensor,
  hasBias = false,
): { dx: Tensor; dweight: Tensor; dbias?: Tensor } {
  const fn = "linearBackward";
  checkArg(fn, "hasBias", hasBias, schema.boolean());
  checkArg(fn, "x", x, ANY_TENSOR);
  checkArg(fn, "weight", weight, schema.tensor({ rank: 2, axes: ["out", "in"] }));
  const [outDim, inDim] = weight.shape;
  if (x.shape[x.shape.length - 1] !== inDim) {
    throw argumentError(
      fn,
      "x",
      `a tensor whose last axis is ${inDim} (in) (got shape [${x.shape.join(", ")}])`,
    );
  }
  sameShape(fn, "g", g, [...x.shape.slice(0, -1), outDim]);
  const r = reference.linearBackward(x, weight, g, hasBias);
  return hasBias
    ? { dx: r.dx, dweight: r.dweight, dbias: r.dbias! }
    : { dx: r.dx, dweight: r.dweight };
}

/**
 * Backward of `rmsNorm` (y = x · r · w with r = 1 / sqrt(mean(x²) + eps)), per row of length d:
 *
 *   ∂w_j += g_j x_j r,    ∂x_j = r (g_j w_j − x_j r² · (1/d) Σ_k g_k w_k x_k)
 *
 * (the second term is the path through r: ∂r/∂x_j = −r³ x_j / d).
 * Shapes: x (..., d), weight (d), g (..., d). Returns dx (..., d) and dweight (d).
 */
export function rmsNormBackward(
  x: Tensor,
  weight: Tensor,
  eps: number,
  g: Tensor,
): { dx: Tensor; dweight: Tensor } {
  const fn = "rmsNormBackward";
  checkArg(fn, "x", x, ANY_TENSOR);
  if (x.shape.length < 1) {
    throw argumentError(fn, "x", "a tensor with at least 1 axis (..., d) (got shape [])");
  }
  const d = x.shape[x.shape.length - 1];
  checkArg(fn, "weight", weight, schema.tensor({ shape: [d], axes: ["d"] }));
  const e = checkArg(fn, "eps", eps, schema.number({ min: 0 }));
  sameShape(fn, "g", g, x.shape);
  return reference.rmsNormBackward(x, weight, e, g);
}

/**
 * Backward of `embedding` (y[b, t] = W[ids[b, t]]): ∂W[v] = Σ over positions with ids = v of g.
 * Shapes: ids (b·l), g (b, l, d); returns dweight (vocab, d) in g's dtype.
 */
export function embeddingBackward(ids: Int32Array, vocab: number, g: Tensor): Tensor {
  const fn = "embeddingBackward";
  if (!(ids instanceof Int32Array)) {
    throw argumentError(fn, "ids", `an Int32Array (got ${describe(ids)})`);
  }
  checkArg(fn, "vocab", vocab, schema.integer({ min: 1 }));
  checkArg(fn, "g", g, ANY_TENSOR);
  const d = g.shape[g.shape.length - 1];
  if (g.shape.length < 1 || g.data.length !== ids.length * d) {
    throw argumentError(
      fn,
      "g",
      `a tensor of ${ids.length} rows (one per id) of length d (got shape [${g.shape.join(", ")}])`,
    );
  }
  if (vocab * d > MAX_ELEMENTS) {
    throw argumentError(
      fn,
      "vocab",
      `an integer with vocab · d <= ${MAX_ELEMENTS} (got ${vocab}, d = ${d})`,
    );
  }
  for (let p = 0; p < ids.length; p++) {
    if (ids[p] < 0 || ids[p] >= vocab) {
      throw argumentError(fn, "ids", `token ids in [0, ${vocab}) (got ${ids[p]} at position ${p})`);
    }
  }
  return reference.embeddingBackward(ids, vocab, g);
}

/**
 * Backward of `causalDepthwiseConv1d` (y[c, t] = bias[c] + Σ_j w[c, 0, j] x[c, t − (k−1) + j]):
 *   ∂x[c, s] = Σ_j w[c, 0, j] g[c, s + (k−1) − j]   (t = s + k − 1 − j < l),
 *   ∂w[c, 0, j] = Σ_t g[c, t] x[c, t − (k−1) + j],   ∂bias[c] = Σ_t g[c, t].
 * Shapes: x (b, d, l), weight (d, 1, k), g (b, d, l). Returns dx, dweight and, with `hasBias`, dbias (d).
 */
export function causalDepthwiseConv1dBackward(
  x: Tensor,
  weight: Tensor,
  g: Tensor,
  hasBias = true,
): { dx: Tensor; dweight: Tensor; dbias?: Tensor } {
  const fn = "causalDepthwiseConv1dBackward";
  checkArg(fn, "hasBias", hasBias, schema.boolean());
  checkArg(fn, "x", x, schema.tensor({ rank: 3, axes: ["b", "d", "l"] }));
  const [batch, dim, len] = x.shape;
  checkArg(fn, "weight", weight, schema.tensor({ shape: [dim, 1, null], axes: ["d", "1", "k"] }));
  sameShape(fn, "g", g, x.shape);
  const k = weight.shape[2];
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(dim * k);
  const db = new Float64Array(dim);
  const layout = channelsFirst(dim, len);
  convBackwardInLayout(x.data, layout, batch, dim, len, weight.data, k, g.data, dx, dw, db);
  const result: { dx: Tensor; dweight: Tensor; dbias?: Tensor } = {
    dx: like(x, dx),
    dweight: like(weight, dw),
  };
  if (hasBias) result.dbias = like(weight, db, [dim]);
  return result;
}

/** Backward of elementwise SiLU (y = x σ(x)): ∂x = g · σ(x) (1 + x (1 − σ(x))). Shapes: x, g (...). */
export function siluBackward(x: Tensor, g: Tensor): Tensor {
  checkArg("siluBackward", "x", x, ANY_TENSOR);
  sameShape("siluBackward", "g", g, x.shape);
  return reference.siluBackward(x, g);
}

/** Backward of elementwise softplus (y = log(1 + eˣ)): ∂x = g · σ(x). Shapes: x, g (...). */
export function softplusBackward(x: Tensor, g: Tensor): Tensor {
  checkArg("softplusBackward", "x", x, ANY_TENSOR);
  sameShape("softplusBackward", "g", g, x.shape);
  const dx = new Float64Array(x.data.length);
  for (let i = 0; i < dx.length; i++) dx[i] = g.data[i] * sigmoidRaw(x.data[i]);
  return like(x, dx);
}

/**
 * Cross-entropy on chosen positions, forward and backward in one pass (they share the softmax):
 *
 *   loss = Σ_p m_p (logsumexp(logits_p) − logits_p[t_p]) / Σ_p m_p
 *   ∂loss/∂logits_p = m_p (softmax(logits_p) − onehot(t_p)) / Σ_p m_p
 *
 * Shapes: logits (..., vocab) with P = numel / vocab positions; targets Int32Array (P); mask
 * (P) of 0/1 (or weights ≥ 0), default all 1. A target of −100 is skipped, as PyTorch's
 * `ignore_index`. Computed in float64; dlogits has logits' dtype.
 */
export function crossEntropy(
  logits: Tensor,
  targets: Int32Array,
  mask?: ArrayLike<number> | null,
): CrossEntropy {
  const fn = "crossEntropy";
  checkArg(fn, "logits", logits, ANY_TENSOR);
  if (logits.shape.length < 1) {
    throw argumentError(fn, "logits", "a tensor with at least 1 axis (..., vocab) (got shape [])");
  }
  const V = logits.shape[logits.shape.length - 1];
  const P = V === 0 ? 0 : logits.data.length / V;
  if (!(targets instanceof Int32Array) || targets.length !== P) {
    throw argumentError(
      fn,
      "targets",
      `an Int32Array of ${P} ids (one per position of logits [${logits.shape.join(", ")}]) (got ${describe(targets)})`,
    );
  }
  checkArg(fn, "mask", mask, schema.optional(schema.numbers()));
  if (mask !== undefined && mask !== null && mask.length !== P) {
    throw argumentError(
      fn,
      "mask",
      `an array of ${P} entries (one per position) (got ${mask.length})`,
    );
  }
  let total = 0;
  for (let p = 0; p < P; p++) {
    const t = targets[p];
    const m = mask ? mask[p] : 1;
    if (!(m >= 0)) {
      throw argumentError(fn, "mask", `an array of weights >= 0 (got ${m} at position ${p})`);
    }
    if (t === -100) continue;
    if (t < 0 || t >= V) {
      throw argumentError(fn, "targets", `ids in [0, ${V}) or -100 (got ${t} at position ${p})`);
    }
    total += m;
  }
  if (!(total > 0)) {
    throw argumentError(
      fn,
      "mask",
      "a mask that counts at least one position (got every position masked or ignored)",
    );
  }
  return reference.crossEntropy(logits, targets, mask ?? null);
}
