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
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { type SelectiveScanArgs, checkSelectiveScanArgs, scanData } from "./scan";
import {
  type ScanBackwardStrategy,
  scanBackwardRecurrence,
  scanForwardKeeping,
} from "../ops/reference/backward";
import type { SelectiveScanShapes } from "../ops/reference/layout";
import { argumentError, checkArg, checkOptions, describe, schema } from "../validate";

export type { ScanBackwardStrategy } from "../ops/reference/backward";

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
