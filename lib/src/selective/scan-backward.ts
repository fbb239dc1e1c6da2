/**
 * The selective scan's backward pass: gradients of a loss through the S6 recurrence
 * (see `selective/scan.ts` for the forward equations), in two versions.
 *
 * Forward, per batch element b, channel d and state index n (x₋₁ = 0):
 *
 *   Δ_l   = softplus(delta_l + deltaBias)             Ā_l = exp(Δ_l A_n)
 *   x_l   = Ā_l x_{l-1} + Δ_l B_l u_l                  y_l = Σ_n C_l x_l
 *   o_l   = y_l + D u_l                                out_l = o_l · silu(z_l)
 *
 * Backward, given g_out = ∂loss/∂out, the adjoint state h_l = ∂loss/∂x_l obeys the *reverse*
 * recurrence (lesson 07's reverse scan):
 *
 *   h_l = Ā_{l+1} h_{l+1} + g_o,l C_l          with g_o,l = g_out,l · silu(z_l),  h_L = 0
 *
 * and every gradient is a sum over positions of h_l times a local derivative:
 *
 *   ∂C_l  += g_o,l x_l                ∂B_l += h_l Δ_l u_l            ∂A_n += Σ_l h_l x_{l-1} Δ_l Ā_l
 *   ∂u_l   = g_o,l D + Σ_n h_l Δ_l B_l                              ∂D   += Σ_l g_o,l u_l
 *   ∂Δ_l   = Σ_n h_l (A_n Ā_l x_{l-1} + B_l u_l)                     ∂z_l  = g_out,l o_l silu'(z_l)
 *   ∂delta_l = ∂Δ_l σ(delta_l + deltaBias)  (softplus' = σ)         ∂deltaBias += Σ ∂delta_l
 *
 * The reverse loop needs x_{l-1} and x_l at every position, i.e. all (b, d, l, n) states:
 * - `"store-all"` keeps them from the forward pass: b·d·l·n numbers, the memory the paper's kernel
 *   avoids;
 * - `"recompute"` (Mamba §3.3.2 / Appendix D) keeps only the states at chunk boundaries,
 *   b·d·⌈l/T⌉·n numbers, and in the backward pass re-runs the forward recurrence inside each chunk
 *   (from its boundary state, T·n scratch) just before the reverse recurrence walks through it.
 * Both give the same gradients (up to rounding); recompute does the forward's work twice.
 */
import { type FloatArray, type Tensor, allocate, dtypeOf } from "../tensor";
import { type ScanData, type SelectiveScanArgs, checkSelectiveScanArgs, scanData } from "./scan";
import type { SelectiveScanShapes } from "./layout";
import { sigmoidRaw, siluRaw, softplusRaw } from "./activations-raw";
import { argumentError, checkArg, checkOptions, describe, schema } from "../validate";

/** How the forward pass keeps what the backward pass needs. */
export type ScanBackwardStrategy = "store-all" | "recompute";

/** Options of {@link selectiveScanForwardTrain}. */
export interface ScanTrainOptions {
  /** "store-all" keeps every state (b, d, l, n); "recompute" (default) only chunk boundaries. */
  strategy?: ScanBackwardStrategy;
  /** Chunk length T for "recompute" (default 64). */
  chunkSize?: number;
}

/**
 * What the forward pass keeps for the backward pass: the arguments (by reference) and the states,
 * either all of them, (b, d, l, n), or those at chunk boundaries, (b, d, ⌈l/T⌉, n): entry c is the
 * state x_{cT-1} entering chunk c (zero for c = 0).
 */
export interface ScanCache {
  args: SelectiveScanArgs;
  shapes: SelectiveScanShapes;
  strategy: ScanBackwardStrategy;
  chunkSize: number;
  /** store-all: x_l for every l, (b, d, l, n); recompute: the state entering each chunk. */
  states: Float64Array | Float32Array;
}

/** Gradients returned by {@link selectiveScanBackward}, each the shape (and dtype) of its input. */
export interface ScanGrads {
  du: Tensor;
  ddelta: Tensor;
  dA: Tensor;
  dB: Tensor;
  dC: Tensor;
  /** Present when D was given. */
  dD?: Tensor;
  /** Present when z was given. */
  dz?: Tensor;
  /** Present when deltaBias was given. */
  ddeltaBias?: Tensor;
}

const TRAIN_OPTIONS = schema.options({
  strategy: schema.optional(schema.oneOf<ScanBackwardStrategy>(["store-all", "recompute"])),
  chunkSize: schema.optional(schema.integer({ min: 1, max: 1 << 20 })),
});

const MEMORY_CONFIG = schema.options(
  {
    batch: schema.integer({ min: 1 }),
    dim: schema.integer({ min: 1 }),
    length: schema.integer({ min: 1 }),
    dstate: schema.integer({ min: 1 }),
    chunkSize: schema.optional(schema.integer({ min: 1 })),
    bytesPerElement: schema.optional(schema.integer({ min: 1 })),
  },
  "a scan memory configuration",
);

/**
 * The selective scan's forward pass for training: the same `out` as `selectiveScan` (same
 * arguments, float64 arithmetic), plus a cache for {@link selectiveScanBackward}. `returnLastState`
 * is not supported here (the training loss does not read it).
 *
 * Shapes: as `selectiveScan`: u, delta, z (b, d, l); A (d, n); B, C (b, n, l), (b, g, n, l) or
 * (d, n); D, deltaBias (d). Returns out (b, d, l) in u's dtype. The cached states are kept in u's
 * dtype (float32 halves the memory, as the paper's kernel stores them in the input precision).
 */
export function selectiveScanForwardTrain(
  args: SelectiveScanArgs,
  options: ScanTrainOptions = {},
): { out: Tensor; cache: ScanCache } {
  const fn = "selectiveScanForwardTrain";
  const shapes = checkSelectiveScanArgs(fn, args);
  if (args.returnLastState) {
    throw argumentError(
      fn,
      "returnLastState",
      "false or absent: the training forward pass does not return the last state (got true)",
    );
  }
  const o = checkOptions(fn, "options", options, TRAIN_OPTIONS);
  const strategy = o.strategy ?? "recompute";
  const chunkSize = o.chunkSize ?? 64;
  const { batch, dim, length } = shapes;
  const out = allocate(dtypeOf(args.u), batch * dim * length);
  const states = scanForwardKeeping(scanData(args), shapes, out, strategy, chunkSize);
  return {
    out: { shape: [batch, dim, length], data: out },
    cache: { args, shapes, strategy, chunkSize, states },
  };
}

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
  const states = allocate(
    out instanceof Float32Array ? "float32" : "float64",
    strategy === "store-all" ? batch * dim * length * dstate : batch * dim * chunks * dstate,
  );
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

/**
 * The selective scan's backward pass (equations in the module comment): given the cache of
 * {@link selectiveScanForwardTrain} and dout = ∂loss/∂out (b, d, l), returns ∂loss/∂ of every
 * input, each with its input's shape and dtype.
 *
 * Cost: O(b·d·l·n) time, like the forward (twice the forward's recurrence work with "recompute");
 * scratch: (T + 1)·n numbers per channel with "recompute", n with "store-all".
 */
export function selectiveScanBackward(cache: ScanCache, dout: Tensor): ScanGrads {
  const fn = "selectiveScanBackward";
  if (cache === null || typeof cache !== "object" || !("states" in cache) || !("shapes" in cache)) {
    throw argumentError(
      fn,
      "cache",
      `the cache returned by selectiveScanForwardTrain (got ${describe(cache)})`,
    );
  }
  const { args, shapes, strategy, chunkSize, states } = cache;
  const { batch, dim, length } = shapes;
  checkArg(fn, "dout", dout, schema.tensor({ shape: [batch, dim, length], axes: ["b", "d", "l"] }));
  const g = scanBackwardRecurrence(scanData(args), shapes, states, strategy, chunkSize, dout.data);
  const like = (t: Tensor, data: Float64Array): Tensor => {
    const o = allocate(dtypeOf(t), data.length);
    o.set(data);
    return { shape: [...t.shape], data: o };
  };
  const grads: ScanGrads = {
    du: like(args.u, g.du),
    ddelta: like(args.delta, g.ddelta),
    dA: like(args.A, g.dA),
    dB: like(args.B, g.dB),
    dC: like(args.C, g.dC),
  };
  if (g.dD) grads.dD = like(args.D!, g.dD);
  if (g.dz) grads.dz = like(args.z!, g.dz);
  if (g.dBias) grads.ddeltaBias = like(args.deltaBias!, g.dBias);
  return grads;
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

/** Sizes for {@link scanTrainingMemory}. */
export interface ScanMemoryConfig {
  batch: number;
  dim: number;
  length: number;
  dstate: number;
  /** Chunk length T of the recompute strategy (default 64). */
  chunkSize?: number;
  /** Bytes per stored number (default 4: float32). */
  bytesPerElement?: number;
}

/**
 * Bytes the scan keeps between its forward and backward passes (the states; the inputs are kept
 * by both strategies alike and not counted), plus the backward's scratch:
 *   store-all: b·d·l·n stored;   recompute: b·d·⌈l/T⌉·n stored + (T + 1)·n scratch.
 * These are the sizes of the arrays {@link selectiveScanForwardTrain} allocates (its cache's
 * `states.byteLength`), so the lesson can check the formula against the measured cache.
 */
export function scanTrainingMemory(config: ScanMemoryConfig): {
  storeAll: number;
  recompute: number;
} {
  const c = checkOptions("scanTrainingMemory", "config", config, MEMORY_CONFIG);
  const T = c.chunkSize ?? 64;
  const bytes = c.bytesPerElement ?? 4;
  const { batch, dim, length, dstate } = c as ScanMemoryConfig;
  return {
    storeAll: batch * dim * length * dstate * bytes,
    recompute: (batch * dim * Math.ceil(length / T) * dstate + (T + 1) * dstate) * bytes,
  };
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

/** out_l = (y_l + D u_l) · silu(z_l). */
function outputAt(p: ScanData, d: number, i: number, y: number): number {
  let o = y + (p.D ? p.D[d] : 0) * p.u[i];
  if (p.z) o *= siluRaw(p.z[i]);
  return o;
}
