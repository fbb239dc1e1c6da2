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
import { type FloatArray, type Tensor } from "../tensor";
import { assertInteger, assertTensor, describe } from "../validate";

/**
 * Where element (batch, head, position, e) of a (b, h, l, head_dim)-shaped operand lives in a
 * flat array: base + batch·sb + head·sh + position·sl + e. Lets one kernel read queries straight
 * out of a projection (b, l, H·head_dim), keys out of a cache (b, H_kv, capacity, head_dim), and
 * write its output where o_proj wants it, without copies.
 */
export interface HeadLayout {
  sb: number;
  sh: number;
  sl: number;
}

/** Layout of (b, l, heads · headDim) seen as (b, heads, l, headDim). */
export function tokenMajorLayout(length: number, heads: number, headDim: number): HeadLayout {
  return { sb: length * heads * headDim, sh: headDim, sl: heads * headDim };
}

/** Layout of a contiguous (b, heads, l, headDim) array. */
export function headMajorLayout(length: number, heads: number, headDim: number): HeadLayout {
  return { sb: heads * length * headDim, sh: length * headDim, sl: headDim };
}

/**
 * The attention kernel over strided operands (no validation: callers check shapes). Sizes:
 * batch, H query heads, lq queries, H_kv key/value heads, lk keys, headDim. Accumulates in
 * float64, writes out's dtype. With `probs` (b, H, lq, lk), also stores the attention weights
 * (zero where masked) for the backward pass.
 */
export function attentionKernel(
  dims: {
    batch: number;
    heads: number;
    kvHeads: number;
    queries: number;
    keys: number;
    headDim: number;
    offset: number;
  },
  q: FloatArray,
  qL: HeadLayout,
  k: FloatArray,
  kL: HeadLayout,
  v: FloatArray,
  vL: HeadLayout,
  out: FloatArray,
  oL: HeadLayout,
  probs?: Float64Array,
): void {
  const { batch, heads, kvHeads, queries, keys, headDim, offset } = dims;
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const scores = new Float64Array(keys);
  const acc = new Float64Array(headDim);
  const qv = new Float64Array(headDim); // this query, scaled, in a local array (fewer reads)
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group);
      const kBase = b * kL.sb + g * kL.sh;
      const vBase = b * vL.sb + g * vL.sh;
      for (let i = 0; i < queries; i++) {
        const qo = b * qL.sb + h * qL.sh + i * qL.sl;
        const last = Math.min(keys - 1, offset + i);
        for (let e = 0; e < headDim; e++) qv[e] = q[qo + e] * scale;
        let max = -Infinity;
        for (let j = 0; j <= last; j++) {
          const ko = kBase + j * kL.sl;
          let s = 0;
          for (let e = 0; e < headDim; e++) s += qv[e] * k[ko + e];
          scores[j] = s;
          if (s > max) max = s;
        }
        acc.fill(0);
        let sum = 0;
        for (let j = 0; j <= last; j++) {
          // Subtracting the row maximum keeps exp from overflowing; it cancels in the ratio.
          const w = Math.exp(scores[j] - max);
          scores[j] = w;
          sum += w;
          const vo = vBase + j * vL.sl;
          for (let e = 0; e < headDim; e++) acc[e] += w * v[vo + e];
        }
        const oo = b * oL.sb + h * oL.sh + i * oL.sl;
        for (let e = 0; e < headDim; e++) out[oo + e] = last >= 0 ? acc[e] / sum : 0;
        if (probs) {
          const po = ((b * heads + h) * queries + i) * keys;
          for (let j = 0; j <= last; j++) probs[po + j] = scores[j] / sum;
        }
      }
    }
  }
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
