/**
 * Mamba-2's SSD op on the simd backend: the forward by the chunked algorithm on the gemm, the
 * backward by the selective scan.
 *
 * **Forward: the chunked algorithm on the gemm** ({@link ssdChunkedGemm}, {@link chunkedGemm}:
 * the reference's `ssdChunkedRaw`, the paper's Listing 1), for any state size, a clamped Δ and a
 * decoding state: per batch element and chunk of Q positions, the scores C Bᵀ of each group
 * (Q × Q), then per head the masked scores times the chunk's inputs (Q × Q by Q × P), the state
 * entering the chunk read out by the chunk's C (P × N by N × Q) and the chunk's inputs folded into
 * the state (P × Q by Q × N), all on the register-blocked gemm of `./kernels.ts`; the decay mask,
 * the Δ scaling and the state's decay are TypeScript loops over the same memory (O(Q²) and
 * O(P·N) per head and chunk, against the products' O(Q²·P + Q·P·N)). One position (a decoding
 * step) is the `ssdStep` kernel instead: one pass over each head's state.
 *
 * **Backward: as the selective scan** the SSD is a special case of (lesson 13):
 * per head h, h_t = exp(Δ_t A_h) h_{t−1} + Δ_t x_t B_tᵀ, y_t = h_t C_t + D_h x_t is Mamba-1's scan
 * on the head's P channels with
 *
 *   u = x (its channels),  Δ_e = Δ_h and D_e = D_h for each channel e of head h,
 *   A_{e,n} = A_h for every state n,  B, C = the head's group's (b, l, N),  no gate,
 *
 * so the scan's kernels (`./kernels.ts`, forward keeping chunk-boundary states, backward
 * recomputing inside chunks) run it, one group of heads at a time. The gradients come back per
 * channel and are summed over each head's channels (and states, for A). It pays an exponential
 * per channel and state (E·N per position) where SSD needs one per head (H per position). It
 * needs Δ unclamped (`dtLimit` (0, ∞), the default: softplus is never below 0) and N within the
 * scan kernels' limit; the backend runs the reference backward otherwise.
 */
import type { Tensor } from "../../tensor";
import type { Backend, ScanArgs, SsdArgs, SsdGradients } from "../backend";
import { softplusRaw } from "../reference/scalar";
import { type SimdMemory, type SimdTensor, rowMajor } from "./memory";

/** Chunk length of the scan's recomputation in the backward pass. */
const CHUNK = 64;

/** Whether {@link ssdAsScanBackward} computes `a` exactly (see the module comment). */
export function ssdFitsScan(a: SsdArgs, maxState: number): boolean {
  const [lo, hi] = a.dtLimit;
  return lo <= 0 && hi === Infinity && a.B.shape[2] / a.groups <= maxState;
}

/** The sizes of an SSD call. */
function dims(a: SsdArgs) {
  const [b, l, E] = a.x.shape;
  const H = a.A.data.length;
  const G = a.groups;
  const N = a.B.shape[2] / G;
  const P = E / H;
  return { b, l, E, H, G, N, P, Hg: H / G, Eg: E / G };
}

/** The scan arguments of group g (see the module comment), in `backend`'s memory. */
function groupScanArgs(backend: Backend, a: SsdArgs, g: number): ScanArgs {
  const { b, l, E, H, G, N, P, Hg, Eg } = dims(a);
  const rows = b * l;
  const u = backend.zeros([b, l, Eg], a.x);
  const delta = backend.zeros([b, l, Eg], a.x);
  const B = backend.zeros([b, l, N], a.x);
  const C = backend.zeros([b, l, N], a.x);
  for (let r = 0; r < rows; r++) {
    u.data.set(a.x.data.subarray(r * E + g * Eg, r * E + (g + 1) * Eg), r * Eg);
    B.data.set(a.B.data.subarray(r * G * N + g * N, r * G * N + (g + 1) * N), r * N);
    C.data.set(a.C.data.subarray(r * G * N + g * N, r * G * N + (g + 1) * N), r * N);
    for (let h = 0; h < Hg; h++)
      delta.data.fill(a.dt.data[r * H + g * Hg + h], r * Eg + h * P, r * Eg + (h + 1) * P);
  }
  const A = backend.zeros([Eg, N], a.x);
  const D = backend.zeros([Eg], a.x);
  const deltaBias = backend.zeros([Eg], a.x);
  for (let h = 0; h < Hg; h++) {
    const head = g * Hg + h;
    A.data.fill(a.A.data[head], h * P * N, (h + 1) * P * N);
    D.data.fill(a.D.data[head], h * P, (h + 1) * P);
    deltaBias.data.fill(a.dtBias.data[head], h * P, (h + 1) * P);
  }
  return { u, delta, A, B, C, D, z: null, deltaBias };
}

/**
 * The SSD op's backward (`Backend.ssdBackward`) by the scan: its forward again, keeping the
 * chunk-boundary states, then its backward recomputing inside each chunk.
 */
export function ssdAsScanBackward(backend: Backend, a: SsdArgs, grad: Tensor): SsdGradients {
  const { b, l, E, H, G, N, P, Hg, Eg } = dims(a);
  const rows = b * l;
  const dx = backend.zeros(a.x.shape, a.x);
  const ddt = backend.zeros(a.dt.shape, a.dt);
  const dA = backend.zeros(a.A.shape, a.A);
  const dB = backend.zeros(a.B.shape, a.B);
  const dC = backend.zeros(a.C.shape, a.C);
  const dD = backend.zeros(a.D.shape, a.D);
  const ddtBias = backend.zeros(a.dtBias.shape, a.dtBias);
  for (let g = 0; g < G; g++) {
    const args = groupScanArgs(backend, a, g);
    const { saved } = backend.selectiveScanTrain(args, { strategy: "recompute", chunkSize: CHUNK });
    const gg = backend.zeros([b, l, Eg], grad);
    for (let r = 0; r < rows; r++)
      gg.data.set(grad.data.subarray(r * E + g * Eg, r * E + (g + 1) * Eg), r * Eg);
    const d = backend.selectiveScanBackward(args, saved, gg);
    for (let r = 0; r < rows; r++) {
      dx.data.set(d.du.data.subarray(r * Eg, (r + 1) * Eg), r * E + g * Eg);
      dB.data.set(d.dB.data.subarray(r * N, (r + 1) * N), r * G * N + g * N);
      dC.data.set(d.dC.data.subarray(r * N, (r + 1) * N), r * G * N + g * N);
      for (let h = 0; h < Hg; h++) {
        let s = 0; // Δ_h reaches each of the head's channels: its gradient is their sum
        for (let p = 0; p < P; p++) s += d.ddelta.data[r * Eg + h * P + p];
        ddt.data[r * H + g * Hg + h] = s;
      }
    }
    for (let h = 0; h < Hg; h++) {
      const head = g * Hg + h;
      let sA = 0;
      let sD = 0;
      let sBias = 0;
      for (let k = h * P * N; k < (h + 1) * P * N; k++) sA += d.dA.data[k];
      for (let e = h * P; e < (h + 1) * P; e++) {
        sD += d.dD.data[e];
        sBias += d.ddeltaBias.data[e];
      }
      dA.data[head] = sA;
      dD.data[head] = sD;
      ddtBias.data[head] = sBias;
    }
  }
  return { dx, ddt, dA, dB, dC, dD, ddtBias };
}

/**
 * The SSD op (`Backend.ssd`) by the chunked algorithm with its products on the gemm (see the
 * module comment), in `m`'s memory; from `state` (b, H, P, N) when given, which is then updated
 * in place to the state after the last position. Returns y (b, l, E).
 */
export function ssdChunkedGemm(m: SimdMemory, a: SsdArgs, state: Tensor | null): SimdTensor {
  const { b: batch, l: L, E, H, G, N, P } = dims(a);
  // Δ = clamp(softplus(dt + dt_bias)) and the log-decays Δ A, per position and head.
  const [lo, hi] = a.dtLimit;
  const delta = new Float64Array(batch * L * H);
  const logDecay = new Float64Array(delta.length);
  for (let i = 0; i < delta.length; i++) {
    const head = i % H;
    delta[i] = Math.min(Math.max(softplusRaw(a.dt.data[i] + a.dtBias.data[head]), lo), hi);
    logDecay[i] = delta[i] * a.A.data[head];
  }
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
): SimdTensor {
  const { batch, L, H, P, G, N } = d;
  const E = H * P;
  const GN = G * N;
  const Hg = H / G;
  const Q = Math.max(1, Math.min(d.Q, L));
  const S = state ? m.inPlace(state) : m.zeros([batch, H, P, N]); // the state entering the chunk
  const y = m.alloc([batch, L, E]);
  if (L === 1) {
    chunkedStep(m, d, x, delta, logDecay, B, C, S, y);
    if (state && S.data !== state.data) state.data.set(S.data);
    return y;
  }
  const BT = m.alloc([N, Q]); //                       one group's B of the chunk, transposed
  const CT = m.alloc([N, Q]); //                       and its C
  const CB = m.alloc([Q, Q]); //                       the group's scores C_t · B_s
  const M = m.alloc([Q, Q]); //                        one head's masked scores
  const Bw = m.alloc([Q, N]); //                       B_s · Δ_s · (decay from s to the chunk's end)
  const readOut = m.alloc([P, Q]); //                  S C_t for the chunk's positions
  const dt = new Float64Array(Q); //                   Δ inside the chunk
  const cum = new Float64Array(Q); //                  a_0 + … + a_t inside the chunk
  const yd = y.data;
  const Sd = S.data;
  for (let bi = 0; bi < batch; bi++) {
    for (let t0 = 0; t0 < L; t0 += Q) {
      const q = Math.min(Q, L - t0);
      const row0 = bi * L + t0;
      for (let g = 0; g < G; g++) {
        for (let s = 0; s < q; s++)
          for (let n = 0; n < N; n++) {
            BT.data[n * Q + s] = B.data[(row0 + s) * GN + g * N + n];
            CT.data[n * Q + s] = C.data[(row0 + s) * GN + g * N + n];
          }
        m.gemm({
          rows: q,
          cols: q,
          inner: N,
          a: { t: C, offset: row0 * GN + g * N, rowStride: GN, colStride: 1 },
          b: rowMajor(BT, Q),
          c: rowMajor(CB, Q),
          accumulate: false,
        });
        for (let hh = 0; hh < Hg; hh++) {
          const head = g * Hg + hh;
          let sum = 0;
          for (let s = 0; s < q; s++) {
            const i = (row0 + s) * H + head;
            dt[s] = delta ? delta[i] : 1;
            cum[s] = sum += logDecay[i];
          }
          const xAt = row0 * E + head * P; //          the head's channels at the chunk's start
          const sAt = (bi * H + head) * P * N;
          // y_t = exp(cum_t) S C_t: the state entering the chunk, decayed to t, read out.
          m.gemm({
            rows: P,
            cols: q,
            inner: N,
            a: { t: S, offset: sAt, rowStride: N, colStride: 1 },
            b: rowMajor(CT, Q),
            c: rowMajor(readOut, Q),
            accumulate: false,
          });
          for (let t = 0; t < q; t++) {
            const w = Math.exp(cum[t]);
            for (let p = 0; p < P; p++) yd[xAt + t * E + p] = w * readOut.data[p * Q + t];
          }
          // y += M x with M[t, s] = C_t · B_s · exp(cum_t − cum_s) · Δ_s for s ≤ t.
          for (let t = 0; t < q; t++) {
            for (let s = 0; s <= t; s++)
              M.data[t * Q + s] = CB.data[t * Q + s] * Math.exp(cum[t] - cum[s]) * dt[s];
            for (let s = t + 1; s < q; s++) M.data[t * Q + s] = 0;
          }
          m.gemm({
            rows: q,
            cols: P,
            inner: q,
            a: { t: M, offset: 0, rowStride: Q, colStride: 1 },
            b: { t: x, offset: xAt, rowStride: E, colStride: 1 },
            c: { t: y, offset: xAt, rowStride: E, colStride: 1 },
            accumulate: true,
          });
          // S ← exp(cum_{q−1}) S + Σ_s x_s (Δ_s exp(cum_{q−1} − cum_s) B_s)ᵀ.
          const decay = Math.exp(cum[q - 1]);
          for (let i = sAt; i < sAt + P * N; i++) Sd[i] *= decay;
          for (let s = 0; s < q; s++) {
            const w = dt[s] * Math.exp(cum[q - 1] - cum[s]);
            for (let n = 0; n < N; n++) Bw.data[s * N + n] = w * BT.data[n * Q + s];
          }
          m.gemm({
            rows: P,
            cols: N,
            inner: q,
            a: { t: x, offset: xAt, rowStride: 1, colStride: E },
            b: rowMajor(Bw, N),
            c: { t: S, offset: sAt, rowStride: N, colStride: 1 },
            accumulate: true,
          });
        }
      }
    }
  }
  if (state && Sd !== state.data) state.data.set(Sd);
  return y;
}

/**
 * One position (a decoding step) of {@link chunkedGemm}: per head, the `ssdStep` kernel runs
 * h ← exp(a) h + Δ x Bᵀ and y = h C in one pass over the head's state (a product of one
 * position would be all edges for the gemm).
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
): void {
  const { batch, H, P, G, N } = d;
  const E = H * P;
  const Hg = H / G;
  const dx = m.alloc([P]);
  for (let bi = 0; bi < batch; bi++)
    for (let head = 0; head < H; head++) {
      const i = bi * H + head;
      const dt = delta ? delta[i] : 1;
      const xAt = bi * E + head * P;
      for (let p = 0; p < P; p++) dx.data[p] = dt * x.data[xAt + p];
      m.ssdStep({
        P,
        N,
        S,
        s: i * P * N,
        B,
        C,
        bc: (bi * G + Math.floor(head / Hg)) * N,
        decay: Math.exp(logDecay[i]),
        dx,
        y,
        yAt: xAt,
      });
    }
}
