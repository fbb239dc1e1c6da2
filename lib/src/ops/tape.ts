/**
 * `Ops`: the ops a model is written in, run by a {@link Backend}, and — when training — recorded
 * on a {@link Tape} so that the backward pass needs no second copy of the model.
 *
 * Every op computes its output with the backend and, with a tape, pushes one closure that knows
 * how to send the gradient of that output back to the op's inputs (the backend's `...Backward`).
 * `Tape.backward(loss logits, ∂loss/∂logits)` then runs the closures in reverse order: the chain
 * rule, op by op, exactly the backward pass llm.c writes by hand for its forward. Gradients
 * are kept per tensor object; a tensor read by several ops (the residual stream, a tied
 * embedding) sums what each sends back.
 *
 * Shapes, with b batch, l positions and activations token-major (b, l, channels):
 *   embedding(ids (b·l), b, l, weight (V, d))                 → (b, l, d)
 *   linear(x (..., in), weight (out, in), bias (out)?)         → (..., out)
 *   rmsNorm(x (..., d), weight (d), eps)                       → (..., d)
 *   silu, negExp (elementwise); add, mul (same shapes)
 *   split(x (..., Σ sizes), sizes)                            → (..., size) each
 *   lastPosition(x (b, l, d))                                  → (b, 1, d)
 *   causalConv1d(x (b, l, C), weight (C, 1, k), bias (C)?, state (b, C, k)?) → (b, l, C)
 *   selectiveScan(ScanArgs, state (b, E, N)?)                 → (b, l, E)
 *   rope(x (b, l, heads·hd), heads, hd, start, invFreq)       → same shape
 *   attention(q (b, l, H·hd), k, v (b, l, H_kv·hd), shape, cache?) → (b, l, H·hd)
 *   ssd(SsdArgs, state (b, H, P, N)?)                         → (b, l, H·P)
 *   rowsTransposed(w (rows, cols), start, count)              → (cols, count)
 * A state or cache is read and updated in place (decoding); none is allowed while recording.
 */
import type { Tensor } from "../tensor";
import { isHalfTensor, widenHalf } from "../half";
import type {
  AttentionShape,
  Backend,
  LayerKV,
  ScanArgs,
  ScanTraining,
  SsdArgs,
  Weight,
} from "./backend";

/** The gradients recorded ops send back, and the closures that send them. */
export class Tape {
  private readonly steps: (() => void)[] = [];
  /** Per tensor: its gradient so far, and whether the tape owns that array (may add into it). */
  private readonly grads = new Map<Tensor, { g: Tensor; owned: boolean }>();

  constructor(
    readonly backend: Backend,
    /** How selective scans keep their states for the backward pass. */
    readonly scan: ScanTraining,
  ) {}

  push(step: () => void): void {
    this.steps.push(step);
  }

  /** ∂loss/∂t so far (undefined: nothing reached t). */
  grad(t: Tensor): Tensor | undefined {
    return this.grads.get(t)?.g;
  }

  /**
   * Adds g into t's gradient. `owned`: g is a fresh array nobody else holds (what a backward op
   * returns), so later gradients may be added into it; a gradient passed through unchanged (the
   * residual's) is copied before anything is added to it.
   */
  accumulate(t: Tensor, g: Tensor, owned = true): void {
    const prev = this.grads.get(t);
    if (!prev) {
      this.grads.set(t, { g, owned });
      return;
    }
    if (!prev.owned) {
      const copy = this.backend.zeros(prev.g.shape, prev.g);
      this.backend.addInto(copy, prev.g);
      prev.g = copy;
      prev.owned = true;
    }
    this.backend.addInto(prev.g, g);
  }

  /** Runs the recorded closures in reverse, starting from ∂loss/∂output = g. */
  backward(output: Tensor, g: Tensor): void {
    this.accumulate(output, g);
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]();
  }
}

/**
 * Runs an inference forward (no tape) on `backend` as one call (`Backend.begin`) and returns its
 * output on the JavaScript heap: copied out of a backend's own memory, which its next call reuses.
 */
export function runInference(backend: Backend, forward: (ops: Ops) => Tensor): Tensor {
  backend.begin?.();
  const y = forward(new Ops(backend));
  return backend.begin ? { shape: [...y.shape], data: y.data.slice() } : y;
}

/** The ops of the models on one backend, recording on `tape` when given (see module comment). */
export class Ops {
  constructor(
    readonly backend: Backend,
    readonly tape: Tape | null = null,
  ) {}

  /** Records `step` to run in the backward pass when y has a gradient by then. */
  private record(y: Tensor, step: (dy: Tensor) => void): void {
    const tape = this.tape;
    if (!tape) return;
    tape.push(() => {
      const dy = tape.grad(y);
      if (dy) step(dy);
    });
  }

  /** A weight that can have a gradient: 16-bit weights are for inference only. */
  private differentiable(weight: Weight, op: string): Tensor {
    if (isHalfTensor(weight))
      throw new Error(`Ops.${op}: a weight kept in 16 bits has no gradient (inference only)`);
    return weight;
  }

  private send(t: Tensor | null, g: Tensor | null, owned = true): void {
    if (t && g) this.tape!.accumulate(t, g, owned);
  }

  /**
   * With `paddingIdx` (PyTorch's `nn.Embedding(padding_idx=...)`), the lookup sends no gradient to
   * that row.
   */
  embedding(
    ids: Int32Array,
    batch: number,
    length: number,
    weight: Weight,
    paddingIdx: number | null = null,
  ): Tensor {
    const y = this.backend.embedding(ids, batch, length, weight);
    if (!this.tape) return y;
    const w = this.differentiable(weight, "embedding");
    this.record(y, (dy) => {
      const dw = this.backend.embeddingBackward(ids, weight.shape[0], dy);
      if (paddingIdx !== null) {
        const d = weight.shape[1];
        dw.data.fill(0, paddingIdx * d, (paddingIdx + 1) * d);
      }
      this.send(w, dw);
    });
    return y;
  }

  linear(x: Tensor, weight: Weight, bias: Tensor | null = null): Tensor {
    const y = this.backend.linear(x, weight, bias);
    if (!this.tape) return y;
    const w = this.differentiable(weight, "linear");
    this.record(y, (dy) => {
      const r = this.backend.linearBackward(x, w, dy, bias !== null);
      this.send(x, r.dx);
      this.send(w, r.dweight);
      this.send(bias, r.dbias);
    });
    return y;
  }

  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
    const y = this.backend.rmsNorm(x, weight, eps);
    this.record(y, (dy) => {
      const r = this.backend.rmsNormBackward(x, weight, eps, dy);
      this.send(x, r.dx);
      this.send(weight, r.dweight);
    });
    return y;
  }

  silu(x: Tensor): Tensor {
    const y = this.backend.silu(x);
    this.record(y, (dy) => this.send(x, this.backend.siluBackward(x, dy)));
    return y;
  }

  /** −exp(x); its derivative is itself: ∂x = ∂y ⊙ y. */
  negExp(x: Tensor): Tensor {
    const y = this.backend.negExp(x);
    this.record(y, (dy) => this.send(x, this.backend.mul(dy, y)));
    return y;
  }

  add(a: Tensor, b: Tensor): Tensor {
    const y = this.backend.add(a, b);
    this.record(y, (dy) => {
      this.send(a, dy, false);
      this.send(b, dy, false);
    });
    return y;
  }

  mul(a: Tensor, b: Tensor): Tensor {
    const y = this.backend.mul(a, b);
    this.record(y, (dy) => {
      this.send(a, this.backend.mul(dy, b));
      this.send(b, this.backend.mul(dy, a));
    });
    return y;
  }

  split(x: Tensor, sizes: readonly number[]): Tensor[] {
    const parts = this.backend.split(x, sizes);
    const tape = this.tape;
    if (tape) {
      // One closure for all parts: their gradients (zeros for an unused part) joined again.
      tape.push(() => {
        const gs = parts.map((p) => tape.grad(p));
        if (gs.every((g) => g === undefined)) return;
        const full = parts.map((p, i) => gs[i] ?? this.backend.zeros(p.shape, p));
        this.send(x, this.backend.concat(full));
      });
    }
    return parts;
  }

  lastPosition(x: Tensor): Tensor {
    if (this.tape) throw new Error("Ops.lastPosition: not differentiable (inference only)");
    return this.backend.lastPosition(x);
  }

  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null): Tensor {
    const y = this.backend.causalConv1d(x, weight, bias, state);
    this.record(y, (dy) => {
      const r = this.backend.causalConv1dBackward(x, weight, dy, bias !== null);
      this.send(x, r.dx);
      this.send(weight, r.dweight);
      this.send(bias, r.dbias);
    });
    return y;
  }

  selectiveScan(a: ScanArgs, state: Tensor | null): Tensor {
    if (!this.tape) return this.backend.selectiveScan(a, state);
    const { y, saved } = this.backend.selectiveScanTrain(a, this.tape.scan);
    this.record(y, (dy) => {
      const g = this.backend.selectiveScanBackward(a, saved, dy);
      this.send(a.u, g.du);
      this.send(a.delta, g.ddelta);
      this.send(a.A, g.dA);
      this.send(a.B, g.dB);
      this.send(a.C, g.dC);
      this.send(a.D, g.dD);
      this.send(a.z, g.dz);
      this.send(a.deltaBias, g.ddeltaBias);
    });
    return y;
  }

  rope(x: Tensor, heads: number, headDim: number, start: number, invFreq: Float64Array): Tensor {
    const y = this.backend.rope(x, heads, headDim, start, invFreq);
    this.record(y, (dy) =>
      this.send(x, this.backend.ropeBackward(dy, heads, headDim, start, invFreq)),
    );
    return y;
  }

  attention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape, cache: LayerKV | null): Tensor {
    if (!this.tape) return this.backend.attention(q, k, v, shape, cache);
    const { out, saved } = this.backend.attentionTrain(q, k, v, shape);
    this.record(out, (dy) => {
      const r = this.backend.attentionBackward(q, k, v, shape, saved, dy);
      this.send(q, r.dq);
      this.send(k, r.dk);
      this.send(v, r.dv);
    });
    return out;
  }

  /** Mamba-2's SSD (`Backend.ssd`); a backend without it is refused. */
  ssd(a: SsdArgs, state: Tensor | null): Tensor {
    const backend = this.backend;
    if (!backend.ssd || !backend.ssdBackward)
      throw new Error(
        `Ops.ssd: the ${backend.name} backend has no SSD op (Mamba-2 runs on the reference and simd backends)`,
      );
    const y = backend.ssd(a, state);
    this.record(y, (dy) => {
      const g = backend.ssdBackward!(a, dy);
      this.send(a.x, g.dx);
      this.send(a.dt, g.ddt);
      this.send(a.A, g.dA);
      this.send(a.B, g.dB);
      this.send(a.C, g.dC);
      this.send(a.D, g.dD);
      this.send(a.dtBias, g.ddtBias);
    });
    return y;
  }

  /** out[c, n] = w[start + n, c]: rows start … start + count − 1 of w, transposed. */
  rowsTransposed(weight: Weight, start: number, count: number): Tensor {
    const w = isHalfTensor(weight) ? widenHalf(weight) : weight;
    if (this.tape) this.differentiable(weight, "rowsTransposed");
    const cols = w.shape[1];
    const y = this.backend.zeros([cols, count], w);
    for (let c = 0; c < cols; c++)
      for (let n = 0; n < count; n++) y.data[c * count + n] = w.data[(start + n) * cols + c];
    this.record(y, (dy) => {
      const dw = this.backend.zeros(w.shape, w);
      for (let c = 0; c < cols; c++)
        for (let n = 0; n < count; n++) dw.data[(start + n) * cols + c] = dy.data[c * count + n];
      this.send(w, dw);
    });
    return y;
  }

  /** A tensor of zeros (a constant: no gradient flows into it). */
  zeros(shape: readonly number[], like: Tensor): Tensor {
    return this.backend.zeros(shape, like);
  }
}

/**
 * `Ops` that also keep the arguments of every selective scan and SSD the model runs, in order:
 * how `mambaSelection` and `mamba2Selection` look at what a model selects (Δ, B, C) on a sequence.
 */
export class WatchedOps extends Ops {
  readonly scans: ScanArgs[] = [];
  readonly ssds: SsdArgs[] = [];
  override selectiveScan(a: ScanArgs, state: Tensor | null): Tensor {
    this.scans.push(a);
    return super.selectiveScan(a, state);
  }
  override ssd(a: SsdArgs, state: Tensor | null): Tensor {
    this.ssds.push(a);
    return super.ssd(a, state);
  }
}
