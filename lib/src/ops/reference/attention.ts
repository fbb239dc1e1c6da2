/**
 * The reference kernels of attention and RoPE, over strided operands so that one kernel serves
 * every layout: queries read straight out of a projection (b, l, H·head_dim), keys out of a cache,
 * the output written where o_proj wants it.
 *
 * Causal softmax attention with grouped-query heads, as in Llama:
 *
 *   out[b, h, i] = Σ_{j ≤ offset + i} softmax_j( q[b,h,i] · k[b,g(h),j] / √head_dim ) · v[b,g(h),j]
 *
 * where g(h) = ⌊h / (H / H_kv)⌋ is the key/value head that query head h reads (HF's `repeat_kv`
 * repeats each KV head H/H_kv times, consecutively), and `offset` is the absolute position of
 * the first query minus that of the first key (0 for a full sequence; the cache length when
 * decoding with a KV cache). Its backward, per query i with weights P_ij = softmax_j(s_ij):
 *
 *   ∂v_j = Σ_i P_ij ∂o_i,   ∂P_ij = ∂o_i · v_j,   ∂s_ij = P_ij (∂P_ij − Σ_j' P_ij' ∂P_ij'),
 *   ∂q_i = Σ_j ∂s_ij k_j / √h,   ∂k_j = Σ_i ∂s_ij q_i / √h
 *
 * (a KV head shared by several query heads sums their contributions).
 */
import type { FloatArray, Tensor } from "../../tensor";
import type { AttentionShape, LayerKV } from "../backend";
import { alloc } from "./forward";

/**
 * Where element (batch, head, position, e) of a (b, h, l, head_dim)-shaped operand lives in a
 * flat array: base + batch·sb + head·sh + position·sl + e. Lets one kernel read queries straight
 * out of a projection (b, l, H·head_dim), keys out of a cache (b, capacity, H_kv·head_dim) or
 * the lessons' head-major (b, h, l, head_dim) tensors, and write its output where o_proj wants it,
 * without copies.
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

/** Sizes of one attention call (see `attentionKernel`). */
export interface AttentionDims {
  batch: number;
  heads: number;
  kvHeads: number;
  queries: number;
  keys: number;
  headDim: number;
  offset: number;
}

/**
 * Backward of the attention kernel over strided operands, given the weights `probs`
 * (b, H, lq, lk) its forward stored: accumulates ∂q, ∂k, ∂v (same layouts as q, k, v) from
 * ∂out (layout oL). Equations in the module comment.
 */
function attentionBackwardKernel(
  dims: AttentionDims,
  q: FloatArray,
  qL: HeadLayout,
  k: FloatArray,
  kL: HeadLayout,
  v: FloatArray,
  vL: HeadLayout,
  probs: Float64Array,
  dout: FloatArray,
  oL: HeadLayout,
  dq: Float64Array,
  dk: Float64Array,
  dv: Float64Array,
): void {
  const { batch, heads, kvHeads, queries, keys, headDim, offset } = dims;
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const dp = new Float64Array(keys);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group);
      const kBase = b * kL.sb + g * kL.sh;
      const vBase = b * vL.sb + g * vL.sh;
      for (let i = 0; i < queries; i++) {
        const last = Math.min(keys - 1, offset + i);
        const po = ((b * heads + h) * queries + i) * keys;
        const oo = b * oL.sb + h * oL.sh + i * oL.sl;
        const qo = b * qL.sb + h * qL.sh + i * qL.sl;
        let weighted = 0;
        for (let j = 0; j <= last; j++) {
          const vo = vBase + j * vL.sl;
          const p = probs[po + j];
          let d = 0;
          for (let e = 0; e < headDim; e++) {
            d += dout[oo + e] * v[vo + e];
            dv[vo + e] += p * dout[oo + e];
          }
          dp[j] = d;
          weighted += p * d;
        }
        for (let j = 0; j <= last; j++) {
          const ds = probs[po + j] * (dp[j] - weighted) * scale;
          if (ds === 0) continue;
          const ko = kBase + j * kL.sl;
          for (let e = 0; e < headDim; e++) {
            dq[qo + e] += ds * k[ko + e];
            dk[ko + e] += ds * q[qo + e];
          }
        }
      }
    }
  }
}

/**
 * ∂q, ∂k, ∂v (float64, in the layouts of q and of k, v) of attention whose forward kept the
 * weights `probs`, from ∂out in q's layout: {@link attentionBackwardKernel} into fresh arrays.
 */
export function attentionGradients(
  dims: AttentionDims,
  layouts: { q: HeadLayout; kv: HeadLayout },
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  probs: Float64Array,
  dout: FloatArray,
): { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const dq = new Float64Array(q.length);
  const dk = new Float64Array(k.length);
  const dv = new Float64Array(v.length);
  const { q: qL, kv: kvL } = layouts;
  attentionBackwardKernel(dims, q, qL, k, kvL, v, kvL, probs, dout, qL, dq, dk, dv);
  return { dq, dk, dv };
}

/**
 * Attention of token-major operands: q (b, queries, H·hd) and out alike, k and v (b, kvRows,
 * H_kv·hd) of which the first `keys` rows per sequence are read (kvRows = keys for a plain
 * sequence, the capacity for a cache). With `probs` (b, H, queries, keys), keeps the weights.
 */
export function attendStrided(
  batch: number,
  queries: number,
  keys: number,
  offset: number,
  shape: AttentionShape,
  q: FloatArray,
  k: FloatArray,
  v: FloatArray,
  kvRows: number,
  out: FloatArray,
  probs: Float64Array | null,
): void {
  const { heads, kvHeads, headDim } = shape;
  const qL = tokenMajorLayout(queries, heads, headDim);
  const kvL = tokenMajorLayout(kvRows, kvHeads, headDim);
  const dims = { batch, heads, kvHeads, queries, keys, headDim, offset };
  attentionKernel(dims, q, qL, k, kvL, v, kvL, out, qL, probs ?? undefined);
}

/**
 * cos and sin of every rotation angle, for positions start … start + length − 1: two
 * (length, head_dim/2) float64 tables (HF's cos/sin are these repeated twice along the last axis).
 */
export function ropeTables(
  start: number,
  length: number,
  invFreq: Float64Array,
): { cos: Float64Array; sin: Float64Array } {
  const half = invFreq.length;
  const cos = new Float64Array(length * half);
  const sin = new Float64Array(length * half);
  for (let p = 0; p < length; p++) {
    for (let j = 0; j < half; j++) {
      const angle = (start + p) * invFreq[j];
      cos[p * half + j] = Math.cos(angle);
      sin[p * half + j] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/**
 * Rotates, in place, rows × positions head vectors of width head_dim = 2·half stored in `data`:
 * the vector of (row, p) starts at rowOffset(row, p) and turns by the angles of table row p.
 * The kernel of the `rope` op (`./forward.ts`) and, with negated sines, of its backward
 * (`./backward.ts`).
 */
export function rotateHalfInPlace(
  data: FloatArray,
  rows: number,
  positions: number,
  rowOffset: (row: number, position: number) => number,
  tables: { cos: Float64Array; sin: Float64Array },
): void {
  const half = tables.cos.length / positions;
  for (let r = 0; r < rows; r++) {
    for (let p = 0; p < positions; p++) {
      const o = rowOffset(r, p);
      const t = p * half;
      for (let j = 0; j < half; j++) {
        const x1 = data[o + j];
        const x2 = data[o + half + j];
        const c = tables.cos[t + j];
        const s = tables.sin[t + j];
        data[o + j] = x1 * c - x2 * s;
        data[o + half + j] = x2 * c + x1 * s;
      }
    }
  }
}

/** Row offsets of {@link rotateHalfInPlace} for a token-major (b, l, heads · headDim) tensor. */
export function tokenMajorHeads(
  length: number,
  heads: number,
  headDim: number,
): (row: number, position: number) => number {
  return (row, p) => ((Math.floor(row / heads) * length + p) * heads + (row % heads)) * headDim;
}

// ---- the ops of the reference backend (token-major operands) ----

/**
 * RoPE (Hugging Face's `apply_rotary_pos_emb`, rotate-half) on every head of a token-major
 * projection x (b, l, heads · headDim), token t at absolute position start + t.
 */
export function rope(
  x: Tensor,
  heads: number,
  headDim: number,
  start: number,
  invFreq: Float64Array,
): Tensor {
  const [batch, length] = x.shape;
  const out = alloc(x, x.data.length);
  out.set(x.data);
  const tables = ropeTables(start, length, invFreq);
  rotateHalfInPlace(out, batch * heads, length, tokenMajorHeads(length, heads, headDim), tables);
  return { shape: [...x.shape], data: out };
}

/**
 * Causal grouped-query attention (`F.scaled_dot_product_attention(is_causal=True)` after HF's
 * `repeat_kv`) on token-major q (b, l, H·hd), k, v (b, l, H_kv·hd) → (b, l, H·hd). With a KV
 * cache, k and v are appended to it first and the queries (positions cache.length … + l − 1)
 * attend to every cached position before theirs.
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: AttentionShape,
  cache: LayerKV | null,
): Tensor {
  const [batch, length] = q.shape;
  const out = alloc(q, q.data.length);
  if (!cache) {
    attendStrided(batch, length, length, 0, shape, q.data, k.data, v.data, length, out, null);
    return { shape: [...q.shape], data: out };
  }
  appendToCache(cache, k, v);
  const capacity = cache.k.shape[1];
  const keys = cache.length + length;
  attendStrided(
    batch,
    length,
    keys,
    cache.length,
    shape,
    q.data,
    cache.k.data,
    cache.v.data,
    capacity,
    out,
    null,
  );
  cache.length = keys;
  return { shape: [...q.shape], data: out };
}

/**
 * Writes keys and values k, v (b, l, H_kv·hd) into a layer's cache after its `length` filled rows
 * (the caller advances `length` once the queries have attended).
 */
export function appendToCache(cache: LayerKV, k: Tensor, v: Tensor): void {
  const [batch, length, width] = k.shape;
  const capacity = cache.k.shape[1];
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      const src = (b * length + t) * width;
      const dst = (b * capacity + cache.length + t) * width;
      cache.k.data.set(k.data.subarray(src, src + width), dst);
      cache.v.data.set(v.data.subarray(src, src + width), dst);
    }
  }
}
