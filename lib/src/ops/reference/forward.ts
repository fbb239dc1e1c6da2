/**
 * The reference backend's forward ops: plain loops, sums in float64, results in the dtype of the
 * first tensor argument (float32 or float64). Unchecked: see `ops/backend.ts`. Each op is the
 * PyTorch function named in its comment, in PyTorch's layouts (a Linear weight is (out, in), a
 * depthwise Conv1d weight (channels, 1, k)); activations are token-major (b, l, channels).
 */
import type { FloatArray, Tensor } from "../../tensor";
import { siluRaw, softplusRaw } from "./scalar";
import { type SelectiveScanShapes, type SeqLayout, tokenMajorShapes } from "./layout";
import type { ScanArgs, Weight } from "../backend";
import { isHalfTensor, widenHalf, widenInto } from "../../half";

/** A new array of `like`'s dtype. */
export function alloc(like: Tensor, n: number): FloatArray {
  return like.data instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
}

/** Rows of a (..., last) tensor. */
export function rowsOf(shape: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length - 1; i++) n *= shape[i];
  return n;
}

/**
 * `nn.Embedding`: out[b, l, :] = weight[ids[b·L + l], :] → (b, l, d); a 16-bit weight's rows are
 * widened to float32.
 */
export function embedding(ids: Int32Array, batch: number, length: number, weight: Weight): Tensor {
  const d = weight.shape[1];
  if (isHalfTensor(weight)) {
    const out = new Float32Array(ids.length * d);
    for (let i = 0; i < ids.length; i++)
      widenInto(weight.data, weight.format, ids[i] * d, d, out, i * d);
    return { shape: [batch, length, d], data: out };
  }
  const out = alloc(weight, ids.length * d);
  for (let i = 0; i < ids.length; i++)
    out.set(weight.data.subarray(ids[i] * d, ids[i] * d + d), i * d);
  return { shape: [batch, length, d], data: out };
}

/**
 * `F.linear`: y[..., o] = Σ_i x[..., i] W[o, i] + bias[o] → (..., out). A 16-bit weight is widened
 * to float32 first (a copy per call: the reference is for checking, not for speed).
 */
export function linear(x: Tensor, w: Weight, bias: Tensor | null): Tensor {
  const weight = isHalfTensor(w) ? widenHalf(w) : w;
  const [outDim, inDim] = weight.shape;
  const rows = rowsOf(x.shape);
  const out = alloc(x, rows * outDim);
  const xd = x.data;
  const wd = weight.data;
  for (let r = 0; r < rows; r++) {
    const xo = r * inDim;
    const yo = r * outDim;
    let o = 0;
    // Four output features at a time: each x value is loaded once for four weight rows.
    for (; o + 4 <= outDim; o += 4) {
      const w0 = o * inDim;
      const w1 = w0 + inDim;
      const w2 = w1 + inDim;
      const w3 = w2 + inDim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < inDim; i++) {
        const xi = xd[xo + i];
        s0 += xi * wd[w0 + i];
        s1 += xi * wd[w1 + i];
        s2 += xi * wd[w2 + i];
        s3 += xi * wd[w3 + i];
      }
      out[yo + o] = s0 + (bias ? bias.data[o] : 0);
      out[yo + o + 1] = s1 + (bias ? bias.data[o + 1] : 0);
      out[yo + o + 2] = s2 + (bias ? bias.data[o + 2] : 0);
      out[yo + o + 3] = s3 + (bias ? bias.data[o + 3] : 0);
    }
    for (; o < outDim; o++) {
      const wo = o * inDim;
      let s = 0;
      for (let i = 0; i < inDim; i++) s += xd[xo + i] * wd[wo + i];
      out[yo + o] = s + (bias ? bias.data[o] : 0);
    }
  }
  return { shape: [...x.shape.slice(0, -1), outDim], data: out };
}

/** RMSNorm: y[..., j] = x[..., j] / sqrt(mean_j(x²) + eps) · w[j]. */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const d = x.shape[x.shape.length - 1];
  const out = alloc(x, x.data.length);
  const rows = d === 0 ? 0 : x.data.length / d;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x.data[o + j] * x.data[o + j];
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) out[o + j] = x.data[o + j] * inv * weight.data[j];
  }
  return { shape: [...x.shape], data: out };
}

/** Elementwise f, x's shape and dtype. */
function map(x: Tensor, f: (v: number) => number): Tensor {
  const out = alloc(x, x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(x.data[i]);
  return { shape: [...x.shape], data: out };
}

/** `F.silu`: x · σ(x). */
export function silu(x: Tensor): Tensor {
  return map(x, siluRaw);
}

/** −exp(x): Mamba's A = −exp(A_log). */
export function negExp(x: Tensor): Tensor {
  return map(x, (v) => -Math.exp(v));
}

/** a + b, elementwise (the residual connection). */
export function add(a: Tensor, b: Tensor): Tensor {
  const out = alloc(a, a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
  return { shape: [...a.shape], data: out };
}

/** a ⊙ b, elementwise. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const out = alloc(a, a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] * b.data[i];
  return { shape: [...a.shape], data: out };
}

/** `torch.split(x, sizes, dim=-1)`, as copies. */
export function split(x: Tensor, sizes: readonly number[]): Tensor[] {
  const last = x.shape[x.shape.length - 1];
  const rows = rowsOf(x.shape);
  let offset = 0;
  return sizes.map((s) => {
    const out = alloc(x, rows * s);
    for (let r = 0; r < rows; r++)
      out.set(x.data.subarray(r * last + offset, r * last + offset + s), r * s);
    offset += s;
    return { shape: [...x.shape.slice(0, -1), s], data: out };
  });
}

/** `torch.cat(parts, dim=-1)`: the inverse of {@link split}. */
export function concat(parts: readonly Tensor[]): Tensor {
  const sizes = parts.map((p) => p.shape[p.shape.length - 1]);
  const total = sizes.reduce((a, s) => a + s, 0);
  const rows = rowsOf(parts[0].shape);
  const out = alloc(parts[0], rows * total);
  let offset = 0;
  parts.forEach((p, k) => {
    for (let r = 0; r < rows; r++)
      out.set(p.data.subarray(r * sizes[k], (r + 1) * sizes[k]), r * total + offset);
    offset += sizes[k];
  });
  return { shape: [...parts[0].shape.slice(0, -1), total], data: out };
}

/** x[:, -1:, :]: (b, l, d) → (b, 1, d). */
export function lastPosition(x: Tensor): Tensor {
  const [b, l, d] = x.shape;
  const out = alloc(x, b * d);
  for (let i = 0; i < b; i++) out.set(x.data.subarray((i * l + l - 1) * d, (i * l + l) * d), i * d);
  return { shape: [b, 1, d], data: out };
}

/**
 * Mamba's short convolution, `nn.Conv1d(C, C, k, groups=C, padding=k-1)` keeping the first l
 * outputs, on any layout of (batch, channel, position):
 *
 *   y[c, t] = bias[c] + Σ_{j=0}^{k−1} w[c, 0, j] · x[c, t − (k−1) + j]
 *
 * with x before position 0 read from `state` (b, C, k), the last k inputs of an earlier call,
 * oldest first (zeros: a fresh sequence). With a state, it is left holding the last k inputs
 * (`Mamba.step`'s conv_state), which is how decoding continues a sequence.
 */
export function convInLayout(
  x: FloatArray,
  layout: SeqLayout,
  batch: number,
  channels: number,
  length: number,
  w: FloatArray,
  k: number,
  bias: FloatArray | null,
  state: FloatArray | null,
  out: FloatArray,
): void {
  const { lStride } = layout;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const row = layout.base(b, c);
      const wo = c * k;
      const so = (b * channels + c) * k;
      const b0 = bias ? bias[c] : 0;
      for (let t = 0; t < length; t++) {
        let s = b0;
        for (let j = 0; j < k; j++) {
          const src = t - (k - 1) + j;
          if (src >= 0) s += w[wo + j] * x[row + src * lStride];
          else if (state) s += w[wo + j] * state[so + k + src];
        }
        out[row + t * lStride] = s;
      }
      if (state) {
        // The last k inputs: the tail of [state, x].
        for (let j = 0; j < k; j++) {
          const src = length - k + j;
          state[so + j] = src >= 0 ? x[row + src * lStride] : state[so + k + src];
        }
      }
    }
  }
}

/** The conv of {@link convInLayout} on token-major x (b, l, C) → (b, l, C). */
export function causalConv1d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  state: Tensor | null,
): Tensor {
  const [batch, length, channels] = x.shape;
  const out = alloc(x, x.data.length);
  const layout = { lStride: channels, base: (b: number, c: number) => b * length * channels + c };
  const k = weight.shape[2];
  const s = state ? state.data : null;
  convInLayout(x.data, layout, batch, channels, length, weight.data, k, bias?.data ?? null, s, out);
  return { shape: [batch, length, channels], data: out };
}

/** The numbers of a scan's arguments (any layout: see {@link SelectiveScanShapes}). */
export interface ScanData {
  u: FloatArray;
  delta: FloatArray;
  A: FloatArray;
  B: FloatArray;
  C: FloatArray;
  D: FloatArray | null;
  z: FloatArray | null;
  bias: FloatArray | null;
  softplus: boolean;
}

/**
 * The selective scan's recurrence (lesson 06, `selective/scan.ts` states it), unchecked, in any layout `s` describes: writes out (in u's
 * layout), starting each channel from the state h0 (b, d, n) or from zero, and leaves the final
 * states in `last` (b, d, n) when given. Float64 arithmetic whatever the arrays' types.
 */
export function scanRecurrence(
  p: ScanData,
  s: SelectiveScanShapes,
  out: FloatArray,
  h0: FloatArray | null,
  last: FloatArray | null,
): void {
  const { batch, dim, length, dstate, X, B, C } = s;
  const x = new Float64Array(dstate);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const hOffset = (b * dim + d) * dstate;
      if (h0) for (let n = 0; n < dstate; n++) x[n] = h0[hOffset + n];
      else x.fill(0);
      const row = X.base(b, d);
      const aRow = d * dstate;
      const bBase = B.base(b, d);
      const cBase = C.base(b, d);
      const db = p.bias ? p.bias[d] : 0;
      const skip = p.D ? p.D[d] : 0;
      for (let l = 0; l < length; l++) {
        const i = row + l * X.lStride;
        let dt = p.delta[i] + db;
        if (p.softplus) dt = softplusRaw(dt);
        const ut = p.u[i];
        const dtu = dt * ut;
        const bl = bBase + l * B.lStride;
        const cl = cBase + l * C.lStride;
        let y = 0;
        for (let n = 0; n < dstate; n++) {
          const h = Math.exp(dt * p.A[aRow + n]) * x[n] + dtu * p.B[bl + n * B.nStride];
          x[n] = h;
          y += h * p.C[cl + n * C.nStride];
        }
        let o = y + skip * ut;
        if (p.z) o *= siluRaw(p.z[i]);
        out[i] = o;
      }
      if (last) last.set(x, hOffset);
    }
  }
}

/**
 * The selective scan on token-major arguments (`ScanArgs`), starting from `state` (b, E, N) when
 * given and leaving the final state in it: the recurrence of lesson 06 (`scanRecurrence`), one
 * implementation for both layouts.
 */
export function selectiveScan(a: ScanArgs, state: Tensor | null): Tensor {
  const { shapes, data } = tokenMajorScan(a);
  const out = alloc(a.u, a.u.data.length);
  const s = state ? state.data : null;
  scanRecurrence(data, shapes, out, s, s);
  return { shape: [...a.u.shape], data: out };
}

/** The numbers and layout of a token-major {@link ScanArgs} (Δ with bias and softplus). */
export function tokenMajorScan(a: ScanArgs): { shapes: SelectiveScanShapes; data: ScanData } {
  const [batch, length, E] = a.u.shape;
  const shapes = tokenMajorShapes(batch, length, E, a.A.shape[1], a.B.shape.length === 2);
  const data: ScanData = {
    u: a.u.data,
    delta: a.delta.data,
    A: a.A.data,
    B: a.B.data,
    C: a.C.data,
    D: a.D.data,
    z: a.z ? a.z.data : null,
    bias: a.deltaBias.data,
    softplus: true,
  };
  return { shapes, data };
}
