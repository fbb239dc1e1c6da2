/**
 * The "simd" training engine: the same loss and gradients as the reference engine
 * (`train/mamba-grads.ts`, whose module comment has the block's equations), computed in float32
 * with the WebAssembly SIMD kernels of `./kernels.ts`:
 *
 * - every projection (in_proj, x_proj, dt_proj, out_proj, the head) and both of its backward
 *   products (∂X = ∂Y·W, ∂W = ∂Yᵀ·X) is one register-blocked `gemm` call;
 * - the selective scan runs forward keeping only the states at chunk boundaries, and backward
 *   recomputing the states inside each chunk (Mamba §3.3.2), four channels per vector;
 * - SiLU, its derivative and the causal depthwise conv (forward and backward) are SIMD passes;
 *   the cheap ops (embedding, RMSNorm, cross-entropy) stay in TypeScript loops over the same
 *   memory.
 *
 * Layout: every activation is (b·l, channels) row-major, the layout the projections produce, so
 * nothing is transposed; channel counts E are padded to Ep = 4⌈E/4⌉ (zero lanes, which stay zero
 * through every op). All activations of a step live in one WebAssembly memory, laid out once per
 * batch shape (llm.c's single activation buffer) and reused: a step allocates nothing but the
 * returned gradients.
 *
 * Where the time goes (`node --cpu-prof`, one step of the Table 1 model at batch 32 × 256): the
 * reference engine spends about 40% in the projections (linearBackward 30%, linear 9%), about 40%
 * in the scan (its backward 22%, the forward recurrence run twice 8%, softplus and σ in scalar
 * Math.exp 8%, the forward 2.5%) and the rest in the conv, SiLU, norms, transposes, allocation
 * and garbage collection. This engine puts all three in SIMD kernels; what is left is the scan
 * forward (N exponentials per channel and position), the scan backward and the gemm calls, about
 * a quarter of a step each, and about an eighth in the TypeScript ops.
 *
 * Limits: the "lti" ablation (B, C fixed per channel) and the "store-all" scan strategy are the
 * reference engine's only.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { crossEntropy } from "../ops/reference/backward";
import type { MixerVariant } from "../mamba/model";
import type { MambaConfig } from "../mamba/config";
import { type WasmMemory, wasmApi, wasmSimdSupported } from "../selective-fast/wasm";
import { trainKernelsModuleBytes } from "./kernels";

/** The exported functions of the kernels module (arguments as in `./kernels.ts`). */
export interface TrainKernels {
  N: number;
  memory: WasmMemory;
  gemm: (...a: number[]) => void;
  scanFwd: (...a: number[]) => void;
  scanBwd: (...a: number[]) => void;
  silu: (...a: number[]) => void;
  siluBack: (...a: number[]) => void;
  convFwd: (...a: number[]) => void;
  convBwd: (...a: number[]) => void;
  peak: (...a: number[]) => void;
}

/** A fresh instance of the training kernels for state size N (its own memory). */
export function instantiateTrainKernels(N: number): TrainKernels {
  if (!wasmApi || !wasmSimdSupported()) {
    throw new Error("instantiateTrainKernels: this JavaScript engine has no WebAssembly SIMD");
  }
  const module = new wasmApi.Module(trainKernelsModuleBytes(N));
  const e = new wasmApi.Instance(module, {}).exports as unknown as Omit<TrainKernels, "N">;
  return {
    N,
    memory: e.memory,
    gemm: e.gemm,
    scanFwd: e.scanFwd,
    scanBwd: e.scanBwd,
    silu: e.silu,
    siluBack: e.siluBack,
    convFwd: e.convFwd,
    convBwd: e.convBwd,
    peak: e.peak,
  };
}

/** Grows a kernels instance's memory to at least `bytes`. */
export function growTo(k: TrainKernels, bytes: number): void {
  const have = k.memory.buffer.byteLength;
  if (bytes > have) k.memory.grow(Math.ceil((bytes - have) / 65536));
}

/** A bump allocator over the memory: `take(n)` reserves n float32 (16-byte aligned). */
export class Arena {
  private top = 64;
  private readonly items: { off: number; n: number }[] = [];
  take(n: number): number {
    const off = this.top;
    this.top += Math.ceil((n * 4) / 16) * 16;
    this.items.push({ off, n });
    return off;
  }
  get bytes(): number {
    return this.top;
  }
}

/** What one engine step computes (the reference engine's result, gradients as float32). */
export interface EngineResult {
  loss: number;
  count: number;
  correct: number;
  /** Σ of the mask weights of the counted positions (the loss's denominator). */
  weight: number;
  grads: Map<string, Float32Array>;
}

/** The inputs of one step, already validated by the caller. */
export interface EngineStep {
  config: MambaConfig;
  params: Map<string, Tensor>;
  ids: Int32Array;
  targets: Int32Array;
  mask: ArrayLike<number> | null;
  b: number;
  l: number;
  variant: MixerVariant;
  chunkSize: number;
}

interface LayerBuffers {
  hIn: number;
  rstd: number;
  hn: number;
  x: number;
  z: number;
  xc: number;
  u: number;
  xdbl: number;
  raw: number;
  dt: number;
  y: number;
  states: number;
}

/** The memory layout of one batch shape: byte offsets of every buffer. */
interface Layout {
  key: string;
  bytes: number;
  layers: LayerBuffers[];
  hOut: number;
  rstdF: number;
  hf: number;
  logits: number;
  dlogits: number;
  dhf: number;
  dh: number;
  dhn: number;
  dy: number;
  du: number;
  ddelta: number;
  dz: number;
  dxdbl: number;
  dx: number;
  dxc: number;
  dBv: number;
  dCv: number;
  xs: number;
  ab: number;
  scr: number;
  /** Weights (float32 copies), their transposes and the scan's parameters, per layer. */
  w: {
    inW: number;
    inWT: number;
    xW: number;
    xWT: number;
    dtW: number;
    dtWT: number;
    outW: number;
    outWT: number;
    AT: number;
    bias: number;
    D: number;
    convWT: number;
    convB: number;
    gConvWT: number;
    gConvB: number;
    gIn: number;
    gX: number;
    gDt: number;
    gOut: number;
    gA: number;
    gD: number;
    gBias: number;
  }[];
  head: number;
  headT: number;
  gHead: number;
  gradsStart: number;
  gradsEnd: number;
}

function dimsOf(cfg: MambaConfig) {
  const E = cfg.intermediate_size;
  const N = cfg.state_size;
  const R = cfg.time_step_rank;
  return {
    d: cfg.hidden_size,
    E,
    Ep: Math.ceil(E / 4) * 4,
    N,
    R,
    J: R + 2 * N,
    V: cfg.vocab_size,
    k: cfg.conv_kernel,
    layers: cfg.num_hidden_layers,
  };
}

function makeLayout(cfg: MambaConfig, b: number, l: number, T: number, key: string): Layout {
  const { d, E, Ep, N, R, J, V, layers } = dimsOf(cfg);
  const BL = b * l;
  const chunks = Math.ceil(l / T);
  const a = new Arena();
  const w = [];
  for (let i = 0; i < layers; i++) {
    w.push({
      inW: a.take(2 * E * d),
      inWT: a.take(2 * E * d),
      xW: a.take(J * E),
      xWT: a.take(J * E),
      dtW: a.take(E * R),
      dtWT: a.take(E * R),
      outW: a.take(d * E),
      outWT: a.take(d * E),
      AT: a.take(N * Ep),
      bias: a.take(Ep),
      D: a.take(Ep),
      convWT: a.take(cfg.conv_kernel * Ep),
      convB: a.take(Ep),
      gConvWT: 0,
      gConvB: 0,
      gIn: 0,
      gX: 0,
      gDt: 0,
      gOut: 0,
      gA: 0,
      gD: 0,
      gBias: 0,
    });
  }
  const head = a.take(V * d);
  const headT = a.take(V * d);
  const gradsStart = a.take(0);
  for (const x of w) {
    x.gIn = a.take(2 * E * d);
    x.gX = a.take(J * E);
    x.gDt = a.take(E * R);
    x.gOut = a.take(d * E);
    x.gA = a.take(N * Ep);
    x.gD = a.take(Ep);
    x.gBias = a.take(Ep);
    x.gConvWT = a.take(cfg.conv_kernel * Ep);
    x.gConvB = a.take(Ep);
  }
  const gHead = a.take(V * d);
  const gradsEnd = a.take(0);
  const lay: LayerBuffers[] = [];
  for (let i = 0; i < layers; i++) {
    lay.push({
      hIn: a.take(BL * d),
      rstd: a.take(BL),
      hn: a.take(BL * d),
      x: a.take(BL * Ep),
      z: a.take(BL * Ep),
      xc: a.take(BL * Ep),
      u: a.take(BL * Ep),
      xdbl: a.take(BL * J),
      raw: a.take(BL * Ep),
      dt: a.take(BL * Ep),
      y: a.take(BL * Ep),
      states: a.take(b * chunks * N * Ep),
    });
  }
  return {
    key,
    layers: lay,
    w,
    head,
    headT,
    gHead,
    gradsStart,
    gradsEnd,
    hOut: a.take(BL * d),
    rstdF: a.take(BL),
    hf: a.take(BL * d),
    logits: a.take(BL * V),
    dlogits: a.take(BL * V),
    dhf: a.take(BL * d),
    dh: a.take(BL * d),
    dhn: a.take(BL * d),
    dy: a.take(BL * Ep),
    du: a.take(BL * Ep),
    ddelta: a.take(BL * Ep),
    dz: a.take(BL * Ep),
    dxdbl: a.take(BL * J),
    dx: a.take(BL * Ep),
    dxc: a.take(BL * Ep),
    dBv: a.take(l * N * 4),
    dCv: a.take(l * N * 4),
    xs: a.take((T + 1) * N * 4),
    ab: a.take(T * N * 4),
    scr: a.take(2 * N * 4),
    bytes: a.bytes,
  };
}

/**
 * An instance of the simd engine: its kernels, its memory and the layout of the last batch shape.
 * Reusable for any number of steps (and models with the same state size).
 */
export class SimdEngine {
  readonly k: TrainKernels;
  private layout: Layout | null = null;
  constructor(N: number) {
    this.k = instantiateTrainKernels(N);
  }

  /** One forward + backward pass (see the module comment); the loss as the reference engine's. */
  step(s: EngineStep): EngineResult {
    const { config: cfg, params, ids, targets, mask, b, l, variant, chunkSize: T } = s;
    if (variant === "lti") {
      throw new Error(
        `mambaLossAndGrads: options.variant: "lti" is not supported by the simd engines (use engine "typescript")`,
      );
    }
    const { d, E, Ep, N, R, J, V, k: K, layers } = dimsOf(cfg);
    const BL = b * l;
    const chunks = Math.ceil(l / T);
    const key = JSON.stringify([cfg, b, l, T]);
    if (!this.layout || this.layout.key !== key) {
      const used = this.layout ? this.layout.bytes : 0;
      const next = makeLayout(cfg, b, l, T, key);
      if (next.bytes > 4 * 2 ** 30 - 2 ** 16) {
        throw new Error(
          `mambaLossAndGrads: tokens: batch ${b} × ${l} needs ${(next.bytes / 2 ** 30).toFixed(1)} GiB of activations, more than the 4 GiB a WebAssembly memory holds; use smaller batches (or engine "simd-threads", which splits the batch)`,
        );
      }
      this.layout = next;
      growTo(this.k, this.layout.bytes);
      // padding lanes must read zero: clear what an earlier layout left (grown memory is zero)
      new Uint8Array(this.k.memory.buffer, 0, used).fill(0);
    }
    const Lo = this.layout;
    const k = this.k;
    const mem = new Float32Array(k.memory.buffer);
    const F = (off: number): number => off >> 2; // float index of a byte offset
    const P = (name: string): Tensor => {
      const t = params.get(name);
      if (!t) throw new Error(`mambaLossAndGrads: model.params: missing "${name}"`);
      return t;
    };
    const gemm = k.gemm;
    /**
     * C += Aᵀ·B for A (K, M) and B (K, N), K the long axis (all positions): the weight gradients.
     * Cut into slabs of 256 positions so that a slab of B stays in cache while every register
     * block of C passes over it (one gemm call over all K would stream B from memory once per
     * block of four rows of C).
     */
    const gemmAtB = (
      M: number,
      N: number,
      K: number,
      pA: number,
      lda: number,
      pB: number,
      ldb: number,
      pC: number,
      ldc: number,
    ): void => {
      for (let k0 = 0; k0 < K; k0 += 256) {
        const kk = Math.min(256, K - k0);
        gemm(M, N, kk, pA + 4 * k0 * lda, 1, lda, pB + 4 * k0 * ldb, ldb, pC, ldc, 1);
      }
    };
    const hasZ = variant === "mamba" ? 1 : 0;
    const eps = cfg.layer_norm_epsilon;
    if (cfg.use_bias) {
      throw new Error(
        `mambaLossAndGrads: model.config.use_bias: projections with biases are not supported by the simd engines (use engine "typescript")`,
      );
    }

    // ---- parameters into the memory (float32), with the transposes the forward products read ----
    const put = (off: number, src: ArrayLike<number>): void => mem.set(src, F(off));
    const putT = (off: number, src: ArrayLike<number>, rows: number, cols: number): void => {
      const o = F(off);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) mem[o + c * rows + r] = src[r * cols + c];
    };
    for (let i = 0; i < layers; i++) {
      const m = `backbone.layers.${i}.mixer.`;
      const w = Lo.w[i];
      const inW = P(m + "in_proj.weight").data;
      put(w.inW, inW);
      putT(w.inWT, inW, 2 * E, d);
      const xW = P(m + "x_proj.weight").data;
      put(w.xW, xW);
      putT(w.xWT, xW, J, E);
      const dtW = P(m + "dt_proj.weight").data;
      put(w.dtW, dtW);
      putT(w.dtWT, dtW, E, R);
      const outW = P(m + "out_proj.weight").data;
      put(w.outW, outW);
      putT(w.outWT, outW, d, E);
      const aLog = P(m + "A_log").data;
      for (let e = 0; e < E; e++)
        for (let n = 0; n < N; n++) mem[F(w.AT) + n * Ep + e] = -Math.exp(aLog[e * N + n]);
      put(w.bias, P(m + "dt_proj.bias").data);
      put(w.D, P(m + "D").data);
      const cw = P(m + "conv1d.weight").data; // (E, 1, K) → (K, Ep)
      for (let e = 0; e < E; e++)
        for (let j = 0; j < K; j++) mem[F(w.convWT) + j * Ep + e] = cw[e * K + j];
      if (cfg.use_conv_bias) put(w.convB, P(m + "conv1d.bias").data);
    }
    const emb = P("backbone.embeddings.weight").data;
    const headW = cfg.tie_word_embeddings ? emb : P("lm_head.weight").data;
    put(Lo.head, headW);
    putT(Lo.headT, headW, V, d);
    mem.fill(0, F(Lo.gradsStart), F(Lo.gradsEnd));

    // ---- forward ----
    const h0 = F(Lo.layers.length ? Lo.layers[0].hIn : Lo.hOut);
    for (let p = 0; p < BL; p++) mem.set(emb.subarray(ids[p] * d, ids[p] * d + d), h0 + p * d);
    for (let i = 0; i < layers; i++) {
      const c = Lo.layers[i];
      const w = Lo.w[i];
      const hOut = i + 1 < layers ? Lo.layers[i + 1].hIn : Lo.hOut;
      rmsNormForward(
        mem,
        F(c.hIn),
        F(c.hn),
        F(c.rstd),
        P(`backbone.layers.${i}.norm.weight`).data,
        BL,
        d,
        eps,
      );
      gemm(BL, E, d, c.hn, d, 1, w.inWT, 2 * E, c.x, Ep, 0);
      if (hasZ) gemm(BL, E, d, c.hn, d, 1, w.inWT + 4 * E, 2 * E, c.z, Ep, 0);
      for (let bi = 0; bi < b; bi++) {
        const row = bi * l * Ep * 4;
        k.convFwd(l, Ep, K, c.x + row, w.convWT, w.convB, c.xc + row);
      }
      k.silu((BL * Ep) / 4, c.xc, c.u);
      gemm(BL, J, E, c.u, Ep, 1, w.xWT, J, c.xdbl, J, 0);
      gemm(BL, E, R, c.xdbl, J, 1, w.dtWT, E, c.raw, Ep, 0);
      for (let bi = 0; bi < b; bi++) {
        const row = bi * l * Ep * 4;
        const xrow = c.xdbl + bi * l * J * 4;
        k.scanFwd(
          l,
          Ep,
          T,
          c.raw + row,
          w.bias,
          w.AT,
          xrow + 4 * R,
          J,
          xrow + 4 * (R + N),
          J,
          c.u + row,
          c.z + row,
          hasZ,
          w.D,
          c.y + row,
          c.dt + row,
          c.states + bi * chunks * N * Ep * 4,
          Lo.scr,
        );
      }
      mem.copyWithin(F(hOut), F(c.hIn), F(c.hIn) + BL * d);
      gemm(BL, d, E, c.y, Ep, 1, w.outWT, d, hOut, d, 1);
    }
    const normF = P("backbone.norm_f.weight").data;
    rmsNormForward(mem, F(Lo.hOut), F(Lo.hf), F(Lo.rstdF), normF, BL, d, eps);
    gemm(BL, V, d, Lo.hf, d, 1, Lo.headT, V, Lo.logits, V, 0);

    // ---- loss ----
    const logits = mem.subarray(F(Lo.logits), F(Lo.logits) + BL * V);
    const ce = crossEntropy({ shape: [BL, V], data: logits }, targets, mask);
    mem.set(ce.dlogits.data, F(Lo.dlogits));
    let weight = 0;
    for (let p = 0; p < BL; p++) if (targets[p] !== -100) weight += mask ? mask[p] : 1;

    // ---- backward ----
    const grads = new Map<string, Float32Array>();
    gemm(BL, d, V, Lo.dlogits, V, 1, Lo.head, d, Lo.dhf, d, 0);
    gemmAtB(V, d, BL, Lo.dlogits, V, Lo.hf, d, Lo.gHead, d);
    const gNormF = new Float64Array(d);
    mem.fill(0, F(Lo.dh), F(Lo.dh) + BL * d);
    rmsNormBackward(mem, F(Lo.hOut), F(Lo.rstdF), F(Lo.dhf), F(Lo.dh), normF, gNormF, BL, d);
    grads.set("backbone.norm_f.weight", Float32Array.from(gNormF));
    for (let i = layers - 1; i >= 0; i--) {
      const m = `backbone.layers.${i}.mixer.`;
      const c = Lo.layers[i];
      const w = Lo.w[i];
      gemm(BL, E, d, Lo.dh, d, 1, w.outW, E, Lo.dy, Ep, 0);
      gemmAtB(d, E, BL, Lo.dh, d, c.y, Ep, w.gOut, E);
      for (let bi = 0; bi < b; bi++) {
        const row = bi * l * Ep * 4;
        const xrow = c.xdbl + bi * l * J * 4;
        mem.fill(0, F(Lo.dBv), F(Lo.dBv) + l * N * 4);
        mem.fill(0, F(Lo.dCv), F(Lo.dCv) + l * N * 4);
        k.scanBwd(
          l,
          Ep,
          T,
          chunks,
          c.raw + row,
          w.bias,
          c.dt + row,
          w.AT,
          xrow + 4 * R,
          J,
          xrow + 4 * (R + N),
          J,
          c.u + row,
          c.z + row,
          hasZ,
          w.D,
          c.states + bi * chunks * N * Ep * 4,
          Lo.dy + row,
          Lo.du + row,
          Lo.ddelta + row,
          Lo.dz + row,
          w.gA,
          w.gD,
          w.gBias,
          Lo.dBv,
          Lo.dCv,
          Lo.xs,
          Lo.ab,
          Lo.scr,
        );
        // ∂B_t, ∂C_t: the four lanes of each partial sum (channels) added
        const dxo = F(Lo.dxdbl) + bi * l * J;
        const bv = F(Lo.dBv);
        const cv = F(Lo.dCv);
        for (let t = 0; t < l; t++) {
          for (let n = 0; n < N; n++) {
            const q = (t * N + n) * 4;
            mem[dxo + t * J + R + n] =
              mem[bv + q] + mem[bv + q + 1] + mem[bv + q + 2] + mem[bv + q + 3];
            mem[dxo + t * J + R + N + n] =
              mem[cv + q] + mem[cv + q + 1] + mem[cv + q + 2] + mem[cv + q + 3];
          }
        }
      }
      // dt_proj: ∂δ = ∂raw · W_dt (columns 0..R of ∂xdbl), ∂W_dt = ∂rawᵀ · δ
      gemm(BL, R, E, Lo.ddelta, Ep, 1, w.dtW, R, Lo.dxdbl, J, 0);
      gemmAtB(E, R, BL, Lo.ddelta, Ep, c.xdbl, J, w.gDt, R);
      // x_proj: ∂u += ∂xdbl · W_x, ∂W_x = ∂xdblᵀ · u
      gemm(BL, E, J, Lo.dxdbl, J, 1, w.xW, E, Lo.du, Ep, 1);
      gemmAtB(J, E, BL, Lo.dxdbl, J, c.u, Ep, w.gX, E);
      k.siluBack((BL * Ep) / 4, c.xc, Lo.du, Lo.dxc);
      mem.fill(0, F(Lo.dx), F(Lo.dx) + BL * Ep);
      for (let bi = 0; bi < b; bi++) {
        const row = bi * l * Ep * 4;
        k.convBwd(l, Ep, K, c.x + row, Lo.dxc + row, w.convWT, Lo.dx + row, w.gConvWT, w.gConvB);
      }
      const gConvW = new Float32Array(E * K);
      for (let e = 0; e < E; e++)
        for (let j = 0; j < K; j++) gConvW[e * K + j] = mem[F(w.gConvWT) + j * Ep + e];
      grads.set(m + "conv1d.weight", gConvW);
      if (cfg.use_conv_bias) grads.set(m + "conv1d.bias", mem.slice(F(w.gConvB), F(w.gConvB) + E));
      // in_proj: ∂hn = ∂x · W_in[:E] + ∂z · W_in[E:], ∂W_in = [∂xᵀ hn; ∂zᵀ hn]
      gemm(BL, d, E, Lo.dx, Ep, 1, w.inW, d, Lo.dhn, d, 0);
      gemmAtB(E, d, BL, Lo.dx, Ep, c.hn, d, w.gIn, d);
      if (hasZ) {
        gemm(BL, d, E, Lo.dz, Ep, 1, w.inW + 4 * E * d, d, Lo.dhn, d, 1);
        gemmAtB(E, d, BL, Lo.dz, Ep, c.hn, d, w.gIn + 4 * E * d, d);
      }
      const gNorm = new Float64Array(d);
      const normW = P(`backbone.layers.${i}.norm.weight`).data;
      rmsNormBackward(mem, F(c.hIn), F(c.rstd), F(Lo.dhn), F(Lo.dh), normW, gNorm, BL, d);
      grads.set(`backbone.layers.${i}.norm.weight`, Float32Array.from(gNorm));
      const copy = (off: number, n: number): Float32Array => mem.slice(F(off), F(off) + n);
      grads.set(m + "in_proj.weight", copy(w.gIn, 2 * E * d));
      grads.set(m + "x_proj.weight", copy(w.gX, J * E));
      grads.set(m + "dt_proj.weight", copy(w.gDt, E * R));
      grads.set(m + "out_proj.weight", copy(w.gOut, d * E));
      const gALog = new Float32Array(E * N);
      const aLog = P(m + "A_log").data;
      for (let e = 0; e < E; e++)
        for (let n = 0; n < N; n++)
          gALog[e * N + n] = mem[F(w.gA) + n * Ep + e] * -Math.exp(aLog[e * N + n]); // ∂A/∂A_log = A
      grads.set(m + "A_log", gALog);
      grads.set(m + "D", copy(w.gD, E));
      grads.set(m + "dt_proj.bias", copy(w.gBias, E));
    }
    // the embedding: the tied head's product plus the rows the tokens picked
    const gEmb = new Float32Array(V * d);
    if (cfg.tie_word_embeddings) gEmb.set(mem.subarray(F(Lo.gHead), F(Lo.gHead) + V * d));
    else grads.set("lm_head.weight", mem.slice(F(Lo.gHead), F(Lo.gHead) + V * d));
    const dh = F(Lo.dh);
    for (let p = 0; p < BL; p++) {
      const o = ids[p] * d;
      for (let j = 0; j < d; j++) gEmb[o + j] += mem[dh + p * d + j];
    }
    grads.set("backbone.embeddings.weight", gEmb);
    return { loss: ce.loss, count: ce.count, correct: ce.correct, weight, grads };
  }
}

/** y = x · r · w, r = 1 / sqrt(mean(x²) + eps) per row of d (rows of `mem`); keeps r. */
function rmsNormForward(
  mem: Float32Array,
  x: number,
  y: number,
  rstd: number,
  w: ArrayLike<number>,
  rows: number,
  d: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += mem[x + o + j] * mem[x + o + j];
    const inv = 1 / Math.sqrt(ss / d + eps);
    mem[rstd + r] = inv;
    for (let j = 0; j < d; j++) mem[y + o + j] = mem[x + o + j] * inv * w[j];
  }
}

/**
 * RMSNorm's backward (`train/ops-backward.ts` rmsNormBackward): dx_j = r g_j w_j − x_j r³ (1/d) Σ g w x,
 * added into `dx`; ∂w_j += g_j x_j r into gw.
 */
function rmsNormBackward(
  mem: Float32Array,
  x: number,
  rstd: number,
  g: number,
  dx: number,
  w: ArrayLike<number>,
  gw: Float64Array,
  rows: number,
  d: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    const inv = mem[rstd + r];
    let dot = 0;
    for (let j = 0; j < d; j++) {
      const gj = mem[g + o + j];
      const xj = mem[x + o + j];
      dot += gj * w[j] * xj;
      gw[j] += gj * xj * inv;
    }
    const c = (inv * inv * inv * dot) / d;
    for (let j = 0; j < d; j++) mem[dx + o + j] += inv * mem[g + o + j] * w[j] - c * mem[x + o + j];
  }
}

/** The engine's float32 gradients in the parameters' own dtypes and order. */
export function gradsLike(
  params: Map<string, Tensor>,
  grads: Map<string, Float32Array>,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, p] of params) {
    const g = grads.get(name);
    const data = allocate(dtypeOf(p), p.data.length);
    if (g) data.set(g);
    out.set(name, { shape: [...p.shape], data });
  }
  return out;
}
