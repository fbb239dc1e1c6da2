/**
 * Causal softmax attention with grouped-query heads, as in Llama:
 *
 *   out[b, h, i] = Σ_{j ≤ offset + i} softmax_j( q[b,h,i] · k[b,g(h),j] / √head_dim ) · v[b,g(h),j]
 *
 * where g(h) = ⌊h / (H / H_kv)⌋ is the key/value head that query head h reads (HF's `repeat_kv`
 * repeats each KV head H/H_kv times, consecutively), and `offset` is the absolute position of
 * the first query minus that of the first key (0 for a full sequence; the cache length when
 * decoding with a KV cache).
 */
import { type Tensor } from "../tensor";
import { attentionKernel, headMajorLayout } from "../ops/reference/attention";
import { assertInteger, assertTensor, describe } from "../validate";

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
  const qt = assertTensor(`${fn}: q`, q, { rank: 4, axes: ["b", "H", "lq", "head_dim"] });
  const [batch, heads, queries, headDim] = qt.shape;
  const kt = assertTensor(`${fn}: k`, k, {
    shape: [batch, null, null, headDim],
    axes: ["b", "H_kv", "lk", "head_dim"],
  });
  const [, kvHeads, keys] = kt.shape;
  const vt = assertTensor(`${fn}: v`, v, {
    shape: [batch, kvHeads, keys, headDim],
    axes: ["b", "H_kv", "lk", "head_dim"],
  });
  if (kvHeads === 0 || heads % kvHeads !== 0) {
    throw new Error(
      `${fn}: argument 'k' must be a tensor whose number of key/value heads divides the ${heads} query heads (got ${kvHeads})`,
    );
  }
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(`${fn}: argument 'options' must be { offset? } (got ${describe(options)})`);
  }
  for (const key of Object.keys(options)) {
    if (key !== "offset")
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${key}"; the keys are offset)`,
      );
  }
  const offset = assertInteger(
    `${fn}: options.offset`,
    options.offset ?? keys - queries,
    -queries,
    keys,
  );
  const as32 = (t: Tensor): Float32Array =>
    t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  const out = new Float32Array(batch * heads * queries * headDim);
  attentionKernel(
    { batch, heads, kvHeads, queries, keys, headDim, offset },
    as32(qt),
    headMajorLayout(queries, heads, headDim),
    as32(kt),
    headMajorLayout(keys, kvHeads, headDim),
    as32(vt),
    headMajorLayout(keys, kvHeads, headDim),
    out,
    headMajorLayout(queries, heads, headDim),
  );
  return { shape: [batch, heads, queries, headDim], data: out };
}
