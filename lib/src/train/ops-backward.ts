/**
 * Backward passes of the model's ops, each paired with its forward in `nn/` (same name +
 * "Backward"), llm.c style: the backward takes what the forward read (its inputs, kept by the
 * caller as the cache) and g = ∂loss/∂(the forward's output), and returns ∂loss/∂(each input).
 * Every formula below is the forward's equation differentiated by hand; `tests/ops-backward.test.ts`
 * checks each against central finite differences.
 *
 * Gradients are accumulated in float64 and returned in the dtype of the input they belong to.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { sigmoid } from "../selective/activations";
import { channelsFirst } from "../selective/layout";
import { reference } from "../ops/reference/index";
import type { CrossEntropy } from "../ops/backend";
import { convBackwardInLayout } from "../ops/reference/backward";
import {
  MAX_ELEMENTS,
  argumentError,
  assertInteger,
  assertTensor,
  checkArg,
  describe,
  schema,
} from "../validate";

function like(t: Tensor, data: Float64Array, shape: readonly number[] = t.shape): Tensor {
  const o = allocate(dtypeOf(t), data.length);
  o.set(data);
  return { shape: [...shape], data: o };
}

function sameShape(fn: string, name: string, g: Tensor, shape: readonly number[]): void {
  assertTensor(`${fn}: ${name}`, g, { shape });
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
  assertTensor(`${fn}: x`, x);
  assertTensor(`${fn}: weight`, weight, { rank: 2, axes: ["out", "in"] });
  const [outDim, inDim] = weight.shape;
  if (x.shape[x.shape.length - 1] !== inDim) {
    throw new Error(
      `${fn}: argument 'x' must be a tensor whose last axis is ${inDim} (in) (got shape [${x.shape.join(", ")}])`,
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
  assertTensor(`${fn}: x`, x);
  const d = x.shape[x.shape.length - 1];
  assertTensor(`${fn}: weight`, weight, { shape: [d], axes: ["d"] });
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
  if (!(ids instanceof Int32Array))
    throw new Error(`${fn}: argument 'ids' must be an Int32Array (got ${describe(ids)})`);
  assertInteger(`${fn}: vocab`, vocab, 1);
  assertTensor(`${fn}: g`, g);
  const d = g.shape[g.shape.length - 1];
  if (g.data.length !== ids.length * d) {
    throw new Error(
      `${fn}: argument 'g' must be a tensor of ${ids.length} rows (one per id) of length d (got shape [${g.shape.join(", ")}])`,
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
    if (ids[p] < 0 || ids[p] >= vocab)
      throw new Error(
        `${fn}: argument 'ids' must be token ids in [0, ${vocab}) (got ${ids[p]} at position ${p})`,
      );
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
  assertTensor(`${fn}: x`, x, { rank: 3, axes: ["b", "d", "l"] });
  const [batch, dim, len] = x.shape;
  assertTensor(`${fn}: weight`, weight, { shape: [dim, 1, null], axes: ["d", "1", "k"] });
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
  assertTensor("siluBackward: x", x);
  sameShape("siluBackward", "g", g, x.shape);
  return reference.siluBackward(x, g);
}

/** Backward of elementwise softplus (y = log(1 + eˣ)): ∂x = g · σ(x). Shapes: x, g (...). */
export function softplusBackward(x: Tensor, g: Tensor): Tensor {
  assertTensor("softplusBackward: x", x);
  sameShape("softplusBackward", "g", g, x.shape);
  const dx = new Float64Array(x.data.length);
  for (let i = 0; i < dx.length; i++) dx[i] = g.data[i] * sigmoid(x.data[i]);
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
  assertTensor(`${fn}: logits`, logits);
  const V = logits.shape[logits.shape.length - 1];
  const P = V === 0 ? 0 : logits.data.length / V;
  if (!(targets instanceof Int32Array) || targets.length !== P) {
    throw new Error(
      `${fn}: argument 'targets' must be an Int32Array of ${P} ids (one per position of logits [${logits.shape.join(", ")}]) (got ${describe(targets)})`,
    );
  }
  checkArg(fn, "mask", mask, schema.optional(schema.numbers()));
  if (mask !== undefined && mask !== null && mask.length !== P) {
    throw new Error(
      `${fn}: argument 'mask' must be an array of ${P} entries (one per position) (got ${mask.length})`,
    );
  }
  let total = 0;
  for (let p = 0; p < P; p++) {
    const t = targets[p];
    const m = mask ? mask[p] : 1;
    if (!(m >= 0))
      throw new Error(
        `${fn}: argument 'mask' must be an array of weights >= 0 (got ${m} at position ${p})`,
      );
    if (t === -100) continue;
    if (t < 0 || t >= V)
      throw new Error(
        `${fn}: argument 'targets' must be ids in [0, ${V}) or -100 (got ${t} at position ${p})`,
      );
    total += m;
  }
  if (!(total > 0))
    throw new Error(
      `${fn}: argument 'mask' must count at least one position (got every position masked or ignored)`,
    );
  return reference.crossEntropy(logits, targets, mask ?? null);
}
