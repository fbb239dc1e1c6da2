/**
 * The reference backend's backward ops, each paired with its forward in `./forward.ts`, llm.c
 * style: the backward takes what the forward read and g = ∂loss/∂(the forward's output), and
 * returns ∂loss/∂(each input). Every formula is the forward's equation differentiated by hand;
 * the tests check each against central finite differences. Gradients are accumulated in float64
 * and returned in the dtype of the input they belong to. Unchecked: see `ops/backend.ts`.
 */
import type { FloatArray, Tensor } from "../../tensor";
import { sigmoidRaw, siluRaw, softplusRaw } from "./scalar";
import type { SelectiveScanShapes, SeqLayout } from "./layout";
import { type ScanData, alloc, rowsOf, tokenMajorScan } from "./forward";
import type {
  AttentionShape,
  CrossEntropy,
  ScanArgs,
  ScanGradients,
  ScanTraining,
} from "../backend";
import {
  attendStrided,
  attentionGradients,
  rotateHalfInPlace,
  ropeTables,
  tokenMajorHeads,
  tokenMajorLayout,
} from "./attention";

/** A tensor of `like`'s dtype holding `data`, shaped `shape` (default like's). */
function as(like: Tensor, data: Float64Array, shape: readonly number[] = like.shape): Tensor {
  const out = alloc(like, data.length);
  out.set(data);
  return { shape: [...shape], data: out };
}

/**
 * Backward of `linear` (y = x Wᵀ + b):  ∂x = g W,  ∂W = Σ_rows gᵀ x,  ∂b = Σ_rows g.
 * Shapes: x (..., in), weight (out, in), g (..., out).
 */
export function linearBackward(
  x: Tensor,
  weight: Tensor,
  g: Tensor,
  hasBias: boolean,
): { dx: Tensor; dweight: Tensor; dbias: Tensor | null } {
  const [outDim, inDim] = weight.shape;
  const rows = rowsOf(x.shape);
  const dx = new Float64Array(rows * inDim);
  const dw = new Float64Array(outDim * inDim);
  const db = new Float64Array(outDim);
  const xd = x.data;
  const wd = weight.data;
  const gd = g.data;
  // ∂x rows: dx[r, :] = Σ_o g[r, o] W[o, :] (contiguous inner loop over in).
  for (let r = 0; r < rows; r++) {
    const xo = r * inDim;
    for (let o = 0; o < outDim; o++) {
      const go = gd[r * outDim + o];
      if (go === 0) continue;
      const wo = o * inDim;
      for (let i = 0; i < inDim; i++) dx[xo + i] += go * wd[wo + i];
    }
  }
  // ∂W rows: dW[o, :] = Σ_r g[r, o] x[r, :], one output row at a time (stays in cache).
  for (let o = 0; o < outDim; o++) {
    const wo = o * inDim;
    let sb = 0;
    for (let r = 0; r < rows; r++) {
      const go = gd[r * outDim + o];
      if (go === 0) continue;
      sb += go;
      const xo = r * inDim;
      for (let i = 0; i < inDim; i++) dw[wo + i] += go * xd[xo + i];
    }
    db[o] = sb;
  }
  return {
    dx: as(x, dx),
    dweight: as(weight, dw),
    dbias: hasBias ? as(weight, db, [outDim]) : null,
  };
}

/**
 * Backward of `rmsNorm` (y = x · r · w with r = 1 / sqrt(mean(x²) + eps)), per row of length d:
 *
 *   ∂w_j += g_j x_j r,    ∂x_j = r (g_j w_j − x_j r² · (1/d) Σ_k g_k w_k x_k)
 *
 * (the second term is the path through r: ∂r/∂x_j = −r³ x_j / d).
 */
export function rmsNormBackward(
  x: Tensor,
  weight: Tensor,
  eps: number,
  g: Tensor,
): { dx: Tensor; dweight: Tensor } {
  const d = x.shape[x.shape.length - 1];
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(d);
  const rows = d === 0 ? 0 : x.data.length / d;
  const xd = x.data;
  const wd = weight.data;
  const gd = g.data;
  for (let row = 0; row < rows; row++) {
    const o = row * d;
    let ss = 0;
    for (let j = 0; j < d; j++) ss += xd[o + j] * xd[o + j];
    const r = 1 / Math.sqrt(ss / d + eps);
    let dot = 0;
    for (let j = 0; j < d; j++) {
      dot += gd[o + j] * wd[j] * xd[o + j];
      dw[j] += gd[o + j] * xd[o + j] * r;
    }
    const k = (r * r * r * dot) / d;
    for (let j = 0; j < d; j++) dx[o + j] = r * gd[o + j] * wd[j] - k * xd[o + j];
  }
  return { dx: as(x, dx), dweight: as(weight, dw) };
}

/** Backward of `embedding`: ∂W[v] = Σ over positions with id v of g → (vocab, d), g's dtype. */
export function embeddingBackward(ids: Int32Array, vocab: number, g: Tensor): Tensor {
  const d = g.shape[g.shape.length - 1];
  const dw = new Float64Array(vocab * d);
  embeddingBackwardInto(ids, d, g.data, dw);
  return as(g, dw, [vocab, d]);
}

/** {@link embeddingBackward}, added into dw (vocab, d), any float array. */
export function embeddingBackwardInto(
  ids: Int32Array,
  d: number,
  g: FloatArray,
  dw: FloatArray,
): void {
  for (let p = 0; p < ids.length; p++) {
    const o = ids[p] * d;
    for (let j = 0; j < d; j++) dw[o + j] += g[p * d + j];
  }
}

/** Backward of SiLU (y = x σ(x)): ∂x = g · σ(x) (1 + x (1 − σ(x))). */
export function siluBackward(x: Tensor, g: Tensor): Tensor {
  const dx = new Float64Array(x.data.length);
  for (let i = 0; i < dx.length; i++) {
    const s = sigmoidRaw(x.data[i]);
    dx[i] = g.data[i] * s * (1 + x.data[i] * (1 - s));
  }
  return as(x, dx);
}

/**
 * Backward of the causal depthwise conv (`forward.ts`'s convInLayout, from a zero state):
 *
 *   ∂x[c, s] = Σ_j w[c, 0, j] g[c, s + (k−1) − j]   (t = s + k − 1 − j < l),
 *   ∂w[c, 0, j] = Σ_t g[c, t] x[c, t − (k−1) + j],   ∂bias[c] = Σ_t g[c, t],
 *
 * on any layout of (batch, channel, position); accumulates into dx, dw (C, k), db (C).
 */
export function convBackwardInLayout(
  x: FloatArray,
  layout: SeqLayout,
  batch: number,
  channels: number,
  length: number,
  w: FloatArray,
  k: number,
  g: FloatArray,
  dx: Float64Array,
  dw: Float64Array,
  db: Float64Array,
): void {
  const { lStride } = layout;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const row = layout.base(b, c);
      for (let t = 0; t < length; t++) {
        const gt = g[row + t * lStride];
        db[c] += gt;
        for (let j = Math.max(0, k - 1 - t); j < k; j++) {
          const s = row + (t - (k - 1) + j) * lStride;
          dx[s] += w[c * k + j] * gt;
          dw[c * k + j] += gt * x[s];
        }
      }
    }
  }
}

/** Backward of `causalConv1d` on token-major x (b, l, C), weight (C, 1, k). */
export function causalConv1dBackward(
  x: Tensor,
  weight: Tensor,
  g: Tensor,
  hasBias: boolean,
): { dx: Tensor; dweight: Tensor; dbias: Tensor | null } {
  const [batch, length, channels] = x.shape;
  const k = weight.shape[2];
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(channels * k);
  const db = new Float64Array(channels);
  const layout = { lStride: channels, base: (b: number, c: number) => b * length * channels + c };
  convBackwardInLayout(x.data, layout, batch, channels, length, weight.data, k, g.data, dx, dw, db);
  return {
    dx: as(x, dx),
    dweight: as(weight, dw),
    dbias: hasBias ? as(weight, db, [channels]) : null,
  };
}

/** How the forward pass keeps what the backward pass needs (lesson 10). */
export type ScanBackwardStrategy = "store-all" | "recompute";

/**
 * The forward recurrence (`scan.ts`'s `scanRecurrence`, from a zero state) that also keeps what
 * the backward pass needs: every state (b, d, l, n) with "store-all", the state entering each
 * chunk (b, d, ⌈l/T⌉, n) with "recompute". Unchecked, any layout; the states take out's dtype.
 */
export function scanForwardKeeping(
  p: ScanData,
  s: SelectiveScanShapes,
  out: FloatArray,
  strategy: ScanBackwardStrategy,
  chunkSize: number,
): FloatArray {
  const { batch, dim, length, dstate, X } = s;
  const chunks = Math.ceil(length / chunkSize);
  const n =
    strategy === "store-all" ? batch * dim * length * dstate : batch * dim * chunks * dstate;
  const states = out instanceof Float32Array ? new Float32Array(n) : new Float64Array(n);
  const x = new Float64Array(dstate);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      x.fill(0);
      const row = X.base(b, d);
      const bd = b * dim + d;
      for (let l = 0; l < length; l++) {
        if (strategy === "recompute" && l % chunkSize === 0) {
          states.set(x, (bd * chunks + l / chunkSize) * dstate);
        }
        const y = stepForward(p, s, b, d, l, x);
        if (strategy === "store-all") states.set(x, (bd * length + l) * dstate);
        const i = row + l * X.lStride;
        out[i] = outputAt(p, d, i, y);
      }
    }
  }
  return states;
}

/** The gradients of {@link scanBackwardRecurrence}, float64, each in its input's layout. */
export interface ScanGradData {
  du: Float64Array;
  ddelta: Float64Array;
  dA: Float64Array;
  dB: Float64Array;
  dC: Float64Array;
  dD: Float64Array | null;
  dz: Float64Array | null;
  dBias: Float64Array | null;
}

/**
 * The reverse recurrence of the module comment, unchecked, in any layout: given the forward's
 * inputs, the states {@link scanForwardKeeping} kept and g = ∂loss/∂out (u's layout), the
 * gradient of every input.
 */
export function scanBackwardRecurrence(
  p: ScanData,
  s: SelectiveScanShapes,
  states: FloatArray,
  strategy: ScanBackwardStrategy,
  chunkSize: number,
  g: FloatArray,
): ScanGradData {
  const { batch, dim, length, dstate, X, B, C } = s;
  const du = new Float64Array(p.u.length);
  const ddelta = new Float64Array(p.u.length);
  const dA = new Float64Array(dim * dstate);
  const dB = new Float64Array(p.B.length);
  const dC = new Float64Array(p.C.length);
  const dD = p.D ? new Float64Array(dim) : null;
  const dz = p.z ? new Float64Array(p.u.length) : null;
  const dBias = p.bias ? new Float64Array(dim) : null;
  const chunks = Math.ceil(length / chunkSize);
  // Recompute scratch: xs[(t + 1)·n + n'] is the state after position (chunk start + t); row 0
  // holds the state entering the chunk. With store-all, the same view reads the cache directly.
  const span = strategy === "recompute" ? chunkSize : length;
  const xs = new Float64Array((span + 1) * dstate);
  const h = new Float64Array(dstate);

  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < dim; d++) {
      const bd = b * dim + d;
      const row = X.base(b, d);
      const aRow = d * dstate;
      const bBase = B.base(b, d);
      const cBase = C.base(b, d);
      const skip = p.D ? p.D[d] : 0;
      const db = p.bias ? p.bias[d] : 0;
      h.fill(0);
      for (let c = (strategy === "recompute" ? chunks : 1) - 1; c >= 0; c--) {
        const start = strategy === "recompute" ? c * chunkSize : 0;
        const end = Math.min(length, start + span);
        // Fill xs with the states x_{start-1} .. x_{end-1}.
        if (strategy === "recompute") {
          const x = xs.subarray(0, dstate);
          for (let n = 0; n < dstate; n++) x[n] = states[(bd * chunks + c) * dstate + n];
          for (let l = start; l < end; l++) {
            const next = xs.subarray((l - start + 1) * dstate, (l - start + 2) * dstate);
            next.set(xs.subarray((l - start) * dstate, (l - start + 1) * dstate));
            stepForward(p, s, b, d, l, next);
          }
        } else {
          xs.fill(0, 0, dstate);
          for (let l = 0; l < length; l++) {
            for (let n = 0; n < dstate; n++) {
              xs[(l + 1) * dstate + n] = states[(bd * length + l) * dstate + n];
            }
          }
        }
        // The reverse recurrence through this chunk. h holds ∂loss/∂x_l's contribution from
        // later positions, already multiplied by Ā_{l+1}.
        for (let l = end - 1; l >= start; l--) {
          const i = row + l * X.lStride;
          const raw = p.delta[i] + db;
          const dt = p.softplus ? softplusRaw(raw) : raw;
          const ut = p.u[i];
          const gOut = g[i];
          let gO = gOut;
          if (p.z) {
            const zt = p.z[i];
            const sz = sigmoidRaw(zt);
            // o_l recomputed from the states: y_l = Σ C x_l.
            let y = 0;
            for (let n = 0; n < dstate; n++)
              y += p.C[cBase + n * C.nStride + l * C.lStride] * xs[(l - start + 1) * dstate + n];
            const o = y + skip * ut;
            dz![i] = gOut * o * sz * (1 + zt * (1 - sz));
            gO = gOut * zt * sz;
          }
          if (dD) dD[d] += gO * ut;
          let gu = gO * skip;
          let gdt = 0;
          const prev = (l - start) * dstate;
          const cur = prev + dstate;
          for (let n = 0; n < dstate; n++) {
            const ci = cBase + n * C.nStride + l * C.lStride;
            const bi = bBase + n * B.nStride + l * B.lStride;
            const a = p.A[aRow + n];
            const abar = Math.exp(dt * a);
            dC[ci] += gO * xs[cur + n];
            const hn = h[n] + gO * p.C[ci];
            const xPrev = xs[prev + n];
            dB[bi] += hn * dt * ut;
            gu += hn * dt * p.B[bi];
            const hx = hn * xPrev * abar;
            gdt += hx * a + hn * p.B[bi] * ut;
            dA[aRow + n] += hx * dt;
            h[n] = hn * abar;
          }
          du[i] = gu;
          const gRaw = p.softplus ? gdt * sigmoidRaw(raw) : gdt;
          ddelta[i] = gRaw;
          if (dBias) dBias[d] += gRaw;
        }
      }
    }
  }
  return { du, ddelta, dA, dB, dC, dD, dz, dBias };
}

/** One step of the forward recurrence at position l, updating x in place; returns y_l = Σ C x_l. */
function stepForward(
  p: ScanData,
  s: SelectiveScanShapes,
  b: number,
  d: number,
  l: number,
  x: Float64Array,
): number {
  const i = s.X.base(b, d) + l * s.X.lStride;
  const raw = p.delta[i] + (p.bias ? p.bias[d] : 0);
  const dt = p.softplus ? softplusRaw(raw) : raw;
  const dtu = dt * p.u[i];
  const bn = s.B.nStride;
  const cn = s.C.nStride;
  const bo = s.B.base(b, d) + l * s.B.lStride;
  const co = s.C.base(b, d) + l * s.C.lStride;
  const aRow = d * s.dstate;
  const A = p.A;
  const B = p.B;
  const C = p.C;
  let y = 0;
  for (let n = 0; n < s.dstate; n++) {
    const s = Math.exp(dt * A[aRow + n]) * x[n] + dtu * B[bo + n * bn];
    x[n] = s;
    y += s * C[co + n * cn];
  }
  return y;
}

/** out_l = (y_l + D u_l) · siluRaw(z_l). */
function outputAt(p: ScanData, d: number, i: number, y: number): number {
  let o = y + (p.D ? p.D[d] : 0) * p.u[i];
  if (p.z) o *= siluRaw(p.z[i]);
  return o;
}

/** What the reference scan keeps between its forward and backward passes. */
interface SavedScan {
  states: FloatArray;
  training: ScanTraining;
}

/** The selective scan's training forward (`selective/scan-backward.ts`), token-major. */
export function selectiveScanTrain(
  a: ScanArgs,
  training: ScanTraining,
): { y: Tensor; saved: SavedScan } {
  const { shapes, data } = tokenMajorScan(a);
  const out = alloc(a.u, a.u.data.length);
  const states = scanForwardKeeping(data, shapes, out, training.strategy, training.chunkSize);
  return { y: { shape: [...a.u.shape], data: out }, saved: { states, training } };
}

/** The selective scan's backward (reverse recurrence, `selective/scan-backward.ts`), token-major. */
export function selectiveScanBackward(a: ScanArgs, saved: unknown, g: Tensor): ScanGradients {
  const { shapes, data } = tokenMajorScan(a);
  const { states, training } = saved as SavedScan;
  const r: ScanGradData = scanBackwardRecurrence(
    data,
    shapes,
    states,
    training.strategy,
    training.chunkSize,
    g.data,
  );
  return {
    du: as(a.u, r.du),
    ddelta: as(a.delta, r.ddelta),
    dA: as(a.A, r.dA),
    dB: as(a.B, r.dB),
    dC: as(a.C, r.dC),
    dD: as(a.D, r.dD!),
    dz: a.z ? as(a.z, r.dz!) : null,
    ddeltaBias: as(a.deltaBias, r.dBias!),
  };
}

/** Backward of `rope`: the rotation's transpose, i.e. RoPE with every angle negated. */
export function ropeBackward(
  g: Tensor,
  heads: number,
  headDim: number,
  start: number,
  invFreq: Float64Array,
): Tensor {
  const [batch, length] = g.shape;
  const out = alloc(g, g.data.length);
  out.set(g.data);
  const t = ropeTables(start, length, invFreq);
  const inverse = { cos: t.cos, sin: t.sin.map((s) => -s) }; // cos(−a) = cos a, sin(−a) = −sin a
  rotateHalfInPlace(out, batch * heads, length, tokenMajorHeads(length, heads, headDim), inverse);
  return { shape: [...g.shape], data: out };
}

/** Attention's forward keeping its weights (b, H, l, l): O(b·H·l²) memory, not flash attention. */
export function attentionTrain(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: AttentionShape,
): { out: Tensor; saved: Float64Array } {
  const [batch, length] = q.shape;
  const out = alloc(q, q.data.length);
  const probs = new Float64Array(batch * shape.heads * length * length);
  attendStrided(batch, length, length, 0, shape, q.data, k.data, v.data, length, out, probs);
  return { out: { shape: [...q.shape], data: out }, saved: probs };
}

/** Backward of causal attention (equations in `./attention.ts`), token-major operands. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  shape: AttentionShape,
  saved: unknown,
  g: Tensor,
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const [batch, length] = q.shape;
  const { heads, kvHeads, headDim } = shape;
  const layouts = {
    q: tokenMajorLayout(length, heads, headDim),
    kv: tokenMajorLayout(length, kvHeads, headDim),
  };
  const dims = { batch, heads, kvHeads, queries: length, keys: length, headDim, offset: 0 };
  const probs = saved as Float64Array;
  const { dq, dk, dv } = attentionGradients(dims, layouts, q.data, k.data, v.data, probs, g.data);
  return { dq: as(q, dq), dk: as(k, dk), dv: as(v, dv) };
}

/**
 * Cross-entropy on chosen positions, forward and backward in one pass (they share the softmax):
 *
 *   loss = Σ_p m_p (logsumexp(logits_p) − logits_p[t_p]) / Σ_p m_p
 *   ∂loss/∂logits_p = m_p (softmax(logits_p) − onehot(t_p)) / Σ_p m_p
 *
 * logits (P, V) (any leading axes), targets (P) with −100 skipped (PyTorch's `ignore_index`),
 * mask (P) of weights ≥ 0 (default 1); at least one counted position.
 */
export function crossEntropy(
  logits: Tensor,
  targets: Int32Array,
  mask: ArrayLike<number> | null,
): CrossEntropy {
  const d = new Float64Array(logits.data.length);
  const r = crossEntropyInto(logits.data, logits.shape[logits.shape.length - 1], targets, mask, d);
  return { ...r, dlogits: as(logits, d) };
}

/**
 * {@link crossEntropy} of logits (P, V) with ∂loss/∂logits written into `dlogits` (any float
 * array of the logits' length, holding zeros: skipped positions are not written).
 */
export function crossEntropyInto(
  x: FloatArray,
  V: number,
  targets: Int32Array,
  mask: ArrayLike<number> | null,
  dlogits: FloatArray,
): Omit<CrossEntropy, "dlogits"> {
  const P = targets.length;
  let total = 0;
  for (let p = 0; p < P; p++) if (targets[p] !== -100) total += mask ? mask[p] : 1;
  let loss = 0;
  let count = 0;
  let correct = 0;
  for (let p = 0; p < P; p++) {
    const t = targets[p];
    const m = mask ? mask[p] : 1;
    if (t === -100 || m === 0) continue;
    const o = p * V;
    let max = -Infinity;
    let arg = 0;
    for (let v = 0; v < V; v++) {
      if (x[o + v] > max) {
        max = x[o + v];
        arg = v;
      }
    }
    // e^(x − max) once per logit, kept in dlogits and scaled to the softmax there
    let sum = 0;
    for (let v = 0; v < V; v++) {
      const e = Math.exp(x[o + v] - max);
      dlogits[o + v] = e;
      sum += e;
    }
    loss += (m * (max + Math.log(sum) - x[o + t])) / total;
    const scale = m / (sum * total);
    for (let v = 0; v < V; v++) dlogits[o + v] *= scale;
    dlogits[o + t] -= m / total;
    count += 1;
    if (arg === t) correct += 1;
  }
  return { loss, count, correct };
}
