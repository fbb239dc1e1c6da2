/**
 * Mamba-2's SSD op on the simd backend: the chunked algorithm (the reference's `ssdChunkedRaw`,
 * the paper's Listing 1) with its products on the register-blocked gemm of `./kernels.ts`, forward
 * and backward, for any state size, a clamped Δ and a decoding state.
 *
 * **Forward** ({@link ssdChunkedGemm}, {@link chunkedGemm}): per batch element and chunk of Q
 * positions, the scores C Bᵀ of each group (Q × Q), then per head ({@link ssdHeads}) the masked
 * scores times the chunk's inputs (Q × Q by Q × P), the state entering the chunk read out by the
 * chunk's C (P × N by N × Q) and the chunk's inputs folded into the state (P × Q by Q × N); the
 * decay mask, the Δ scaling and the state's decay are TypeScript loops over the same memory
 * (O(Q²) and O(P·N) per head and chunk, against the products' O(Q²·P + Q·P·N)). The heads are
 * independent: the inference backend shares them over its threads (`./infer.ts`). One position
 * (a decoding step) is the `ssdStep` kernel instead: one pass over each head's state.
 *
 * **Backward** ({@link ssdChunkedGemmBackward}): the states entering the chunks again (the fold
 * alone), then the chunks in reverse, carrying dS, the gradient of the state leaving the chunk.
 * Per head and chunk, with w_t = exp(cum_t), u_s = Δ_s exp(cum_{q−1} − cum_s) and the masked
 * scores M = (C Bᵀ) ∘ exp(cum_t − cum_s) ∘ Δ_s of the forward:
 *
 *   from Y += M X:                 dM = dY Xᵀ (masked),   dX += Mᵀ dY
 *   from Y_t += w_t S C_t:         dC_t += w_t (dY S)_t,   dS_in += dYᵀ diag(w) C
 *   from S_out = e S + Xᵀ diag(u) B:  dX += diag(u) B dSᵀ,  dB_s += u_s (X dS)_s,  dS_in += e dS
 *   from M's scores, summed over the group's heads:  dC += (dM ∘ E ∘ Δ) B,  dB += (dM ∘ E ∘ Δ)ᵀ C
 *
 * (all on the gemm), and the scalar paths: each product's gradient with respect to w, u, e and
 * the mask's exponentials becomes a gradient of cum_t = a_0 + … + a_t, whose reverse cumulative
 * sum is the gradient of the log-decays a = Δ A, hence of Δ and A; Δ's reaches dt through the
 * softplus where the clamp let it through.
 */
import type { Tensor } from "../../tensor";
import type { SsdArgs, SsdGradients } from "../backend";
import { sigmoidRaw } from "../reference/scalar";
import { ssdStepSizes } from "../reference/ssd";
import {
  type GemmKernel,
  type SimdMemory,
  type SimdTensor,
  type SsdStepKernel,
  rowMajor,
} from "./memory";

/** The sizes of an SSD call. */
function dims(a: SsdArgs) {
  const [b, l, E] = a.x.shape;
  const H = a.A.data.length;
  const G = a.groups;
  const N = a.B.shape[2] / G;
  const P = E / H;
  return { b, l, E, H, G, N, P, Hg: H / G };
}

/**
 * The step sizes Δ of the reference's {@link ssdStepSizes} (and whether the clamp let each
 * through) with the log-decays Δ A, per position and head (b·l·H).
 */
function discretise(a: SsdArgs) {
  const { delta, through } = ssdStepSizes(a);
  const H = a.A.data.length;
  const logDecay = delta.map((d, i) => d * a.A.data[i % H]);
  return { delta, logDecay, through };
}

/**
 * The SSD op (`Backend.ssd`) by the chunked algorithm with its products on the gemm (see the
 * module comment), in `m`'s memory; from `state` (b, H, P, N) when given, which is then updated
 * in place to the state after the last position. Returns y (b, l, E).
 */
export function ssdChunkedGemm(
  m: SimdMemory,
  a: SsdArgs,
  state: Tensor | null,
  runHeads?: HeadsRunner,
): SimdTensor {
  const { b: batch, l: L, E, H, G, N, P } = dims(a);
  const { delta, logDecay } = discretise(a);
  const x = m.input(a.x);
  const y = chunkedGemm(
    m,
    { batch, L, H, P, G, N, Q: a.chunkSize },
    x,
    delta,
    logDecay,
    m.input(a.B),
    m.input(a.C),
    state,
    runHeads,
  );
  // The skip connection D x.
  for (let r = 0; r < batch * L; r++)
    for (let head = 0; head < H; head++) {
      const D = a.D.data[head];
      for (let i = r * E + head * P; i < r * E + (head + 1) * P; i++) y.data[i] += D * x.data[i];
    }
  return y;
}

/** The sizes of {@link chunkedGemm}: chunks of Q positions. */
export interface ChunkedSizes {
  batch: number;
  L: number;
  H: number;
  P: number;
  G: number;
  N: number;
  Q: number;
}

/**
 * The chunked SSD on the gemm (the module comment), without the skip: per head and position,
 * h ← exp(a) h + Δ x Bᵀ and y = h C, over x (b, l, H·P) and B, C (b, l, G·N) in `m`'s memory,
 * with Δ and a (b·l·H) given (Δ = 1 when x is already discretised, as `ssdChunked`'s X). From
 * `state` (b, H, P, N) when given, updated in place; returns y (b, l, H·P).
 */
export function chunkedGemm(
  m: SimdMemory,
  d: ChunkedSizes,
  x: SimdTensor,
  delta: Float64Array | null,
  logDecay: ArrayLike<number>,
  B: SimdTensor,
  C: SimdTensor,
  state: Tensor | null,
  runHeads?: HeadsRunner,
): SimdTensor {
  const { batch, L, H, P, G, N } = d;
  const E = H * P;
  const GN = G * N;
  const Hg = H / G;
  const Q = Math.max(1, Math.min(d.Q, L));
  const S = state ? m.inPlace(state) : m.zeros([batch, H, P, N]); // the state entering the chunk
  const y = m.alloc([batch, L, E]);
  if (L === 1) {
    chunkedStep(m, d, x, delta, logDecay, B, C, S, y, runHeads);
    if (state && S.data !== state.data) state.data.set(S.data);
    return y;
  }
  // per chunk, what every head reads: each group's Bᵀ, Cᵀ and scores C Bᵀ, each head's Δ and
  // cumulative log-decays; then the heads (ssdHeads), here or shared over threads (`runHeads`)
  const BT = m.alloc([G, N, Q]);
  const CT = m.alloc([G, N, Q]);
  const CB = m.alloc([G, Q, Q]);
  const steps = m.alloc([2 * 2 * H * Q]); //           Δ then cum per head, float64
  const dt = new Float64Array(steps.data.buffer, steps.at(), H * Q);
  const cum = new Float64Array(steps.data.buffer, steps.at() + 8 * H * Q, H * Q);
  const desc = m.alloc([HEAD_WORDS]);
  const words = new Int32Array(desc.data.buffer, desc.at(), HEAD_WORDS);
  const scratchBytes = headScratchBytes(Q, P, N);
  const scratch = runHeads ? null : m.alloc([scratchBytes / 4]);
  for (let bi = 0; bi < batch; bi++) {
    for (let t0 = 0; t0 < L; t0 += Q) {
      const q = Math.min(Q, L - t0);
      const row0 = bi * L + t0;
      for (let g = 0; g < G; g++) {
        transposeInto(BT, Q, B, row0 * GN + g * N, GN, q, N, g * N * Q);
        transposeInto(CT, Q, C, row0 * GN + g * N, GN, q, N, g * N * Q);
        m.gemm({
          rows: q,
          cols: q,
          inner: N,
          a: { t: C, offset: row0 * GN + g * N, rowStride: GN, colStride: 1 },
          b: rowMajor(BT, Q, g * N),
          c: rowMajor(CB, Q, g * Q),
          accumulate: false,
        });
      }
      for (let head = 0; head < H; head++)
        chunkSteps(delta, logDecay, row0 * H + head, H, q, dt, cum, head * Q);
      words.set([q, Q, P, N, E, Hg, t0 === 0 ? 1 : 0]);
      words.set([CB.at(), CT.at(), BT.at(), dt.byteOffset, cum.byteOffset], 7);
      words.set([x.at(row0 * E), y.at(row0 * E), S.at(bi * H * P * N)], 12);
      if (runHeads) runHeads("ssdHeads", desc.at(), scratchBytes, H, H * q * (q * P + 2 * P * N));
      else ssdHeads(m.wasmMemory.buffer, m.gemmKernel, desc.at(), scratch!.at(), 0, H);
    }
  }
  if (state && S.data !== state.data) state.data.set(S.data);
  return y;
}

/**
 * Runs `kernel` ({@link ssdHeads} or {@link ssdStepHeads}) for units 0 … units − 1 on threads:
 * the descriptor's address, the scratch bytes one thread needs, the units and their work
 * (multiply-adds).
 */
export type HeadsRunner = (
  kernel: "ssdHeads" | "ssdStepHeads",
  desc: number,
  scratchBytes: number,
  units: number,
  work: number,
) => void;

/**
 * The Int32 words of {@link ssdHeads}'s descriptor: q, Q, P, N, E, heads per group, whether the
 * chunk is the first; then the byte addresses of the groups' scores C Bᵀ (G, Q, Q), Cᵀ and Bᵀ
 * (G, N, Q), the heads' Δ and cum (float64, (H, Q) each), x and y at the chunk's first row, and
 * the states (H, P, N) of the batch element.
 */
export const HEAD_WORDS = 15;

/** Bytes of one thread's scratch for {@link ssdHeads}: stepDecay (float64), M, read-out, Bw. */
function headScratchBytes(Q: number, P: number, N: number): number {
  return Math.ceil((8 * Q + 4 * (Q * Q + P * Q + Q * N)) / 16) * 16;
}

/**
 * Heads h0 … h1 − 1 of one chunk of {@link chunkedGemm}, in the memory whose buffer is given:
 * per head, the state entering the chunk read out (y_t = exp(cum_t) S C_t), y += M x with the
 * masked scores M, and the chunk folded into the state. The heads are independent, so threads
 * may each take some (`./infer.ts`), each with its own scratch; every address is a byte address
 * and the descriptor's words are {@link HEAD_WORDS}'s.
 */
export function ssdHeads(
  buffer: ArrayBufferLike,
  gemm: GemmKernel,
  desc: number,
  scratch: number,
  h0: number,
  h1: number,
): void {
  const f32 = new Float32Array(buffer);
  const w = new Int32Array(buffer, desc, HEAD_WORDS);
  const [q, Q, P, N, E, Hg, first] = w;
  const [pCB, pCT, pBT, pDt, pCum, pX, pY, pS] = w.subarray(7);
  const stepDecay = new Float64Array(buffer, scratch, Q); // exp(a_s) = exp(cum_s − cum_{s−1})
  const pM = scratch + 8 * Q; //                       one head's masked scores (Q, Q)
  const pReadOut = pM + 4 * Q * Q; //                  S C_t for the chunk's positions (P, Q)
  const pBw = pReadOut + 4 * P * Q; //                 the fold's B_s · Δ_s · decay (Q, N)
  const M = pM / 4;
  const readOut = pReadOut / 4;
  for (let head = h0; head < h1; head++) {
    const g = Math.floor(head / Hg);
    const dt = new Float64Array(buffer, pDt + 8 * head * Q, q);
    const cum = new Float64Array(buffer, pCum + 8 * head * Q, q);
    const xAt = pX + 4 * head * P; //                  the head's channels at the chunk's start
    const yAt = xAt - pX + pY;
    const sAt = pS + 4 * head * P * N;
    const CB = pCB / 4 + g * Q * Q;
    // y_t = exp(cum_t) S C_t: the state entering the chunk, decayed to t, read out
    // (nothing to read from a state of zeros: a prompt's first chunk from a new cache).
    const fromZero = first !== 0 && isZero(f32, sAt / 4, P * N);
    if (!fromZero) {
      gemm(P, q, N, sAt, N, 1, pCT + 4 * g * N * Q, Q, pReadOut, Q, 0);
      for (let t = 0; t < q; t++) {
        const wt = Math.exp(cum[t]);
        for (let p = 0; p < P; p++) f32[yAt / 4 + t * E + p] = wt * f32[readOut + p * Q + t];
      }
    }
    // y += M x with M[t, s] = C_t · B_s · exp(cum_t − cum_s) · Δ_s for s ≤ t; the decays
    // exp(cum_t − cum_s) = exp(a_{s+1}) · … · exp(a_t) as a running product along s from
    // t down: q exponentials a chunk instead of q²/2.
    for (let s = 1; s < q; s++) stepDecay[s] = Math.exp(cum[s] - cum[s - 1]);
    for (let t = 0; t < q; t++) {
      let decay = 1; //                                exp(cum_t − cum_s)
      for (let s = t; s >= 0; s--) {
        f32[M + t * Q + s] = f32[CB + t * Q + s] * decay * dt[s];
        decay *= stepDecay[s];
      }
      for (let s = t + 1; s < q; s++) f32[M + t * Q + s] = 0;
    }
    gemm(q, P, q, pM, Q, 1, xAt, E, yAt, E, fromZero ? 0 : 1);
    foldRaw(f32, gemm, { q, Q, P, N, E }, xAt, pBT + 4 * g * N * Q, dt, cum, pBw, sAt);
  }
}

/**
 * Δ (1 when `delta` is null) and cum_s = a_0 + … + a_s for the q positions of one head in a chunk,
 * the first at index `first` of the (b·l·H) arrays, into `dt` and `cum` from index `at`.
 */
function chunkSteps(
  delta: Float64Array | null,
  logDecay: ArrayLike<number>,
  first: number,
  H: number,
  q: number,
  dt: Float64Array,
  cum: Float64Array,
  at = 0,
): void {
  let sum = 0;
  for (let s = 0; s < q; s++) {
    const i = first + s * H;
    dt[at + s] = delta ? delta[i] : 1;
    cum[at + s] = sum += logDecay[i];
  }
}

/** Whether `data` holds only zeros from `at` for `n` values. */
function isZero(data: Float32Array, at: number, n: number): boolean {
  for (let i = at; i < at + n; i++) if (data[i] !== 0) return false;
  return true;
}

/**
 * One head's chunk of q positions folded into its state (P × N at byte `sAt`):
 * S ← exp(cum_{q−1}) S + Σ_s x_s (Δ_s exp(cum_{q−1} − cum_s) B_s)ᵀ, x at byte `xAt` (rows E
 * apart), Bᵀ (N × Q) at byte `bAt`, Bw (Q × N) at byte `pBw` as scratch.
 */
function foldRaw(
  f32: Float32Array,
  gemm: GemmKernel,
  d: { q: number; Q: number; P: number; N: number; E: number },
  xAt: number,
  bAt: number,
  dt: Float64Array,
  cum: Float64Array,
  pBw: number,
  sAt: number,
): void {
  const { q, Q, P, N, E } = d;
  const decay = Math.exp(cum[q - 1]);
  for (let i = sAt / 4; i < sAt / 4 + P * N; i++) f32[i] *= decay;
  const [Bw, BT] = [pBw / 4, bAt / 4];
  for (let s = 0; s < q; s++) {
    const w = dt[s] * Math.exp(cum[q - 1] - cum[s]);
    for (let n = 0; n < N; n++) f32[Bw + s * N + n] = w * f32[BT + n * Q + s];
  }
  gemm(P, N, q, xAt, 1, E, pBw, N, sAt, N, 1);
}

/** {@link foldRaw} on tensors of `m` (offsets in elements), with Bw (Q × N) as scratch. */
function foldChunk(
  m: SimdMemory,
  d: { q: number; Q: number; P: number; N: number; E: number },
  x: SimdTensor,
  xAt: number,
  BT: SimdTensor,
  dt: Float64Array,
  cum: Float64Array,
  Bw: SimdTensor,
  S: SimdTensor,
  sAt: number,
): void {
  const f32 = new Float32Array(m.wasmMemory.buffer);
  foldRaw(f32, m.gemmKernel, d, x.at(xAt), BT.at(), dt, cum, Bw.at(), S.at(sAt));
}

/**
 * One position (a decoding step) of {@link chunkedGemm}: per head, the `ssdStep` kernel runs
 * h ← exp(a) h + Δ x Bᵀ and y = h C in one pass over the head's state (a product of one
 * position would be all edges for the gemm); the heads here or shared over threads
 * (`runHeads`, as {@link ssdStepHeads}).
 */
function chunkedStep(
  m: SimdMemory,
  d: ChunkedSizes,
  x: SimdTensor,
  delta: Float64Array | null,
  logDecay: ArrayLike<number>,
  B: SimdTensor,
  C: SimdTensor,
  S: SimdTensor,
  y: SimdTensor,
  runHeads?: HeadsRunner,
): void {
  const { batch, H, P, G, N } = d;
  const units = batch * H; //                          (batch element, head) pairs
  const dx = m.alloc([units, P]); //                   Δ x per head
  const decay = m.alloc([units]); //                   exp(Δ A) per head
  for (let i = 0; i < units; i++) {
    const dt = delta ? delta[i] : 1;
    for (let p = 0; p < P; p++) dx.data[i * P + p] = dt * x.data[i * P + p];
    decay.data[i] = Math.exp(logDecay[i]);
  }
  const desc = m.alloc([STEP_WORDS]);
  new Int32Array(desc.data.buffer, desc.at(), STEP_WORDS).set([
    P,
    N,
    H,
    G,
    S.at(),
    B.at(),
    C.at(),
    decay.at(),
    dx.at(),
    y.at(),
  ]);
  if (runHeads) runHeads("ssdStepHeads", desc.at(), 0, units, units * 3 * P * N);
  else ssdStepHeads(m.wasmMemory.buffer, m.ssdStepKernel, desc.at(), 0, units);
}

/**
 * The Int32 words of {@link ssdStepHeads}'s descriptor: P, N, heads, groups; then the byte
 * addresses of the states (b·H, P, N), B and C (b, G·N), the decays (b·H), Δ x (b·H, P) and y.
 */
const STEP_WORDS = 10;

/**
 * (Batch element, head) pairs i0 … i1 − 1 of a decoding step ({@link chunkedStep}), each one
 * `ssdStep` kernel call; independent, so threads may each take some (`./infer.ts`).
 */
export function ssdStepHeads(
  buffer: ArrayBufferLike,
  step: SsdStepKernel,
  desc: number,
  i0: number,
  i1: number,
): void {
  const [P, N, H, G, pS, pB, pC, pDecay, pDx, pY] = new Int32Array(buffer, desc, STEP_WORDS);
  const decays = new Float32Array(buffer, pDecay, i1);
  const Hg = H / G;
  for (let i = i0; i < i1; i++) {
    const bc = 4 * (Math.floor(i / H) * G + Math.floor((i % H) / Hg)) * N;
    step(P, N, pS + 4 * i * P * N, pB + bc, pC + bc, decays[i], pDx + 4 * i * P, pY + 4 * i * P);
  }
}

/**
 * The SSD op's backward (`Backend.ssdBackward`) by the chunked algorithm on the gemm (see the
 * module comment), in `m`'s memory: the gradients of y = ssd(a) (no state) for the gradient g of
 * y (b, l, E).
 */
export function ssdChunkedGemmBackward(m: SimdMemory, a: SsdArgs, grad: Tensor): SsdGradients {
  const { b: batch, l: L, E, H, G, N, P, Hg } = dims(a);
  const GN = G * N;
  const Q = Math.max(1, Math.min(a.chunkSize, L));
  const chunks = Math.ceil(L / Q);
  const { delta, logDecay, through } = discretise(a);
  const x = m.input(a.x);
  const B = m.input(a.B);
  const C = m.input(a.C);
  const gy = m.input(grad);
  const dx = m.zeros([batch, L, E]);
  const dB = m.zeros([batch, L, GN]);
  const dC = m.zeros([batch, L, GN]);
  const dDelta = new Float64Array(delta.length); //    ∂/∂Δ, then ∂/∂dt
  const dA = new Float64Array(H);
  // Scratch, one chunk of one group or head.
  const BT = m.alloc([N, Q]); //                       the group's B of the chunk, transposed
  const CB = m.alloc([Q, Q]); //                       its scores C_t · B_s
  const M = m.alloc([Q, Q]); //                        one head's masked scores
  const dM = m.alloc([Q, Q]); //                       their gradient dY Xᵀ
  const dCB = m.alloc([Q, Q]); //                      the scores' gradient, summed over the group's heads
  const XT = m.alloc([P, Q]); //                       the head's x of the chunk, transposed
  const dYS = m.alloc([Q, N]); //                      dY S
  const XdS = m.alloc([Q, N]); //                      X dS
  const Bu = m.alloc([Q, N]); //                       u_s B_s (and the fold's scratch)
  const Cw = m.alloc([Q, N]); //                       w_t C_t
  const dST = m.alloc([N, P]); //                      dS transposed
  const dt = new Float64Array(Q);
  const cum = new Float64Array(Q);
  const dcum = new Float64Array(Q); //                 ∂/∂cum_t
  const ddt = new Float64Array(Q); //                  ∂/∂Δ_s through M and u
  const stepDecay = new Float64Array(Q); //            exp(a_s) = exp(cum_s − cum_{s−1})
  // The states entering each chunk (b, chunks, H, P, N): the fold alone, chunk after chunk.
  const entry = m.alloc([batch, chunks, H, P, N]);
  const S = m.zeros([H, P, N]);
  const sz = H * P * N;
  for (let bi = 0; bi < batch; bi++) {
    S.data.fill(0);
    for (let c = 0; c < chunks; c++) {
      const t0 = c * Q;
      const q = Math.min(Q, L - t0);
      const row0 = bi * L + t0;
      entry.data.set(S.data, (bi * chunks + c) * sz);
      for (let g = 0; g < G; g++) {
        transposeInto(BT, Q, B, row0 * GN + g * N, GN, q, N);
        for (let hh = 0; hh < Hg; hh++) {
          const head = g * Hg + hh;
          chunkSteps(delta, logDecay, row0 * H + head, H, q, dt, cum);
          foldChunk(m, { q, Q, P, N, E }, x, row0 * E + head * P, BT, dt, cum, Bu, S, head * P * N);
        }
      }
    }
  }
  // The chunks in reverse, S now dS: the gradient of the state leaving the chunk.
  for (let bi = 0; bi < batch; bi++) {
    S.data.fill(0);
    for (let c = chunks - 1; c >= 0; c--) {
      const t0 = c * Q;
      const q = Math.min(Q, L - t0);
      const row0 = bi * L + t0;
      const bcAt = row0 * GN; //                       the chunk's B, C, dB, dC rows
      for (let g = 0; g < G; g++) {
        transposeInto(BT, Q, B, bcAt + g * N, GN, q, N);
        m.gemm({
          rows: q,
          cols: q,
          inner: N,
          a: { t: C, offset: bcAt + g * N, rowStride: GN, colStride: 1 },
          b: rowMajor(BT, Q),
          c: rowMajor(CB, Q),
          accumulate: false,
        });
        dCB.data.fill(0);
        for (let hh = 0; hh < Hg; hh++) {
          const head = g * Hg + hh;
          const A = a.A.data[head];
          chunkSteps(delta, logDecay, row0 * H + head, H, q, dt, cum);
          dcum.fill(0);
          ddt.fill(0);
          const xAt = row0 * E + head * P;
          const sAt = head * P * N;
          const eAt = (bi * chunks + c) * sz + sAt; // the state entering the chunk
          const last = cum[q - 1];
          // dM = dY Xᵀ; M and its mask again. dM ∘ M reaches cum_t (+) and cum_s (−), dM ∘ E
          // reaches the scores and Δ_s.
          transposeInto(XT, Q, x, xAt, E, q, P);
          m.gemm({
            rows: q,
            cols: q,
            inner: P,
            a: { t: gy, offset: xAt, rowStride: E, colStride: 1 },
            b: rowMajor(XT, Q),
            c: rowMajor(dM, Q),
            accumulate: false,
          });
          // exp(cum_t − cum_s) as a running product along s from t down (as in the forward)
          for (let s = 1; s < q; s++) stepDecay[s] = Math.exp(cum[s] - cum[s - 1]);
          for (let t = 0; t < q; t++) {
            let e = 1; //                                  exp(cum_t − cum_s)
            for (let s = t; s >= 0; s--) {
              const k = t * Q + s;
              const score = CB.data[k];
              M.data[k] = score * e * dt[s];
              const dMe = dM.data[k] * e;
              dCB.data[k] += dMe * dt[s];
              ddt[s] += dMe * score;
              const w = dMe * score * dt[s];
              dcum[t] += w;
              dcum[s] -= w;
              e *= stepDecay[s];
            }
            for (let s = t + 1; s < q; s++) M.data[t * Q + s] = 0;
          }
          // dX += Mᵀ dY
          m.gemm({
            rows: q,
            cols: P,
            inner: q,
            a: { t: M, offset: 0, rowStride: 1, colStride: Q },
            b: { t: gy, offset: xAt, rowStride: E, colStride: 1 },
            c: { t: dx, offset: xAt, rowStride: E, colStride: 1 },
            accumulate: true,
          });
          // The read-out y_t += w_t S C_t: dC_t += w_t (dY S)_t, and w_t's gradient (dY S)_t · C_t.
          m.gemm({
            rows: q,
            cols: N,
            inner: P,
            a: { t: gy, offset: xAt, rowStride: E, colStride: 1 },
            b: { t: entry, offset: eAt, rowStride: N, colStride: 1 },
            c: rowMajor(dYS, N),
            accumulate: false,
          });
          for (let t = 0; t < q; t++) {
            const w = Math.exp(cum[t]);
            const at = bcAt + t * GN + g * N;
            let dw = 0;
            for (let n = 0; n < N; n++) {
              const v = dYS.data[t * N + n];
              dC.data[at + n] += w * v;
              dw += v * C.data[at + n];
              Cw.data[t * N + n] = w * C.data[at + n];
            }
            dcum[t] += dw * w;
          }
          // The fold S_out = e S + Xᵀ diag(u) B, against dS (S's values for this head).
          m.gemm({
            rows: q,
            cols: N,
            inner: P,
            a: { t: x, offset: xAt, rowStride: E, colStride: 1 },
            b: { t: S, offset: sAt, rowStride: N, colStride: 1 },
            c: rowMajor(XdS, N),
            accumulate: false,
          });
          for (let s = 0; s < q; s++) {
            const f = Math.exp(last - cum[s]);
            const u = dt[s] * f;
            const at = bcAt + s * GN + g * N;
            let du = 0;
            for (let n = 0; n < N; n++) {
              const v = XdS.data[s * N + n];
              dB.data[at + n] += u * v;
              du += v * B.data[at + n];
              Bu.data[s * N + n] = u * B.data[at + n];
            }
            ddt[s] += du * f;
            dcum[q - 1] += du * u;
            dcum[s] -= du * u;
          }
          for (let p = 0; p < P; p++)
            for (let n = 0; n < N; n++) dST.data[n * P + p] = S.data[sAt + p * N + n];
          m.gemm({
            rows: q,
            cols: P,
            inner: N,
            a: rowMajor(Bu, N),
            b: rowMajor(dST, P),
            c: { t: dx, offset: xAt, rowStride: E, colStride: 1 },
            accumulate: true,
          });
          const decay = Math.exp(last);
          let inner = 0; //                            ⟨dS, S_in⟩: e's gradient
          for (let k = 0; k < P * N; k++) inner += S.data[sAt + k] * entry.data[eAt + k];
          dcum[q - 1] += inner * decay;
          // dS_in = e dS + dYᵀ diag(w) C
          for (let k = sAt; k < sAt + P * N; k++) S.data[k] *= decay;
          m.gemm({
            rows: P,
            cols: N,
            inner: q,
            a: { t: gy, offset: xAt, rowStride: 1, colStride: E },
            b: rowMajor(Cw, N),
            c: { t: S, offset: sAt, rowStride: N, colStride: 1 },
            accumulate: true,
          });
          // cum_t = a_0 + … + a_t: a_s's gradient is the sum of cum's from s on; a_s = Δ_s A.
          let da = 0;
          for (let s = q - 1; s >= 0; s--) {
            da += dcum[s];
            const i = (row0 + s) * H + head;
            dDelta[i] = ddt[s] + da * A;
            dA[head] += da * dt[s];
          }
        }
        // The scores C_t · B_s of the group: dC += dCB B, dB += dCBᵀ C.
        m.gemm({
          rows: q,
          cols: N,
          inner: q,
          a: rowMajor(dCB, Q),
          b: { t: B, offset: bcAt + g * N, rowStride: GN, colStride: 1 },
          c: { t: dC, offset: bcAt + g * N, rowStride: GN, colStride: 1 },
          accumulate: true,
        });
        m.gemm({
          rows: q,
          cols: N,
          inner: q,
          a: { t: dCB, offset: 0, rowStride: 1, colStride: Q },
          b: { t: C, offset: bcAt + g * N, rowStride: GN, colStride: 1 },
          c: { t: dB, offset: bcAt + g * N, rowStride: GN, colStride: 1 },
          accumulate: true,
        });
      }
    }
  }
  // The skip y += D x, and Δ's gradient through the clamp and the softplus to dt.
  const dD = new Float64Array(H);
  const ddtBias = new Float64Array(H);
  for (let r = 0; r < batch * L; r++)
    for (let head = 0; head < H; head++) {
      const D = a.D.data[head];
      let sum = 0;
      for (let i = r * E + head * P; i < r * E + (head + 1) * P; i++) {
        dx.data[i] += D * gy.data[i];
        sum += gy.data[i] * x.data[i];
      }
      dD[head] += sum;
      const i = r * H + head;
      const raw = through[i] ? dDelta[i] * sigmoidRaw(a.dt.data[i] + a.dtBias.data[head]) : 0;
      dDelta[i] = raw;
      ddtBias[head] += raw;
    }
  const tensor = (shape: readonly number[], values: Float64Array): Tensor => {
    const t = m.alloc(shape);
    t.data.set(values);
    return t;
  };
  return {
    dx,
    ddt: tensor(a.dt.shape, dDelta),
    dA: tensor(a.A.shape, dA),
    dB,
    dC,
    dD: tensor(a.D.shape, dD),
    ddtBias: tensor(a.dtBias.shape, ddtBias),
  };
}

/**
 * dst (cols × ld) ← the transpose of the rows × cols matrix of src at `from` with row stride
 * `stride`: dst[j·ld + i] = src[from + i·stride + j].
 */
function transposeInto(
  dst: SimdTensor,
  ld: number,
  src: SimdTensor,
  from: number,
  stride: number,
  rows: number,
  cols: number,
  at = 0,
): void {
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) dst.data[at + j * ld + i] = src.data[from + i * stride + j];
}
