/**
 * Grouped-query causal attention and RoPE on the simd backend: the equations of the reference
 * (`ops/reference/attention.ts`) as register-blocked products (the core module's `gemm` on
 * strided views of the token-major projections, so no head is copied out) and the SIMD kernels of
 * `./attention-kernels.ts` (softmax, its backward, RoPE, transposes, row scalings).
 *
 * Forward, per batch element b, KV head g and each query head h that reads it, the queries in
 * blocks of R rows (a block's scores stay in the L2 cache):
 *
 *   S = Q_blk K'ᵀ           gemm (R × W × hd) into a scratch block; K' = K · log₂e/√hd,
 *                            transposed once per (b, g)
 *   E = 2^(S − max), inv     softmaxRows: causal mask (exact zeros), unnormalised, 1/Σ per row
 *   O_blk = inv ⊙ (E V)      gemm (R × hd × n), then scaleRows
 *
 * n is the number of keys the block's last row sees and W that rounded up to whole vectors; the
 * diagonal block's masked corner is the only work the causal mask wastes. Training keeps every E
 * (b, H, l, l₄) and inv (b, H, l) in the arena for the backward (memory O(b·H·l²) like the
 * reference, in float32; recomputing them flash-style would cost a second QKᵀ and exponential
 * per score, more than the backward's own products at head_dim 16). The backward, per (b, h),
 * with D_i = ∂O_i·O_i and P = inv ⊙ E, per block of R queries (E's block is still in the cache):
 *
 *   ∂Vᵀ += (inv ⊙ ∂O_blk)ᵀ E     gemm (hd × W × R)
 *   ∂P = ∂O_blk Vᵀ               gemm, Vᵀ transposed once per (b, g)
 *   ∂S = P ⊙ (∂P − D)/√hd        dsRows, written over ∂P's block (not over E: E's lines stay
 *                                clean, so the backward only reads the kept weights)
 *   ∂Q_blk = ∂S K                gemm
 *   ∂Kᵀ += Q_blkᵀ ∂S             gemm (hd × W × R)
 *
 * ∂K and ∂V are accumulated transposed, (hd, keys), summed over the query heads of a group, and
 * transposed back once per (b, g): as (hd, keys) every product reads E and ∂S along their rows
 * (reading them down their columns, as ∂K = ∂Sᵀ Q would, touches a new page per query and runs
 * out of TLB entries).
 *
 * Decoding with a KV cache runs the same forward with the queries at offset = the cache's length
 * (the cache itself stays on the JavaScript heap; its filled rows are staged into the arena).
 */
import type { Tensor } from "../../tensor";
import type { AttentionShape, LayerKV } from "../backend";
import { appendToCache } from "../reference/attention";
import { ropeTables } from "../reference/attention";
import { attentionModuleBytes } from "./attention-kernels";
import { type MatrixView, type SimdMemory, type SimdTensor } from "./memory";

/** The module's exports as WebAssembly sees them (byte addresses; see `./attention-kernels.ts`). */
interface AttentionExports {
  softmaxRows(
    rows: number,
    W: number,
    ld: number,
    pS: number,
    n0: number,
    keys: number,
    pInv: number,
    pE: number,
  ): void;
  dsRows(
    rows: number,
    W: number,
    ld: number,
    pE: number,
    pG: number,
    pD: number,
    pInv: number,
    scale: number,
    pOut: number,
  ): void;
  scaleRows(
    rows: number,
    n: number,
    pSrc: number,
    ldSrc: number,
    pDst: number,
    ldDst: number,
    pF: number,
  ): void;
  rowDots(
    rows: number,
    n: number,
    pA: number,
    lda: number,
    pB: number,
    ldb: number,
    pOut: number,
  ): void;
  transpose(
    rows: number,
    cols: number,
    pSrc: number,
    ldSrc: number,
    pDst: number,
    ldDst: number,
    c: number,
  ): void;
  rope(
    L: number,
    heads: number,
    half: number,
    pX: number,
    pY: number,
    pCos: number,
    pSin: number,
    sign: number,
  ): void;
  mul(n4: number, pA: number, pB: number, pOut: number): void;
}

/**
 * The operands of one attention call: q (b, queries, H·hd) token-major; k, v (b, kvRows,
 * H_kv·hd), of which the first `keys` rows of each sequence are read; query i sits at absolute
 * position offset + i and sees keys j ≤ offset + i.
 */
export interface AttentionOperands {
  shape: AttentionShape;
  batch: number;
  queries: number;
  keys: number;
  offset: number;
  kvRows: number;
  q: SimdTensor;
  k: SimdTensor;
  v: SimdTensor;
}

/** Floats a block of scores may take (R rows of the keys): 128 KiB, in the L2 cache. */
const BLOCK_FLOATS = 1 << 15;
/** Query rows per block at most: small blocks waste little on the diagonal. */
const MAX_BLOCK_ROWS = 16;

/** Whole vectors of four. */
const vectors = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * The row stride of the weights and of Kᵀ, Vᵀ for `keys` keys: whole vectors, plus one cache
 * line. A stride of a power of two (1024 or 2048 floats) would put the rows a product walks down
 * (E read transposed, the hd rows of Kᵀ) in the same few sets of the L1 cache, evicting each
 * other; one line more spreads them over every set.
 */
const rowStride = (keys: number): number => vectors(keys) + 16;

/**
 * What the training forward keeps: E (b, H, queries, lp), lp = {@link rowStride}(keys), and inv
 * (b, H, queries).
 */
export interface AttentionWeights {
  e: SimdTensor;
  inv: SimdTensor;
}

/** What {@link SimdAttention.trainOp} keeps for the backward pass. */
interface SavedAttention {
  out: SimdTensor;
  weights: AttentionWeights;
}

/**
 * The attention and RoPE kernels over one {@link SimdMemory} (see the module comment), and the
 * simd backend's ops built on them (`…Op`: the `Backend` methods of the same names).
 */
export class SimdAttention {
  private readonly k: AttentionExports;
  /** RoPE's cos and sin tables, by inverse frequencies and positions (valid for one call). */
  private readonly tables = new Map<
    Float64Array,
    Map<string, { cos: SimdTensor; sin: SimdTensor }>
  >();

  constructor(private readonly m: SimdMemory) {
    this.k = m.kernelModule<AttentionExports>("attention", attentionModuleBytes);
  }

  // ---- the backend's ops ----

  /** RoPE (sign 1) or its backward (sign −1) of x (b, l, heads·hd) at positions start …. */
  ropeOp(
    x: Tensor,
    heads: number,
    headDim: number,
    start: number,
    invFreq: Float64Array,
    sign: 1 | -1,
  ): SimdTensor {
    const out = this.m.alloc(x.shape);
    this.rope(
      this.m.input(x),
      heads,
      headDim,
      this.tablesOf(start, x.shape[1], invFreq),
      sign,
      out,
    );
    return out;
  }

  /**
   * cos and sin (l, hd/2) of positions start … start + l − 1, float32, made once per call (the
   * tables of an earlier call are recognised by their memory no longer being the arena's).
   */
  private tablesOf(start: number, length: number, invFreq: Float64Array) {
    let byPositions = this.tables.get(invFreq);
    if (!byPositions || [...byPositions.values()].some((t) => !this.m.owns(t.cos))) {
      this.tables.clear();
      byPositions = new Map();
      this.tables.set(invFreq, byPositions);
    }
    const key = `${start}:${length}`;
    let t = byPositions.get(key);
    if (!t) {
      const f = ropeTables(start, length, invFreq); // float64, as the reference computes them
      const shape = [length, invFreq.length];
      t = { cos: this.m.alloc(shape), sin: this.m.alloc(shape) };
      t.cos.data.set(f.cos);
      t.sin.data.set(f.sin);
      byPositions.set(key, t);
    }
    return t;
  }

  /** Attention of a whole sequence, or (with `cache`) of new positions after the cached ones. */
  attentionOp(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
    cache: LayerKV | null,
  ): SimdTensor {
    const [batch, length] = q.shape;
    const out = this.m.alloc(q.shape);
    if (!cache) {
      this.forward(this.operands(q, k, v, shape), out, null);
      return out;
    }
    // the cache stays where its owner keeps it; its filled rows are staged for the kernels
    appendToCache(cache, k, v);
    const keys = cache.length + length;
    const width = shape.kvHeads * shape.headDim;
    const capacity = cache.k.shape[1];
    const staged = (t: Tensor): SimdTensor => {
      const s = this.m.alloc([batch, keys, width]);
      for (let b = 0; b < batch; b++) {
        const from = b * capacity * width;
        s.data.set(t.data.subarray(from, from + keys * width), b * keys * width);
      }
      return s;
    };
    const o: AttentionOperands = {
      shape,
      batch,
      queries: length,
      keys,
      offset: cache.length,
      kvRows: keys,
      q: this.m.input(q),
      k: staged(cache.k),
      v: staged(cache.v),
    };
    this.forward(o, out, null);
    cache.length = keys;
    return out;
  }

  /**
   * Attention's forward keeping its weights in the arena, float32: unnormalised (b, H, l, ≈l)
   * and their rows' normalisers (b, H, l).
   */
  trainOp(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
  ): { out: SimdTensor; saved: SavedAttention } {
    const [batch, length] = q.shape;
    const out = this.m.alloc(q.shape);
    const weights = this.allocWeights(batch, shape.heads, length, length);
    this.forward(this.operands(q, k, v, shape), out, weights);
    return { out, saved: { out, weights } };
  }

  /** The backward of {@link trainOp} (its weights are consumed). */
  backwardOp(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
    saved: unknown,
    g: Tensor,
  ): { dq: SimdTensor; dk: SimdTensor; dv: SimdTensor } {
    const s = saved as SavedAttention;
    return this.backward(this.operands(q, k, v, shape), s.out, s.weights, this.m.input(g));
  }

  /** The operands of attention over a whole sequence (queries and keys the same positions). */
  private operands(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape): AttentionOperands {
    const [batch, length] = q.shape;
    return {
      shape,
      batch,
      queries: length,
      keys: length,
      offset: 0,
      kvRows: length,
      q: this.m.input(q),
      k: this.m.input(k),
      v: this.m.input(v),
    };
  }

  // ---- the kernels ----

  /** Room for the weights a training forward keeps ({@link AttentionWeights}). */
  allocWeights(batch: number, heads: number, queries: number, keys: number): AttentionWeights {
    return {
      e: this.m.alloc([batch, heads, queries, rowStride(keys)]),
      inv: this.m.alloc([batch, heads, queries]),
    };
  }

  /** out = a ⊙ b, elementwise (out may be a). */
  mul(a: SimdTensor, b: SimdTensor, out: SimdTensor): void {
    this.k.mul(Math.ceil(a.data.length / 4), a.at(), b.at(), out.at());
  }

  /**
   * RoPE of x (b, l, heads·hd) into out (may be x), with the tables cos, sin (l, hd/2) of the
   * positions; sign −1 rotates backwards (the backward pass).
   */
  rope(
    x: SimdTensor,
    heads: number,
    headDim: number,
    tables: { cos: SimdTensor; sin: SimdTensor },
    sign: 1 | -1,
    out: SimdTensor,
  ): void {
    const [b, l] = x.shape;
    const row = l * heads * headDim;
    for (let i = 0; i < b; i++) {
      this.k.rope(
        l,
        heads,
        headDim / 2,
        x.at(i * row),
        out.at(i * row),
        tables.cos.at(),
        tables.sin.at(),
        sign,
      );
    }
  }

  /** Query rows per block for rows of `width` scores. */
  private blockRows(width: number): number {
    return Math.max(4, Math.min(MAX_BLOCK_ROWS, Math.floor(BLOCK_FLOATS / width / 4) * 4));
  }

  /**
   * Rows 0 … keys − 1 of head `head` of t (b, kvRows, H_kv·hd), sequence b, times c, transposed
   * into dst (hd, lp).
   */
  private transposeHead(
    o: AttentionOperands,
    t: SimdTensor,
    b: number,
    head: number,
    c: number,
    dst: SimdTensor,
  ): void {
    const { kvHeads, headDim } = o.shape;
    const width = kvHeads * headDim;
    const src = t.at(b * o.kvRows * width + head * headDim);
    this.k.transpose(o.keys, headDim, src, width, dst.at(), dst.shape[1], c);
  }

  /**
   * Forward: writes out (b, queries, H·hd). With `weights` (from {@link allocWeights}), keeps
   * the attention weights there for {@link backward}.
   */
  forward(o: AttentionOperands, out: SimdTensor, weights: AttentionWeights | null): void {
    const { heads, kvHeads, headDim: hd } = o.shape;
    const group = heads / kvHeads;
    const lp = rowStride(o.keys);
    const R = this.blockRows(lp);
    const qw = heads * hd;
    const kw = kvHeads * hd;
    const kT = this.m.zeros([hd, lp]);
    const scores = this.m.alloc([R, lp]);
    const blockInv = weights ? null : this.m.alloc([R]);
    for (let b = 0; b < o.batch; b++) {
      for (let g = 0; g < kvHeads; g++) {
        this.transposeHead(o, o.k, b, g, Math.LOG2E / Math.sqrt(hd), kT);
        const kv = b * o.kvRows * kw + g * hd; // row 0 of this head of k and v
        for (let h = g * group; h < (g + 1) * group; h++) {
          const bh = b * heads + h;
          for (let i0 = 0; i0 < o.queries; i0 += R) {
            const rows = Math.min(R, o.queries - i0);
            const n = Math.min(o.keys, o.offset + i0 + rows);
            const qo = (b * o.queries + i0) * qw + h * hd;
            const e = weights?.e ?? scores;
            const eo = weights ? (bh * o.queries + i0) * lp : 0;
            const inv = weights?.inv ?? blockInv!;
            const io = weights ? bh * o.queries + i0 : 0;
            this.m.gemm({
              rows,
              cols: vectors(n),
              inner: hd,
              a: { t: o.q, offset: qo, rowStride: qw, colStride: 1 },
              b: { t: kT, offset: 0, rowStride: lp, colStride: 1 },
              c: { t: scores, offset: 0, rowStride: lp, colStride: 1 },
              accumulate: false,
            });
            const n0 = Math.min(o.keys, o.offset + i0 + 1);
            const W = vectors(n);
            this.k.softmaxRows(rows, W, lp, scores.at(), n0, o.keys, inv.at(io), e.at(eo));
            this.m.gemm({
              rows,
              cols: hd,
              inner: n,
              a: { t: e, offset: eo, rowStride: lp, colStride: 1 },
              b: { t: o.v, offset: kv, rowStride: kw, colStride: 1 },
              c: { t: out, offset: qo, rowStride: qw, colStride: 1 },
              accumulate: false,
            });
            this.k.scaleRows(rows, hd, out.at(qo), qw, out.at(qo), qw, inv.at(io));
          }
        }
      }
    }
  }

  /**
   * Backward from ∂out (b, queries, H·hd), given the forward's output and the weights it kept
   * (a training call: queries = keys, offset 0): ∂q (q's shape), ∂k, ∂v (k's
   * and v's).
   */
  backward(
    o: AttentionOperands,
    out: SimdTensor,
    weights: AttentionWeights,
    dout: SimdTensor,
  ): { dq: SimdTensor; dk: SimdTensor; dv: SimdTensor } {
    const { heads, kvHeads, headDim: hd } = o.shape;
    const group = heads / kvHeads;
    const l = o.queries;
    const lp = rowStride(l);
    const R = this.blockRows(lp);
    const scale = 1 / Math.sqrt(hd);
    const qw = heads * hd;
    const kw = kvHeads * hd;
    const { e, inv } = weights;
    const dq = this.m.alloc(o.q.shape);
    const dk = this.m.alloc(o.k.shape);
    const dv = this.m.alloc(o.v.shape);
    const vT = this.m.zeros([hd, lp]);
    const dkT = this.m.alloc([hd, lp]);
    const dvT = this.m.alloc([hd, lp]);
    const dp = this.m.alloc([R, lp]);
    const rowD = this.m.alloc([l]);
    const scaledDout = this.m.alloc([l, hd]);
    const view = (t: SimdTensor, offset: number, rowStride: number): MatrixView => ({
      t,
      offset,
      rowStride,
      colStride: 1,
    });
    /** (hd, rows) view of rows i0 … of a token-major head: Aᵀ of a product over those rows. */
    const headT = (t: SimdTensor, offset: number, stride: number): MatrixView => ({
      t,
      offset,
      rowStride: 1,
      colStride: stride,
    });
    for (let b = 0; b < o.batch; b++) {
      for (let g = 0; g < kvHeads; g++) {
        this.transposeHead(o, o.v, b, g, 1, vT);
        const kv = b * o.kvRows * kw + g * hd;
        dkT.data.fill(0);
        dvT.data.fill(0);
        for (let h = g * group; h < (g + 1) * group; h++) {
          const bh = b * heads + h;
          const q0 = b * l * qw + h * hd;
          const e0 = bh * l * lp;
          const inv0 = bh * l;
          this.k.rowDots(l, hd, dout.at(q0), qw, out.at(q0), qw, rowD.at());
          this.k.scaleRows(l, hd, dout.at(q0), qw, scaledDout.at(), hd, inv.at(inv0));
          for (let i0 = 0; i0 < l; i0 += R) {
            const rows = Math.min(R, l - i0);
            const n = Math.min(l, i0 + rows);
            const W = vectors(n);
            const qo = q0 + i0 * qw;
            const eo = e0 + i0 * lp;
            // ∂Vᵀ += (inv ⊙ ∂O)ᵀ E, while E is still there
            this.m.gemm({
              rows: hd,
              cols: W,
              inner: rows,
              a: headT(scaledDout, i0 * hd, hd),
              b: view(e, eo, lp),
              c: view(dvT, 0, lp),
              accumulate: true,
            });
            // ∂P = ∂O Vᵀ, then ∂S over E
            this.m.gemm({
              rows,
              cols: W,
              inner: hd,
              a: view(dout, qo, qw),
              b: view(vT, 0, lp),
              c: view(dp, 0, lp),
              accumulate: false,
            });
            this.k.dsRows(
              rows,
              W,
              lp,
              e.at(eo),
              dp.at(),
              rowD.at(i0),
              inv.at(inv0 + i0),
              scale,
              dp.at(),
            );
            // ∂Q = ∂S K, ∂Kᵀ += Qᵀ ∂S
            this.m.gemm({
              rows,
              cols: hd,
              inner: n,
              a: view(dp, 0, lp),
              b: view(o.k, kv, kw),
              c: view(dq, qo, qw),
              accumulate: false,
            });
            this.m.gemm({
              rows: hd,
              cols: W,
              inner: rows,
              a: headT(o.q, qo, qw),
              b: view(dp, 0, lp),
              c: view(dkT, 0, lp),
              accumulate: true,
            });
          }
        }
        this.k.transpose(hd, l, dkT.at(), lp, dk.at(kv), kw, 1);
        this.k.transpose(hd, l, dvT.at(), lp, dv.at(kv), kw, 1);
      }
    }
    return { dq, dk, dv };
  }
}
