/**
 * The simd backend: the ops of `ops/backend.ts` in float32 with the WebAssembly SIMD kernels of
 * `./kernels.ts`, on tensors that live in one WebAssembly memory (`./memory.ts`: its arena, reset
 * once per call by {@link Backend.begin}). The same model definitions (`mamba/model.ts`,
 * `transformer/model.ts`) run on it as on the reference; only the ops differ:
 *
 * - SIMD kernels: every projection (`linear`: one register-blocked gemm) and both of its backward
 *   products (∂x = g·W, and ∂W = gᵀ·x in slabs of 256 positions); the selective scan forward
 *   keeping only the states at chunk boundaries, and its backward recomputing the states inside
 *   each chunk (Mamba §3.3.2), four channels per vector, selective or time-invariant (B, C (E, N));
 *   the causal depthwise conv and its backward; SiLU and its backward; RMSNorm and its backward
 *   (the weight's gradient summed in float64 over slabs of rows); `add` and `addInto`
 *   (the residual stream and gradient sums); split, concat and channel padding as row copies;
 *   the elementwise product (SwiGLU's); RoPE and grouped-query causal attention, forward and
 *   backward, also against a KV cache (`./attention.ts`: QKᵀ, PV and the backward's products on
 *   the same gemm, softmax and its backward as kernels of `./attention-kernels.ts`); Mamba-2's
 *   SSD, forward by the chunked algorithm on the gemm (a decoding step by its own kernel),
 *   backward as the selective scan (`./ssd.ts`).
 * - TypeScript loops over the same memory (the reference's own loops where one exists): embedding,
 *   −exp, cross-entropy, and the small transposes.
 * - The reference, on the JavaScript heap: a scan or conv that continues from a decoding state
 *   (inference runs on `./infer.ts`, which extends this backend and continues from states
 *   natively); their outputs are copied into the memory when a kernel reads them.
 *
 * Layout: activations are token-major (b, l, channels) as everywhere; the conv and scan kernels
 * take four channels per vector, so a channel count E that is not a multiple of 4 is padded to
 * Ep = 4⌈E/4⌉ (zero lanes) around those two ops only. Parameters stay where the caller keeps
 * them (the JavaScript heap, or a training pool's shared buffer): a weight is copied into the
 * memory, with the transposed layout the kernels read, once per call (AdamW changes it between
 * calls).
 */
import type { Tensor } from "../../tensor";
import type {
  AttentionShape,
  Backend,
  CrossEntropy,
  LayerKV,
  ScanArgs,
  ScanGradients,
  ScanTraining,
  SsdArgs,
  SsdGradients,
} from "../backend";
import { reference } from "../reference/index";
import { rowsOf } from "../reference/forward";
import { crossEntropyInto, embeddingBackwardInto } from "../reference/backward";
import { SimdAttention } from "./attention";
import { ssdChunkedGemm, ssdChunkedGemmBackward } from "./ssd";
import {
  MAX_SCAN_STATE,
  type ScanOperands,
  SimdMemory,
  type SimdTensor,
  padded,
  rowMajor,
} from "./memory";

/** What {@link SimdBackend.selectiveScanTrain} keeps for the backward pass. */
type SavedScan =
  | { kind: "simd"; operands: ScanOperands; dt: SimdTensor; states: SimdTensor }
  | { kind: "reference"; saved: unknown };

/** The simd backend of one thread (see the module comment). */
export class SimdBackend implements Backend {
  readonly name: string = "simd";
  /** Parameters staged in the memory during this call, by tensor and layout. */
  private readonly staged = new Map<Tensor, Map<string, SimdTensor>>();
  private attentionKernels: SimdAttention | null = null;

  /** `m`: the memory its tensors live in (its own by default; inference passes a model's). */
  constructor(protected readonly m: SimdMemory = new SimdMemory()) {}
  /** Starts a call: the arena is emptied and the staged parameters forgotten. */
  begin(): void {
    this.m.reset();
    this.staged.clear();
  }

  // ---- staging ----

  /** A parameter in the layout `layout`, made by `make` once per call. */
  private stage(t: Tensor, layout: string, make: () => SimdTensor): SimdTensor {
    let byLayout = this.staged.get(t);
    if (!byLayout) {
      byLayout = new Map();
      this.staged.set(t, byLayout);
    }
    let s = byLayout.get(layout);
    if (!s) {
      s = make();
      byLayout.set(layout, s);
    }
    return s;
  }

  /** A (rows, cols) matrix transposed to (cols, rows) in the memory. */
  private transposeOf(t: Tensor, cols: number): SimdTensor {
    const rows = t.data.length / cols;
    const out = this.m.alloc([cols, rows]);
    const src = t.data;
    const dst = out.data;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
    return out;
  }

  /** W (out, in) as itself, in the memory (∂x = g·W). */
  private weight(w: Tensor): SimdTensor {
    return this.stage(w, "W", () => this.m.input(w));
  }

  /** W (out, in) transposed to (in, out) (y = x·Wᵀ reads rows of Wᵀ). */
  private weightT(w: Tensor): SimdTensor {
    return this.stage(w, "Wt", () => this.transposeOf(w, w.shape[1]));
  }

  /** A (rows, cols) matrix as (cols, 4⌈rows/4⌉), zero columns added: Aᵀ and Bᵀ of the scan. */
  private transposedPadded(t: Tensor): SimdTensor {
    const [rows, cols] = t.shape;
    const rp = padded(rows);
    const out = this.m.zeros([cols, rp]);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) out.data[c * rp + r] = t.data[r * cols + c];
    return out;
  }

  /** A vector (C) zero-padded to 4⌈C/4⌉. */
  protected paddedVector(v: Tensor): SimdTensor {
    return this.stage(v, "padded", () => {
      const out = this.m.zeros([padded(v.data.length)]);
      out.data.set(v.data);
      return out;
    });
  }

  /** x (b, l, C) with C padded to Cp = 4⌈C/4⌉ by zero channels (x itself when C = Cp). */
  protected padChannels(x: Tensor): SimdTensor {
    const [b, l, C] = x.shape;
    const src = this.m.input(x);
    const Cp = padded(C);
    if (Cp === C) return src;
    const out = this.m.zeros([b, l, Cp]);
    this.m.copyRows({
      rows: b * l,
      width: C,
      src,
      srcOffset: 0,
      srcStride: C,
      dst: out,
      dstOffset: 0,
      dstStride: Cp,
    });
    return out;
  }

  /** The first C channels of xp (b, l, Cp). */
  protected unpadChannels(xp: SimdTensor, C: number): SimdTensor {
    const [b, l, Cp] = xp.shape;
    if (Cp === C) return xp;
    const out = this.m.alloc([b, l, C]);
    this.m.copyRows({
      rows: b * l,
      width: C,
      src: xp,
      srcOffset: 0,
      srcStride: Cp,
      dst: out,
      dstOffset: 0,
      dstStride: C,
    });
    return out;
  }

  // ---- forward ----

  embedding(ids: Int32Array, batch: number, length: number, weight: Tensor): Tensor {
    const d = weight.shape[1];
    const out = this.m.alloc([batch, length, d]);
    const w = weight.data;
    const o = out.data;
    for (let p = 0; p < ids.length; p++) {
      const row = ids[p] * d;
      for (let j = 0; j < d; j++) o[p * d + j] = w[row + j];
    }
    return out;
  }

  linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
    const [outDim, inDim] = weight.shape;
    const rows = rowsOf(x.shape);
    const xs = this.m.input(x);
    const y = this.m.alloc([...x.shape.slice(0, -1), outDim]);
    this.m.gemm({
      rows,
      cols: outDim,
      inner: inDim,
      a: rowMajor(xs, inDim),
      b: rowMajor(this.weightT(weight), outDim),
      c: rowMajor(y, outDim),
      accumulate: false,
    });
    if (bias) {
      for (let r = 0; r < rows; r++)
        for (let o = 0; o < outDim; o++) y.data[r * outDim + o] += bias.data[o];
    }
    return y;
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const out = this.m.alloc(x.shape);
    this.m.rmsNorm(this.m.input(x), this.weight(weight), eps, out);
    return out;
  }

  silu(x: Tensor): Tensor {
    const xs = this.m.input(x);
    const y = this.m.alloc(x.shape);
    this.m.silu(xs, y);
    return y;
  }

  add(a: Tensor, b: Tensor): Tensor {
    const out = this.m.alloc(a.shape);
    if (this.m.owns(a) && this.m.owns(b)) this.m.add(a, b, out);
    else for (let i = 0; i < out.data.length; i++) out.data[i] = a.data[i] + b.data[i];
    return out;
  }

  mul(a: Tensor, b: Tensor): Tensor {
    const out = this.m.alloc(a.shape);
    this.attn().mul(this.m.input(a), this.m.input(b), out);
    return out;
  }

  split(x: Tensor, sizes: readonly number[]): Tensor[] {
    const last = x.shape[x.shape.length - 1];
    const rows = rowsOf(x.shape);
    const src = this.m.input(x);
    let offset = 0;
    return sizes.map((s) => {
      const part = this.m.alloc([...x.shape.slice(0, -1), s]);
      this.m.copyRows({
        rows,
        width: s,
        src,
        srcOffset: offset,
        srcStride: last,
        dst: part,
        dstOffset: 0,
        dstStride: s,
      });
      offset += s;
      return part;
    });
  }

  concat(parts: readonly Tensor[]): Tensor {
    const sizes = parts.map((p) => p.shape[p.shape.length - 1]);
    const total = sizes.reduce((a, s) => a + s, 0);
    const rows = rowsOf(parts[0].shape);
    const out = this.m.alloc([...parts[0].shape.slice(0, -1), total]);
    let offset = 0;
    parts.forEach((p, i) => {
      this.m.copyRows({
        rows,
        width: sizes[i],
        src: this.m.input(p),
        srcOffset: 0,
        srcStride: sizes[i],
        dst: out,
        dstOffset: offset,
        dstStride: total,
      });
      offset += sizes[i];
    });
    return out;
  }

  lastPosition(x: Tensor): Tensor {
    const [b, l, d] = x.shape;
    const out = this.m.alloc([b, 1, d]);
    this.m.copyRows({
      rows: b,
      width: d,
      src: this.m.input(x),
      srcOffset: (l - 1) * d,
      srcStride: l * d,
      dst: out,
      dstOffset: 0,
      dstStride: d,
    });
    return out;
  }

  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null): Tensor {
    if (state) return reference.causalConv1d(x, weight, bias, state);
    const C = x.shape[2];
    const xp = this.padChannels(x);
    const y = this.m.alloc(xp.shape);
    this.m.convForward({
      x: xp,
      weightT: this.convWeightT(weight),
      bias: bias ? this.paddedVector(bias) : this.m.zeros([padded(C)]),
      y,
    });
    return this.unpadChannels(y, C);
  }

  /** The conv weight (C, 1, k) as (k, Cp). */
  private convWeightT(w: Tensor): SimdTensor {
    return this.stage(w, "convT", () =>
      this.transposedPadded({ shape: [w.shape[0], w.shape[2]], data: w.data }),
    );
  }

  negExp(x: Tensor): Tensor {
    const out = this.m.alloc(x.shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = -Math.exp(x.data[i]);
    return out;
  }

  selectiveScan(a: ScanArgs, state: Tensor | null): Tensor {
    if (state || a.A.shape[1] > MAX_SCAN_STATE) return reference.selectiveScan(a, state);
    return this.scanForward(a, a.u.shape[1]).y;
  }

  /** Mamba-2's SSD by the chunked algorithm on the gemm (`./ssd.ts`), from a state or not. */
  ssd(a: SsdArgs, state: Tensor | null): Tensor {
    return ssdChunkedGemm(this.m, a, state);
  }

  /** Its backward by the same chunked algorithm on the gemm (`./ssd.ts`). */
  ssdBackward(a: SsdArgs, g: Tensor): SsdGradients {
    return ssdChunkedGemmBackward(this.m, a, g);
  }

  /** The Transformer++'s ops over this backend's memory (`./attention.ts`; made on first use). */
  private attn(): SimdAttention {
    this.attentionKernels ??= new SimdAttention(this.m);
    return this.attentionKernels;
  }

  rope(x: Tensor, heads: number, headDim: number, start: number, invFreq: Float64Array): Tensor {
    return this.attn().ropeOp(x, heads, headDim, start, invFreq, 1);
  }

  attention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape, cache: LayerKV | null): Tensor {
    return this.attn().attentionOp(q, k, v, shape, cache);
  }

  // ---- backward ----

  linearBackward(
    x: Tensor,
    weight: Tensor,
    g: Tensor,
    hasBias: boolean,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor | null } {
    const [outDim, inDim] = weight.shape;
    const rows = rowsOf(x.shape);
    const xs = this.m.input(x);
    const gs = this.m.input(g);
    const dx = this.m.alloc(x.shape);
    this.m.gemm({
      rows,
      cols: inDim,
      inner: outDim,
      a: rowMajor(gs, outDim),
      b: rowMajor(this.weight(weight), inDim),
      c: rowMajor(dx, inDim),
      accumulate: false,
    });
    const dweight = this.m.alloc(weight.shape);
    this.m.gemmAtB({
      positions: rows,
      rows: outDim,
      cols: inDim,
      a: gs,
      b: xs,
      c: dweight,
      accumulate: false,
    });
    let dbias: SimdTensor | null = null;
    if (hasBias) {
      // Σ over positions of g, as the product 1ᵀ g on the weight gradients' gemm
      const ones = this.m.alloc([rows, 1]);
      ones.data.fill(1);
      dbias = this.m.alloc([outDim]);
      this.m.gemmAtB({
        positions: rows,
        rows: 1,
        cols: outDim,
        a: ones,
        b: gs,
        c: dbias,
        accumulate: false,
      });
    }
    return { dx, dweight, dbias };
  }

  rmsNormBackward(
    x: Tensor,
    weight: Tensor,
    eps: number,
    g: Tensor,
  ): { dx: Tensor; dweight: Tensor } {
    const dx = this.m.alloc(x.shape);
    const dw = new Float64Array(weight.data.length);
    this.m.rmsNormBackward(this.m.input(x), this.weight(weight), eps, this.m.input(g), dx, dw);
    const dweight = this.m.alloc(weight.shape);
    dweight.data.set(dw);
    return { dx, dweight };
  }

  embeddingBackward(ids: Int32Array, vocab: number, g: Tensor): Tensor {
    const d = g.shape[g.shape.length - 1];
    const dw = this.m.zeros([vocab, d]);
    embeddingBackwardInto(ids, d, g.data, dw.data);
    return dw;
  }

  siluBackward(x: Tensor, g: Tensor): Tensor {
    const dx = this.m.alloc(x.shape);
    this.m.siluBackward(this.m.input(x), this.m.input(g), dx);
    return dx;
  }

  causalConv1dBackward(
    x: Tensor,
    weight: Tensor,
    g: Tensor,
    hasBias: boolean,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor | null } {
    const C = x.shape[2];
    const k = weight.shape[2];
    const xp = this.padChannels(x);
    const Cp = xp.shape[2];
    const dxp = this.m.alloc(xp.shape);
    const dwT = this.m.zeros([k, Cp]);
    const db = this.m.zeros([Cp]);
    this.m.convBackward({
      x: xp,
      g: this.padChannels(g),
      weightT: this.convWeightT(weight),
      dx: dxp,
      dweightT: dwT,
      dbias: db,
    });
    const dweight = this.m.alloc(weight.shape);
    for (let c = 0; c < C; c++)
      for (let j = 0; j < k; j++) dweight.data[c * k + j] = dwT.data[j * Cp + c];
    let dbias: SimdTensor | null = null;
    if (hasBias) {
      dbias = this.m.alloc([C]);
      dbias.data.set(db.data.subarray(0, C));
    }
    return { dx: this.unpadChannels(dxp, C), dweight, dbias };
  }

  /**
   * The scan's operands in the kernels' layout (padded channels, transposed A and, for a
   * time-invariant layer, B and C) and its forward with one stored state per `chunk` positions.
   */
  private scanForward(
    a: ScanArgs,
    chunk: number,
  ): { y: SimdTensor; operands: ScanOperands; dt: SimdTensor; states: SimdTensor } {
    const [b, l, E] = a.u.shape;
    const N = a.A.shape[1];
    const lti = a.B.shape.length === 2;
    const operands: ScanOperands = {
      u: this.padChannels(a.u),
      delta: this.padChannels(a.delta),
      z: a.z ? this.padChannels(a.z) : null,
      AT: this.transposedPadded(a.A),
      D: this.paddedVector(a.D),
      deltaBias: this.paddedVector(a.deltaBias),
      B: lti ? this.transposedPadded(a.B) : this.m.input(a.B),
      C: lti ? this.transposedPadded(a.C) : this.m.input(a.C),
      chunk: Math.max(1, Math.min(chunk, l)),
    };
    const Ep = operands.u.shape[2];
    const y = this.m.alloc([b, l, Ep]);
    const dt = this.m.alloc([b, l, Ep]);
    const states = this.m.alloc([b, Math.ceil(l / operands.chunk), N, Ep]);
    this.m.scanForward(operands, { y, dt, states });
    return { y: this.unpadChannels(y, E), operands, dt, states };
  }

  /**
   * The scan's training forward. It always keeps the states at chunk boundaries and recomputes
   * inside chunks: `training.strategy` is a trade of memory for time with the same gradients,
   * and the public functions ask for "recompute" with this backend.
   */
  selectiveScanTrain(a: ScanArgs, training: ScanTraining): { y: Tensor; saved: SavedScan } {
    if (a.A.shape[1] > MAX_SCAN_STATE) {
      const r = reference.selectiveScanTrain(a, training);
      return { y: r.y, saved: { kind: "reference", saved: r.saved } };
    }
    const { y, operands, dt, states } = this.scanForward(a, training.chunkSize);
    return { y, saved: { kind: "simd", operands, dt, states } };
  }

  selectiveScanBackward(a: ScanArgs, saved: unknown, g: Tensor): ScanGradients {
    const s = saved as SavedScan;
    if (s.kind === "reference") return reference.selectiveScanBackward(a, s.saved, g);
    const [b, l, E] = a.u.shape;
    const N = a.A.shape[1];
    const lti = a.B.shape.length === 2;
    const op = s.operands;
    const Ep = op.u.shape[2];
    const du = this.m.alloc([b, l, Ep]);
    const ddelta = this.m.alloc([b, l, Ep]);
    const dz = op.z ? this.m.alloc([b, l, Ep]) : null;
    const dAT = this.m.zeros([N, Ep]);
    const dD = this.m.zeros([Ep]);
    const dbias = this.m.zeros([Ep]);
    // selective: per position (written); time-invariant: per channel, like dA (accumulated)
    const dBout = lti ? this.m.zeros([N, Ep]) : this.m.alloc([b, l, N]);
    const dCout = lti ? this.m.zeros([N, Ep]) : this.m.alloc([b, l, N]);
    this.m.scanBackward(op, s, this.padChannels(g), {
      du,
      ddelta,
      dz,
      dAT,
      dD,
      dbias,
      dB: dBout,
      dC: dCout,
    });
    const dA = this.untranspose(dAT, E);
    return {
      du: this.unpadChannels(du, E),
      ddelta: this.unpadChannels(ddelta, E),
      dA,
      dB: lti ? this.untranspose(dBout, E) : dBout,
      dC: lti ? this.untranspose(dCout, E) : dCout,
      dD: this.firstOf(dD, E),
      dz: dz ? this.unpadChannels(dz, E) : null,
      ddeltaBias: this.firstOf(dbias, E),
    };
  }

  /** (N, Ep) → (E, N): the first E columns, transposed. */
  private untranspose(t: SimdTensor, E: number): SimdTensor {
    const [N, Ep] = t.shape;
    const out = this.m.alloc([E, N]);
    for (let e = 0; e < E; e++)
      for (let n = 0; n < N; n++) out.data[e * N + n] = t.data[n * Ep + e];
    return out;
  }

  /** The first n values of a vector. */
  private firstOf(t: SimdTensor, n: number): SimdTensor {
    const out = this.m.alloc([n]);
    out.data.set(t.data.subarray(0, n));
    return out;
  }

  ropeBackward(
    g: Tensor,
    heads: number,
    headDim: number,
    start: number,
    invFreq: Float64Array,
  ): Tensor {
    return this.attn().ropeOp(g, heads, headDim, start, invFreq, -1);
  }

  attentionTrain(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
  ): { out: Tensor; saved: unknown } {
    return this.attn().trainOp(q, k, v, shape);
  }

  attentionBackward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
    saved: unknown,
    g: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor } {
    return this.attn().backwardOp(q, k, v, shape, saved, g);
  }

  crossEntropy(logits: Tensor, targets: Int32Array, mask: ArrayLike<number> | null): CrossEntropy {
    const dlogits = this.m.zeros(logits.shape);
    const V = logits.shape[logits.shape.length - 1];
    return { ...crossEntropyInto(logits.data, V, targets, mask, dlogits.data), dlogits };
  }

  // ---- memory ----

  zeros(shape: readonly number[]): Tensor {
    return this.m.zeros(shape);
  }

  addInto(acc: Tensor, g: Tensor): void {
    if (this.m.owns(acc) && this.m.owns(g)) this.m.add(acc, g, acc);
    else for (let i = 0; i < acc.data.length; i++) acc.data[i] += g.data[i];
  }
}

let threadBackend: SimdBackend | null = null;

/** This thread's simd backend (made on first use; its kernels compiled once). */
export function simdBackend(): SimdBackend {
  threadBackend ??= new SimdBackend();
  return threadBackend;
}
