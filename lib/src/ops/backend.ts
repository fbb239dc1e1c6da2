/**
 * The ops the models are written in, and what a backend must implement to run them.
 *
 * A model (`mamba/model.ts`, `transformer/model.ts`) never loops over numbers itself: it calls
 * `ops.linear`, `ops.rmsNorm`, `ops.selectiveScan`, ... (`ops/tape.ts`). Each op is implemented
 * by a {@link Backend}, forward and backward, the way llm.c keeps a naive and a fast version of
 * every layer:
 *
 * - `reference` (`ops/reference/`): plain TypeScript loops with float64 sums, for float32 or
 *   float64 tensors. The lessons read it and the tests trust it (gradients checked by finite
 *   differences in float64).
 * - `simd` (`ops/simd/`): WebAssembly SIMD kernels in float32 over one WebAssembly memory, checked
 *   against the reference.
 *
 * Everything here is unchecked: the public function the user called (`mambaForward`,
 * `mambaLossAndGrads`, ...) has checked its arguments once, and the ops trust their inputs.
 *
 * Layout: activations are token-major, (b, l, channels) row-major, as the projections produce them
 * and as mamba-minimal writes the block; the sequence ops (conv, scan, attention) read them so.
 */
import type { Tensor } from "../tensor";
import type { HalfTensor } from "../half";

/**
 * A weight matrix as the products read it: a float32/float64 tensor, or one kept in 16-bit floats
 * (`../half.ts`: inference only, widened exactly where it is read).
 */
export type Weight = Tensor | HalfTensor;

/**
 * The arguments of the model's selective scan, token-major (mamba-minimal's `selective_scan`):
 * u, delta, z (b, l, E); A (E, N); B, C (b, l, N), or (E, N) for a time-invariant layer;
 * D, deltaBias (E). Δ = softplus(delta + deltaBias) always (Mamba's `delta_softplus=True`).
 */
export interface ScanArgs {
  u: Tensor;
  delta: Tensor;
  A: Tensor;
  B: Tensor;
  C: Tensor;
  D: Tensor;
  z: Tensor | null;
  deltaBias: Tensor;
}

/** The gradients of a selective scan, each the shape of its input (z's only when z was given). */
export interface ScanGradients {
  du: Tensor;
  ddelta: Tensor;
  dA: Tensor;
  dB: Tensor;
  dC: Tensor;
  dD: Tensor;
  dz: Tensor | null;
  ddeltaBias: Tensor;
}

/**
 * The arguments of Mamba-2's SSD op (`mamba2/model.ts`), token-major, in transformers'
 * `Mamba2Mixer` layout: x (b, l, H·P) (heads of P channels), dt (b, l, H) before its bias,
 * A (H) the scalar A of each head (A = −exp(A_log)), B, C (b, l, G·N) (G groups of N, head h
 * reading group ⌊h / (H/G)⌋), D and dtBias (H). The op computes
 * Δ = clamp(softplus(dt + dtBias), dtLimit), then per head the selective SSM with scalar A,
 * h_t = exp(Δ_t A) h_{t−1} + Δ_t x_t B_tᵀ, y_t = h_t C_t + D x_t, by the chunked SSD algorithm
 * with chunks of `chunkSize` (lesson 13).
 */
export interface SsdArgs {
  x: Tensor;
  dt: Tensor;
  A: Tensor;
  B: Tensor;
  C: Tensor;
  D: Tensor;
  dtBias: Tensor;
  groups: number;
  dtLimit: readonly [number, number];
  chunkSize: number;
}

/** The gradients of an SSD op, each the shape of its input. */
export interface SsdGradients {
  dx: Tensor;
  ddt: Tensor;
  dA: Tensor;
  dB: Tensor;
  dC: Tensor;
  dD: Tensor;
  ddtBias: Tensor;
}

/** How the training forward keeps the scan's states for the backward pass (lesson 10). */
export interface ScanTraining {
  /** "store-all": every state (b, E, l, N); "recompute": only the states entering each chunk. */
  strategy: "store-all" | "recompute";
  /** Chunk length T of "recompute". */
  chunkSize: number;
}

/** The sizes of grouped-query causal attention on (b, l, heads · headDim) projections. */
export interface AttentionShape {
  heads: number;
  kvHeads: number;
  headDim: number;
}

/**
 * A KV cache of one layer: keys and values of the positions seen so far, (b, capacity,
 * kvHeads · headDim) each, of which the first `length` rows are filled.
 */
export interface LayerKV {
  k: Tensor;
  v: Tensor;
  length: number;
}

/** What a cross-entropy returns (see `Backend.crossEntropy`). */
export interface CrossEntropy {
  /** Mean of −log softmax(logits)[target] over the counted positions, weighted by the mask. */
  loss: number;
  /** ∂loss/∂logits, logits' shape. */
  dlogits: Tensor;
  /** Counted positions, and how many of them have the target as their arg-max. */
  count: number;
  correct: number;
}

/** Forward and backward of every op the models use. Shapes: see `ops/tape.ts`. */
export interface Backend {
  readonly name: string;

  /**
   * Starts a call (a forward, or a loss and its gradients): a backend with memory of its own may
   * reuse the memory of every tensor it made before (the simd backend empties its arena and
   * forgets the parameters it staged, which the optimiser may have changed since). Whatever a call
   * returns to the user is copied out before the next `begin`.
   */
  begin?(): void;

  // ---- forward ----
  embedding(ids: Int32Array, batch: number, length: number, weight: Weight): Tensor;
  linear(x: Tensor, weight: Weight, bias: Tensor | null): Tensor;
  rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor;
  silu(x: Tensor): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  split(x: Tensor, sizes: readonly number[]): Tensor[];
  /** The inverse of split: parts joined along the last axis. */
  concat(parts: readonly Tensor[]): Tensor;
  lastPosition(x: Tensor): Tensor;
  causalConv1d(x: Tensor, weight: Tensor, bias: Tensor | null, state: Tensor | null): Tensor;
  negExp(x: Tensor): Tensor;
  selectiveScan(a: ScanArgs, state: Tensor | null): Tensor;
  rope(x: Tensor, heads: number, headDim: number, start: number, invFreq: Float64Array): Tensor;
  attention(q: Tensor, k: Tensor, v: Tensor, shape: AttentionShape, cache: LayerKV | null): Tensor;
  /**
   * Mamba-2's SSD (see {@link SsdArgs}) → (b, l, H·P), from and updating `state` (b, H, P, N)
   * when given. Optional: the reference backend has it (and its backward); a model that needs it
   * refuses a backend without it.
   */
  ssd?(a: SsdArgs, state: Tensor | null): Tensor;

  // ---- backward: g = ∂loss/∂(the forward's output) in, ∂loss/∂(each input) out ----
  linearBackward(
    x: Tensor,
    weight: Tensor,
    g: Tensor,
    hasBias: boolean,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor | null };
  rmsNormBackward(
    x: Tensor,
    weight: Tensor,
    eps: number,
    g: Tensor,
  ): { dx: Tensor; dweight: Tensor };
  embeddingBackward(ids: Int32Array, vocab: number, g: Tensor): Tensor;
  siluBackward(x: Tensor, g: Tensor): Tensor;
  causalConv1dBackward(
    x: Tensor,
    weight: Tensor,
    g: Tensor,
    hasBias: boolean,
  ): { dx: Tensor; dweight: Tensor; dbias: Tensor | null };
  /** The scan's forward that also keeps what its backward needs (`saved`, backend-specific). */
  selectiveScanTrain(a: ScanArgs, training: ScanTraining): { y: Tensor; saved: unknown };
  selectiveScanBackward(a: ScanArgs, saved: unknown, g: Tensor): ScanGradients;
  ropeBackward(
    g: Tensor,
    heads: number,
    headDim: number,
    start: number,
    invFreq: Float64Array,
  ): Tensor;
  /** Attention's forward keeping its weights, for {@link Backend.attentionBackward}. */
  attentionTrain(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
  ): { out: Tensor; saved: unknown };
  attentionBackward(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    shape: AttentionShape,
    saved: unknown,
    g: Tensor,
  ): { dq: Tensor; dk: Tensor; dv: Tensor };
  ssdBackward?(a: SsdArgs, g: Tensor): SsdGradients;
  /**
   * Cross-entropy of logits (P, V) against targets (P) (−100: skipped) weighted by mask (P)
   * (default 1), forward and backward in one pass.
   */
  crossEntropy(logits: Tensor, targets: Int32Array, mask: ArrayLike<number> | null): CrossEntropy;

  // ---- memory ----
  zeros(shape: readonly number[], like: Tensor): Tensor;
  /** acc += g, in place. */
  addInto(acc: Tensor, g: Tensor): void;
}
