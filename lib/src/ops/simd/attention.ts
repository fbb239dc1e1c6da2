/**
 * Grouped-query causal attention and RoPE on the simd backend: the equations of the reference
 * (`ops/reference/attention.ts`) as register-blocked products (the core module's `gemm` on
 * strided views of the token-major projections, so no head is copied out) and the SIMD kernels of
 * `./attention-kernels.ts` (softmax, its backward, RoPE, transposes).
 *
 * Forward, per batch element b, KV head g and each query head h that reads it, the queries in
 * blocks of R rows (R·(keys) scores stay in the L2 cache):
 *
 *   S = Q_blk Kᵀ          gemm (R × W × hd), Kᵀ (hd, keys) transposed once per (b, g)
 *   P = softmax(S/√hd)    softmaxRows: causal mask, exact zeros where masked
 *   O_blk = P V           gemm (R × hd × n), n = the keys the block's last row sees
 *
 * W is n rounded up to whole vectors; the diagonal block's masked corner is the only work the
 * causal mask wastes. Training keeps every P (b, H, l, l₄) in the arena for the backward (memory
 * O(b·H·l²) like the reference, in float32; recomputing them flash-style would cost a second
 * QKᵀ and exp per score, more than the backward's own products at head_dim 16), which runs per
 * query block with D_i = ∂O_i·O_i:
 *
 *   ∂P = ∂O_blk Vᵀ        gemm, Vᵀ transposed once per (b, g)
 *   ∂S = P ⊙ (∂P − D)/√hd  dsRows, in place of ∂P
 *   ∂Q_blk = ∂S K         gemm
 *   ∂K += ∂Sᵀ Q_blk       gemm with A transposed (the view's strides), summed over the group
 *   ∂V += Pᵀ ∂O_blk       likewise
 *
 * Decoding with a KV cache runs the same forward with the queries at offset = the cache's length
 * (the cache itself stays on the JavaScript heap; its filled rows are staged into the arena).
 */
import type { AttentionShape } from "../backend";
import { attentionModuleBytes } from "./attention-kernels";
import { type MatrixView, type SimdMemory, type SimdTensor } from "./memory";

/** The module's exports as WebAssembly sees them (byte addresses; see `./attention-kernels.ts`). */
interface AttentionExports {
  softmaxRows(
    rows: number,
    W: number,
    ld: number,
    pS: number,
    scale: number,
    n0: number,
    keys: number,
  ): void;
  dsRows(rows: number, W: number, ld: number, pP: number, pG: number, pD: number, s: number): void;
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

/** Floats a block of scores may take (R rows of the keys): 256 KiB, in the L2 cache. */
const BLOCK_FLOATS = 1 << 16;

/** Whole vectors of four. */
const vectors = (n: number): number => Math.ceil(n / 4) * 4;

/** The attention and RoPE kernels over one {@link SimdMemory} (see the module comment). */
export class SimdAttention {
  private readonly k: AttentionExports;

  constructor(private readonly m: SimdMemory) {
    this.k = m.kernelModule<AttentionExports>("attention", attentionModuleBytes);
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
    return Math.max(4, Math.min(64, Math.floor(BLOCK_FLOATS / width / 4) * 4));
  }

  /** (keys, hd) rows of head `head` of t (b, kvRows, H_kv·hd), sequence b, as (hd, lp) in dst. */
  private transposeHead(
    o: AttentionOperands,
    t: SimdTensor,
    b: number,
    head: number,
    dst: SimdTensor,
  ): void {
    const { kvHeads, headDim } = o.shape;
    const width = kvHeads * headDim;
    this.k.transpose(
      o.keys,
      headDim,
      t.at(b * o.kvRows * width + head * headDim),
      width,
      dst.at(),
      dst.shape[1],
    );
  }

  /**
   * Forward: writes out (b, queries, H·hd). With `probs` (b, H, queries, lp), lp = the keys
   * rounded up to whole vectors, keeps the attention weights there for {@link backward}.
   */
  forward(o: AttentionOperands, out: SimdTensor, probs: SimdTensor | null): void {
    const { heads, kvHeads, headDim: hd } = o.shape;
    const group = heads / kvHeads;
    const lp = vectors(o.keys);
    const R = this.blockRows(lp);
    const scale = 1 / Math.sqrt(hd);
    const qw = heads * hd;
    const kw = kvHeads * hd;
    const kT = this.m.zeros([hd, lp]);
    const block = probs ? null : this.m.alloc([R, lp]);
    for (let b = 0; b < o.batch; b++) {
      for (let g = 0; g < kvHeads; g++) {
        this.transposeHead(o, o.k, b, g, kT);
        const kv = b * o.kvRows * kw + g * hd; // row 0 of this head of k and v
        for (let h = g * group; h < (g + 1) * group; h++) {
          for (let i0 = 0; i0 < o.queries; i0 += R) {
            const rows = Math.min(R, o.queries - i0);
            const n = Math.min(o.keys, o.offset + i0 + rows);
            const qo = (b * o.queries + i0) * qw + h * hd;
            const s = probs ?? block!;
            const so = probs ? ((b * heads + h) * o.queries + i0) * lp : 0;
            this.m.gemm({
              rows,
              cols: vectors(n),
              inner: hd,
              a: { t: o.q, offset: qo, rowStride: qw, colStride: 1 },
              b: { t: kT, offset: 0, rowStride: lp, colStride: 1 },
              c: { t: s, offset: so, rowStride: lp, colStride: 1 },
              accumulate: false,
            });
            const n0 = Math.min(o.keys, o.offset + i0 + 1);
            this.k.softmaxRows(rows, vectors(n), lp, s.at(so), scale, n0, o.keys);
            this.m.gemm({
              rows,
              cols: hd,
              inner: n,
              a: { t: s, offset: so, rowStride: lp, colStride: 1 },
              b: { t: o.v, offset: kv, rowStride: kw, colStride: 1 },
              c: { t: out, offset: qo, rowStride: qw, colStride: 1 },
              accumulate: false,
            });
          }
        }
      }
    }
  }

  /**
   * Backward from ∂out (b, queries, H·hd), given the forward's output and the weights it kept:
   * ∂q (q's shape), ∂k, ∂v (k's and v's).
   */
  backward(
    o: AttentionOperands,
    out: SimdTensor,
    probs: SimdTensor,
    dout: SimdTensor,
  ): { dq: SimdTensor; dk: SimdTensor; dv: SimdTensor } {
    const { heads, kvHeads, headDim: hd } = o.shape;
    const group = heads / kvHeads;
    const lp = vectors(o.keys);
    const R = this.blockRows(lp);
    const scale = 1 / Math.sqrt(hd);
    const qw = heads * hd;
    const kw = kvHeads * hd;
    const dq = this.m.alloc(o.q.shape);
    const dk = this.m.zeros(o.k.shape);
    const dv = this.m.zeros(o.v.shape);
    const vT = this.m.zeros([hd, lp]);
    const dp = this.m.alloc([R, lp]);
    const rowD = this.m.alloc([o.queries]);
    const view = (t: SimdTensor, offset: number, rowStride: number): MatrixView => ({
      t,
      offset,
      rowStride,
      colStride: 1,
    });
    for (let b = 0; b < o.batch; b++) {
      for (let g = 0; g < kvHeads; g++) {
        this.transposeHead(o, o.v, b, g, vT);
        const kv = b * o.kvRows * kw + g * hd;
        for (let h = g * group; h < (g + 1) * group; h++) {
          const q0 = b * o.queries * qw + h * hd;
          this.k.rowDots(o.queries, hd, dout.at(q0), qw, out.at(q0), qw, rowD.at());
          for (let i0 = 0; i0 < o.queries; i0 += R) {
            const rows = Math.min(R, o.queries - i0);
            const n = Math.min(o.keys, o.offset + i0 + rows);
            const W = vectors(n);
            const qo = q0 + i0 * qw;
            const po = ((b * heads + h) * o.queries + i0) * lp;
            // ∂P = ∂O Vᵀ, then ∂S in its place
            this.m.gemm({
              rows,
              cols: W,
              inner: hd,
              a: view(dout, qo, qw),
              b: view(vT, 0, lp),
              c: view(dp, 0, lp),
              accumulate: false,
            });
            this.k.dsRows(rows, W, lp, probs.at(po), dp.at(), rowD.at(i0), scale);
            // ∂Q = ∂S K
            this.m.gemm({
              rows,
              cols: hd,
              inner: n,
              a: view(dp, 0, lp),
              b: view(o.k, kv, kw),
              c: view(dq, qo, qw),
              accumulate: false,
            });
            // ∂K += ∂Sᵀ Q, ∂V += Pᵀ ∂O: A read transposed (rows of the block are its columns)
            this.m.gemm({
              rows: n,
              cols: hd,
              inner: rows,
              a: { t: dp, offset: 0, rowStride: 1, colStride: lp },
              b: view(o.q, qo, qw),
              c: view(dk, kv, kw),
              accumulate: true,
            });
            this.m.gemm({
              rows: n,
              cols: hd,
              inner: rows,
              a: { t: probs, offset: po, rowStride: 1, colStride: lp },
              b: view(dout, qo, qw),
              c: view(dv, kv, kw),
              accumulate: true,
            });
          }
        }
      }
    }
    return { dq, dk, dv };
  }
}
