/**
 * Causal softmax attention with grouped-query heads, as in Llama, on head-major operands
 * (b, heads, l, head_dim), the layout of HF's `eager_attention_forward`, for the lessons:
 *
 *   out[b, h, i] = Σ_{j ≤ offset + i} softmax_j( q[b,h,i] · k[b,g(h),j] / √head_dim ) · v[b,g(h),j]
 *
 * where g(h) = ⌊h / (H / H_kv)⌋ is the key/value head that query head h reads (HF's `repeat_kv`
 * repeats each KV head H/H_kv times, consecutively), and `offset` is the absolute position of
 * the first query minus that of the first key (0 for a full sequence; the cache length when
 * decoding with a KV cache). Both functions check their arguments and run the reference kernels
 * of `ops/reference/attention.ts` (equations of the backward there), which the model's
 * `ops.attention` runs too.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, checkOptions, schema } from "../validate";
import {
  type AttentionDims,
  attentionGradients,
  attentionKernel,
  headMajorLayout,
} from "../ops/reference/attention";

const OFFSET_OPTION = schema.options({ offset: schema.optional(schema.integer()) });

/** Checks q (b, H, lq, hd), k and v (b, H_kv, lk, hd) with H_kv | H; returns the sizes. */
function checkHeads(fn: string, q: unknown, k: unknown, v: unknown) {
  const qt = checkArg(fn, "q", q, schema.tensor({ rank: 4, axes: ["b", "H", "lq", "head_dim"] }));
  const [batch, heads, queries, headDim] = qt.shape;
  const kvAxes = ["b", "H_kv", "lk", "head_dim"];
  const kt = checkArg(
    fn,
    "k",
    k,
    schema.tensor({ shape: [batch, null, null, headDim], axes: kvAxes }),
  );
  const [, kvHeads, keys] = kt.shape;
  const vt = checkArg(
    fn,
    "v",
    v,
    schema.tensor({ shape: [batch, kvHeads, keys, headDim], axes: kvAxes }),
  );
  if (kvHeads === 0 || heads % kvHeads !== 0) {
    throw argumentError(
      fn,
      "k",
      `a tensor whose number of key/value heads divides the ${heads} query heads (got ${kvHeads})`,
    );
  }
  const dims = { batch, heads, kvHeads, queries, keys, headDim };
  return { qt, kt, vt, dims };
}

/**
 * Causal scaled dot-product attention with grouped-query heads (see the module comment for the
 * equation). Query i sits at absolute position offset + i among the keys' positions 0 … lk − 1,
 * and sees keys j ≤ offset + i.
 *
 * @param q (b, H, lq, head_dim)
 * @param k (b, H_kv, lk, head_dim), H a multiple of H_kv
 * @param v (b, H_kv, lk, head_dim)
 * @param options `offset` (default lk − lq: the queries are the last lq positions)
 * @returns (b, H, lq, head_dim) float32
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: { offset?: number } = {},
): Tensor {
  const fn = "causalAttention";
  const s = checkHeads(fn, q, k, v);
  const { batch, heads, kvHeads, queries, keys, headDim } = s.dims;
  const o = checkOptions(fn, "options", options, OFFSET_OPTION);
  const offset = checkArg(
    fn,
    "options.offset",
    o.offset ?? keys - queries,
    schema.integer({ min: -queries, max: keys }),
  );
  const qL = headMajorLayout(queries, heads, headDim);
  const kvL = headMajorLayout(keys, kvHeads, headDim);
  const as32 = (t: Tensor): Float32Array =>
    t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  const out = new Float32Array(batch * heads * queries * headDim);
  const dims: AttentionDims = { ...s.dims, offset };
  attentionKernel(dims, as32(s.qt), qL, as32(s.kt), kvL, as32(s.vt), kvL, out, qL);
  return { shape: [batch, heads, queries, headDim], data: out };
}

/**
 * Backward of `causalAttention` (full causal attention, offset lk − lq): given q, k, v and
 * g = ∂loss/∂out, returns ∂q, ∂k, ∂v (the forward is recomputed for the weights).
 *
 * @param q (b, H, lq, head_dim); k, v (b, H_kv, lk, head_dim); g (b, H, lq, head_dim)
 * @returns dq, dk, dv in the shapes and dtype of q, k, v; computed in float64
 */
export function causalAttentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const fn = "causalAttentionBackward";
  const s = checkHeads(fn, q, k, v);
  const gt = checkArg(
    fn,
    "g",
    g,
    schema.tensor({ shape: s.qt.shape, axes: ["b", "H", "lq", "head_dim"] }),
  );
  const { batch, heads, kvHeads, queries, keys, headDim } = s.dims;
  if (keys < queries)
    throw argumentError(fn, "k", `a tensor with at least lq = ${queries} keys (got ${keys})`);
  const dims: AttentionDims = { ...s.dims, offset: keys - queries };
  const layouts = {
    q: headMajorLayout(queries, heads, headDim),
    kv: headMajorLayout(keys, kvHeads, headDim),
  };
  const probs = new Float64Array(batch * heads * queries * keys);
  const out = new Float64Array(s.qt.data.length);
  attentionKernel(
    dims,
    s.qt.data,
    layouts.q,
    s.kt.data,
    layouts.kv,
    s.vt.data,
    layouts.kv,
    out,
    layouts.q,
    probs,
  );
  const r = attentionGradients(dims, layouts, s.qt.data, s.kt.data, s.vt.data, probs, gt.data);
  const like = (t: Tensor, data: Float64Array): Tensor => {
    const out = allocate(dtypeOf(t), data.length);
    out.set(data);
    return { shape: [...t.shape], data: out };
  };
  return { dq: like(s.qt, r.dq), dk: like(s.kt, r.dk), dv: like(s.vt, r.dv) };
}
