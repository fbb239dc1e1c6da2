/**
 * State space duality (Mamba-2, Dao & Gu 2024, arXiv 2405.21060), unchecked and in float64: the
 * algorithms lesson 13 reads and the reference backend's `ssd` op runs. The public, checked
 * versions are in `mamba2/ssd.ts`.
 *
 * With A a scalar per head, a selective SSM on one head is, per position t (P channels, N states):
 *
 *   h_t = exp(a_t) h_{t−1} + x_t B_tᵀ      (P × N)        y_t = h_t C_t      (P)
 *
 * where a_t = Δ_t A ≤ 0 is the log-decay of step t and x_t is already scaled by Δ_t (the
 * discretised input). Unrolled, y = M x with the L × L lower-triangular matrix
 *
 *   M[t, s] = (C_t · B_s) · exp(a_{s+1} + … + a_t)       (s ≤ t; 0 above the diagonal)
 *
 * so attention-like "scores" C Bᵀ masked by the decays L = exp(segsum(a)). The recurrence (linear
 * in L) and this matrix (quadratic in L) are two ways to compute one operator; the chunked
 * algorithm (`state-spaces/mamba`'s `mamba_ssm/modules/ssd_minimal.py`, the paper's Listing 1)
 * uses the matrix inside chunks of Q positions and the recurrence between them.
 *
 * Layout, as `ssd_minimal_discrete`: X (b, l, h, p); a (b, l, h); B, C (b, l, g, n), where head
 * hd reads group ⌊hd / (h / g)⌋ (transformers' `repeat_interleave`); states (b, h, p, n).
 */
import type { Tensor } from "../../tensor";
import type { SsdArgs, SsdGradients } from "../backend";
import { alloc } from "./forward";
import { sigmoidRaw, softplusRaw } from "./scalar";

/** The sizes of one SSD call. */
export interface SsdDims {
  batch: number;
  length: number;
  heads: number;
  headDim: number;
  groups: number;
  dstate: number;
}

/**
 * The stable segment sum of a (T) into out (T × T, row-major): out[i][j] = a_{j+1} + … + a_i for
 * j ≤ i (0 on the diagonal), −∞ above it. Each entry is summed from the segment's own terms
 * (upstream's `segsum`: the masked input's cumulative sum down each column), so a short segment
 * far from the start is as accurate as one at the start. `round` rounds every partial sum
 * (Math.fround: float32 arithmetic; identity: float64).
 */
export function segsumRaw(
  a: ArrayLike<number>,
  out: Float64Array,
  round: (v: number) => number = identity,
): void {
  const T = a.length;
  for (let j = 0; j < T; j++) {
    out[j * T + j] = 0;
    let s = 0;
    for (let i = j + 1; i < T; i++) {
      s = round(s + a[i]);
      out[i * T + j] = s;
    }
    for (let i = 0; i < j; i++) out[i * T + j] = -Infinity;
  }
}

/**
 * The naive segment sum (upstream's `segsum_unstable`): out[i][j] = cumsum_i − cumsum_j. Exact in
 * real numbers, but the difference of two large cumulative sums loses the digits of a short
 * segment late in the sequence (catastrophic cancellation): lesson 13 shows the error.
 */
export function segsumNaiveRaw(
  a: ArrayLike<number>,
  out: Float64Array,
  round: (v: number) => number = identity,
): void {
  const T = a.length;
  const cum = new Float64Array(T);
  let s = 0;
  for (let i = 0; i < T; i++) cum[i] = s = round(s + a[i]);
  for (let i = 0; i < T; i++)
    for (let j = 0; j < T; j++) out[i * T + j] = j <= i ? round(cum[i] - cum[j]) : -Infinity;
}

function identity(v: number): number {
  return v;
}

/** Index helpers of the (b, l, h, p), (b, l, h) and (b, l, g, n) layouts. */
function strides(d: SsdDims) {
  const { length: L, heads: H, headDim: P, groups: G, dstate: N } = d;
  const perGroup = H / G;
  return {
    x: (b: number, t: number, h: number) => ((b * L + t) * H + h) * P,
    a: (b: number, t: number, h: number) => (b * L + t) * H + h,
    bc: (b: number, t: number, h: number) => ((b * L + t) * G + Math.floor(h / perGroup)) * N,
    state: (b: number, h: number) => (b * H + h) * P * N,
  };
}

/**
 * The linear form: the recurrence h_t = exp(a_t) h_{t−1} + x_t B_tᵀ, y_t = h_t C_t, from h0
 * (b, h, p, n) or zeros; writes y (b, l, h, p) and, when given, the final states (b, h, p, n).
 */
export function ssdRecurrenceRaw(
  d: SsdDims,
  X: ArrayLike<number>,
  a: ArrayLike<number>,
  B: ArrayLike<number>,
  C: ArrayLike<number>,
  h0: ArrayLike<number> | null,
  y: Float64Array,
  final: Float64Array | null,
): void {
  const { batch, length, heads, headDim: P, dstate: N } = d;
  const at = strides(d);
  const h = new Float64Array(P * N);
  for (let b = 0; b < batch; b++) {
    for (let hd = 0; hd < heads; hd++) {
      const so = at.state(b, hd);
      for (let i = 0; i < P * N; i++) h[i] = h0 ? h0[so + i] : 0;
      for (let t = 0; t < length; t++) {
        const decay = Math.exp(a[at.a(b, t, hd)]);
        const xo = at.x(b, t, hd);
        const bo = at.bc(b, t, hd);
        for (let p = 0; p < P; p++) {
          let yp = 0;
          for (let n = 0; n < N; n++) {
            const v = decay * h[p * N + n] + X[xo + p] * B[bo + n];
            h[p * N + n] = v;
            yp += v * C[bo + n];
          }
          y[xo + p] = yp;
        }
      }
      if (final) final.set(h, so);
    }
  }
}

/**
 * The quadratic form: y = M x with M[t, s] = (C_t · B_s) exp(segsum(a)[t, s]) (zero initial
 * state), the whole sequence at once: "masked attention" with the decay mask L = exp(segsum(a)).
 * Writes y (b, l, h, p). O(L²) per head.
 */
export function ssdQuadraticRaw(
  d: SsdDims,
  X: ArrayLike<number>,
  a: ArrayLike<number>,
  B: ArrayLike<number>,
  C: ArrayLike<number>,
  y: Float64Array,
): void {
  const { batch, length: L, heads, headDim: P, dstate: N } = d;
  const at = strides(d);
  const aRow = new Float64Array(L);
  const seg = new Float64Array(L * L);
  for (let b = 0; b < batch; b++) {
    for (let hd = 0; hd < heads; hd++) {
      for (let t = 0; t < L; t++) aRow[t] = a[at.a(b, t, hd)];
      segsumRaw(aRow, seg);
      for (let t = 0; t < L; t++) {
        const yo = at.x(b, t, hd);
        const co = at.bc(b, t, hd);
        for (let p = 0; p < P; p++) y[yo + p] = 0;
        for (let s = 0; s <= t; s++) {
          const bo = at.bc(b, s, hd);
          let score = 0; //                                              C_t · B_s
          for (let n = 0; n < N; n++) score += C[co + n] * B[bo + n];
          const m = score * Math.exp(seg[t * L + s]); //                M[t, s]
          const xo = at.x(b, s, hd);
          for (let p = 0; p < P; p++) y[yo + p] += m * X[xo + p];
        }
      }
    }
  }
}

/**
 * The chunked SSD algorithm (`ssd_minimal_discrete`): positions in chunks of Q (the last chunk
 * shorter when Q does not divide l), per head:
 *
 *   1. intra-chunk output (diagonal blocks): the quadratic form inside each chunk,
 *      Y_diag[t] = Σ_{s ≤ t in the chunk} (C_t · B_s) exp(segsum(a)[t, s]) x_s;
 *   2. chunk states (right factor of the off-diagonal blocks): what each chunk alone leaves in
 *      the state, S_c = Σ_s exp(Σ a from s+1 to the chunk's end) x_s B_sᵀ;
 *   3. the inter-chunk recurrence: the state entering chunk c + 1 is
 *      h_{c+1} = exp(Σ a over chunk c) h_c + S_c, a scan of length ⌈l/Q⌉ over (p × n) states
 *      (upstream writes it as one more segsum matrix over the chunks, `decay_chunk`);
 *   4. state to output (left factor): Y_off[t] = exp(Σ a from the chunk's start to t) h_c C_t.
 *
 * y = Y_diag + Y_off. Here each chunk runs the four steps in turn; upstream runs each step for
 * all chunks at once (the same arithmetic). Starts from h0 (b, h, p, n) or zeros; writes y
 * (b, l, h, p) and, when given, the final states (b, h, p, n). Steps 1, 2 and 4 are matrix
 * products of Q × Q, Q × n and Q × p blocks: the scan's work moves into matrix multiplications.
 */
export function ssdChunkedRaw(
  d: SsdDims,
  X: ArrayLike<number>,
  a: ArrayLike<number>,
  B: ArrayLike<number>,
  C: ArrayLike<number>,
  chunk: number,
  h0: ArrayLike<number> | null,
  y: Float64Array,
  final: Float64Array | null,
): void {
  const { batch, length: L, heads, headDim: P, dstate: N } = d;
  const at = strides(d);
  const chunks = Math.ceil(L / chunk);
  const seg = new Float64Array(chunk * chunk); //     segsum of one chunk, (Q, Q)
  const cum = new Float64Array(chunk); //             cumulative a inside the chunk, (Q)
  const aChunk = new Float64Array(chunk);
  const states = new Float64Array((chunks + 1) * P * N); // h entering each chunk, then the final
  const chunkState = new Float64Array(P * N); //      S_c, (p, n)
  for (let b = 0; b < batch; b++) {
    for (let hd = 0; hd < heads; hd++) {
      states.fill(0);
      if (h0) for (let i = 0; i < P * N; i++) states[i] = h0[at.state(b, hd) + i];
      for (let c = 0; c < chunks; c++) {
        const t0 = c * chunk;
        const q = Math.min(chunk, L - t0); //          this chunk's length
        let s = 0;
        for (let i = 0; i < q; i++) {
          aChunk[i] = a[at.a(b, t0 + i, hd)];
          cum[i] = s += aChunk[i];
        }
        // 1. Y_diag: the quadratic form on the chunk.
        segsumRaw(aChunk.subarray(0, q), seg);
        for (let i = 0; i < q; i++) {
          const yo = at.x(b, t0 + i, hd);
          const co = at.bc(b, t0 + i, hd);
          for (let p = 0; p < P; p++) y[yo + p] = 0;
          for (let j = 0; j <= i; j++) {
            const bo = at.bc(b, t0 + j, hd);
            let score = 0;
            for (let n = 0; n < N; n++) score += C[co + n] * B[bo + n];
            const m = score * Math.exp(seg[i * q + j]);
            const xo = at.x(b, t0 + j, hd);
            for (let p = 0; p < P; p++) y[yo + p] += m * X[xo + p];
          }
        }
        // 2. S_c = Σ_j exp(cum[q−1] − cum[j]) x_j B_jᵀ.
        chunkState.fill(0);
        for (let j = 0; j < q; j++) {
          const w = Math.exp(cum[q - 1] - cum[j]);
          const xo = at.x(b, t0 + j, hd);
          const bo = at.bc(b, t0 + j, hd);
          for (let p = 0; p < P; p++) {
            const wx = w * X[xo + p];
            for (let n = 0; n < N; n++) chunkState[p * N + n] += wx * B[bo + n];
          }
        }
        // 3. One step of the inter-chunk recurrence: h_{c+1} = exp(Σ a) h_c + S_c.
        const chunkDecay = Math.exp(cum[q - 1]);
        const hc = c * P * N;
        const next = hc + P * N;
        for (let i = 0; i < P * N; i++)
          states[next + i] = chunkDecay * states[hc + i] + chunkState[i];
        // 4. Y_off[t] = exp(cum[t]) h_c C_t.
        for (let i = 0; i < q; i++) {
          const w = Math.exp(cum[i]);
          const yo = at.x(b, t0 + i, hd);
          const co = at.bc(b, t0 + i, hd);
          for (let p = 0; p < P; p++) {
            let v = 0;
            for (let n = 0; n < N; n++) v += states[hc + p * N + n] * C[co + n];
            y[yo + p] += w * v;
          }
        }
      }
      if (final) final.set(states.subarray(chunks * P * N, (chunks + 1) * P * N), at.state(b, hd));
    }
  }
}

/** The sizes of an {@link SsdArgs} call. */
function argsDims(a: SsdArgs): SsdDims {
  const [batch, length, width] = a.x.shape;
  const heads = a.A.data.length;
  return {
    batch,
    length,
    heads,
    headDim: width / heads,
    groups: a.groups,
    dstate: a.B.shape[2] / a.groups,
  };
}

/**
 * Δ = clamp(softplus(dt + dtBias), dtLimit), (b, l, H) flattened, and whether the clamp let it
 * through (its gradient reaches dt): the SSD op's step sizes, for every backend.
 */
export function ssdStepSizes(a: SsdArgs): { delta: Float64Array; through: Uint8Array } {
  const n = a.dt.data.length;
  const heads = a.A.data.length;
  const delta = new Float64Array(n);
  const through = new Uint8Array(n);
  const [lo, hi] = a.dtLimit;
  for (let i = 0; i < n; i++) {
    const v = softplusRaw(a.dt.data[i] + a.dtBias.data[i % heads]);
    through[i] = v >= lo && v <= hi ? 1 : 0;
    delta[i] = Math.min(Math.max(v, lo), hi);
  }
  return { delta, through };
}

/**
 * The reference backend's SSD op (`Backend.ssd`, see {@link SsdArgs}): discretise (X = Δ·x,
 * a = Δ·A, transformers' `mamba2_chunk_scan`), run {@link ssdChunkedRaw} from `state`
 * (b, H, P, N) or zeros, add D·x. With a state, leaves the final state in it (decoding).
 * Returns (b, l, H·P) in x's dtype.
 */
export function ssd(a: SsdArgs, state: Tensor | null): Tensor {
  const d = argsDims(a);
  const { heads: H, headDim: P } = d;
  const { delta } = ssdStepSizes(a);
  const X = new Float64Array(a.x.data.length); //            Δ x, (b, l, H, P)
  const logDecay = new Float64Array(delta.length); //        Δ A, (b, l, H)
  for (let i = 0; i < delta.length; i++) {
    logDecay[i] = delta[i] * a.A.data[i % H];
    for (let p = 0; p < P; p++) X[i * P + p] = delta[i] * a.x.data[i * P + p];
  }
  const y = new Float64Array(X.length);
  const final = state ? new Float64Array(state.data.length) : null;
  ssdChunkedRaw(d, X, logDecay, a.B.data, a.C.data, a.chunkSize, state?.data ?? null, y, final);
  if (state && final) state.data.set(final);
  const out = alloc(a.x, y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i] + a.D.data[Math.floor(i / P) % H] * a.x.data[i];
  return { shape: [...a.x.shape], data: out };
}

/**
 * Backward of {@link ssd} (no initial state: training runs whole sequences), by the recurrence
 * run backward, one head at a time: the states h_t are recomputed forward, then with
 * dh_t = ∂loss/∂h_t (from y_t and from h_{t+1} = exp(Δ_{t+1}A) h_t + …):
 *
 *   dh_t = g_t C_tᵀ + exp(Δ_{t+1}A) dh_{t+1}        dC_t = h_tᵀ g_t        dD = Σ_t g_t · x_t
 *   dx_t = D g_t + Δ_t dh_t B_t                     dB_t = Δ_t dh_tᵀ x_t
 *   dΔ_t = x_t · dh_t B_t + A exp(Δ_t A) ⟨dh_t, h_{t−1}⟩    dA = Σ_t Δ_t exp(Δ_t A) ⟨dh_t, h_{t−1}⟩
 *
 * then through the clamp and the softplus: ∂dt = dΔ · σ(dt + dtBias) where the clamp let Δ
 * through, 0 where it cut it; dtBias gets the sum over positions. Float64 sums; gradients in the
 * inputs' dtypes.
 */
export function ssdBackward(a: SsdArgs, g: Tensor): SsdGradients {
  const d = argsDims(a);
  const { batch, length: L, heads: H, headDim: P, dstate: N } = d;
  const at = strides(d);
  const { delta, through } = ssdStepSizes(a);
  const dx = new Float64Array(a.x.data.length);
  const ddt = new Float64Array(a.dt.data.length);
  const dA = new Float64Array(H);
  const dB = new Float64Array(a.B.data.length);
  const dC = new Float64Array(a.C.data.length);
  const dD = new Float64Array(H);
  const ddtBias = new Float64Array(H);
  const x = a.x.data;
  const B = a.B.data;
  const C = a.C.data;
  const states = new Float64Array((L + 1) * P * N); // h_{−1} = 0, h_0, …, h_{L−1}
  const dh = new Float64Array(P * N);
  for (let b = 0; b < batch; b++) {
    for (let hd = 0; hd < H; hd++) {
      const A = a.A.data[hd];
      const D = a.D.data[hd];
      // Forward: the states h_t at (t + 1) · P · N.
      for (let t = 0; t < L; t++) {
        const i = at.a(b, t, hd);
        const decay = Math.exp(delta[i] * A);
        const xo = at.x(b, t, hd);
        const bo = at.bc(b, t, hd);
        const prev = t * P * N;
        const cur = prev + P * N;
        for (let p = 0; p < P; p++) {
          const dxp = delta[i] * x[xo + p];
          for (let n = 0; n < N; n++)
            states[cur + p * N + n] = decay * states[prev + p * N + n] + dxp * B[bo + n];
        }
      }
      // Backward.
      dh.fill(0);
      for (let t = L - 1; t >= 0; t--) {
        const i = at.a(b, t, hd);
        const xo = at.x(b, t, hd);
        const bo = at.bc(b, t, hd);
        const prev = t * P * N;
        const cur = prev + P * N;
        let dDelta = 0;
        for (let p = 0; p < P; p++) {
          const gp = g.data[xo + p];
          dD[hd] += gp * x[xo + p];
          dx[xo + p] += D * gp;
          let hB = 0; //                                       (dh_t B_t)[p]
          for (let n = 0; n < N; n++) {
            dC[bo + n] += gp * states[cur + p * N + n];
            const v = (dh[p * N + n] += gp * C[bo + n]);
            hB += v * B[bo + n];
            dB[bo + n] += v * delta[i] * x[xo + p];
          }
          dx[xo + p] += delta[i] * hB;
          dDelta += x[xo + p] * hB;
        }
        const decay = Math.exp(delta[i] * A);
        let inner = 0; //                                      ⟨dh_t, h_{t−1}⟩
        for (let k = 0; k < P * N; k++) inner += dh[k] * states[prev + k];
        dDelta += A * decay * inner;
        dA[hd] += delta[i] * decay * inner;
        for (let k = 0; k < P * N; k++) dh[k] *= decay;
        const raw = through[i] ? dDelta * sigmoidRaw(a.dt.data[i] + a.dtBias.data[hd]) : 0;
        ddt[i] = raw;
        ddtBias[hd] += raw;
      }
    }
  }
  const as = (like: Tensor, data: Float64Array): Tensor => {
    const out = alloc(like, data.length);
    out.set(data);
    return { shape: [...like.shape], data: out };
  };
  return {
    dx: as(a.x, dx),
    ddt: as(a.dt, ddt),
    dA: as(a.A, dA),
    dB: as(a.B, dB),
    dC: as(a.C, dC),
    dD: as(a.D, dD),
    ddtBias: as(a.dtBias, ddtBias),
  };
}
