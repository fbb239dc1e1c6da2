/**
 * Running a Mamba-2 LM forward (lesson 13): the public functions around the one definition in
 * `./model.ts`. Each checks its arguments once and runs the model on the engine's backend.
 */
import type { Tensor } from "../tensor";
import { checkFiniteParams, checkOptions, schema, withFiniteParams } from "../validate";
import { reference } from "../ops/reference/index";
import { ssdStepSizes } from "../ops/reference/ssd";
import { simdBackend } from "../ops/simd/index";
import { WatchedOps, runInference } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { checkMamba2Model } from "./checks";
import { type Mamba2Model, mamba2LM } from "./model";

/**
 * The logits of a Mamba-2 LM at every position (`./model.ts`: embedding, blocks, final norm,
 * head), the SSD by the chunked algorithm with chunks of `config.chunk_size`.
 *
 * @param model from `initMamba2` or `loadMamba2Checkpoint` (float32; float64 for gradient checks)
 * @param tokens (b, l) ids in [0, vocab_size): `{ shape: [b, l], data: Int32Array }` or number[][]
 * @param options.engine "typescript" (default: the reference backend, float64 sums) or "simd"
 *   (the simd backend's WebAssembly SIMD kernels in float32, the SSD's chunked algorithm on
 *   the gemm, `ops/simd/ssd.ts`; a float32 model only)
 * @returns logits (b, l, vocab_size) in the parameters' dtype ("simd": float32)
 */
export function mamba2Forward(
  model: Mamba2Model,
  tokens: TokenBatch,
  options: { engine?: "typescript" | "simd" } = {},
): Tensor {
  const fn = "mamba2Forward";
  const o = checkOptions(fn, "options", options, FORWARD_OPTIONS);
  const engine = o.engine ?? "typescript";
  const m = checkMamba2Model(fn, model, engine === "simd" ? ["float32"] : ["float32", "float64"]);
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  return withFiniteParams(fn, m.params, () =>
    runInference(engine === "simd" ? simdBackend() : reference, (ops) =>
      mamba2LM(ops, m, ids, shape[0], shape[1]),
    ),
  );
}

const FORWARD_OPTIONS = schema.options({
  engine: schema.optional(schema.oneOf(["typescript", "simd"] as const)),
});

/** What one Mamba-2 layer selects on a sequence (see {@link mamba2Selection}). */
export interface Mamba2LayerSelection {
  /**
   * Δ = clamp(softplus(dt + dt_bias), time_step_limit), (b, l, H): how much each position
   * writes into each head's state, and (with A) how much of the state it keeps, exp(Δ·A).
   */
  delta: Tensor;
  /** A = −exp(A_log), (H): each head's one decay rate. */
  A: Tensor;
  /** B and C after the conv, (b, l, G·N): what is written and what is read. */
  B: Tensor;
  C: Tensor;
}

/**
 * The selection of every layer on `tokens`: Δ, A, B and C as the model computes them in
 * `mamba2Forward` (the same run of `./model.ts`, watched at its SSDs; reference ops), for
 * looking at what a trained model keeps in its state and for how long (lesson 13, as
 * `mambaSelection` does for Mamba in lesson 11).
 *
 * @param model from `initMamba2` or `loadMamba2Checkpoint`
 * @param tokens (b, l) ids in [0, vocab_size)
 * @returns one {@link Mamba2LayerSelection} per layer, tensors in the parameters' dtype
 */
export function mamba2Selection(model: Mamba2Model, tokens: TokenBatch): Mamba2LayerSelection[] {
  const fn = "mamba2Selection";
  const m = checkMamba2Model(fn, model, ["float32", "float64"]);
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  checkFiniteParams(fn, m.params);
  const ops = new WatchedOps(reference);
  mamba2LM(ops, m, ids, shape[0], shape[1]);
  return ops.ssds.map((a) => {
    const delta = reference.zeros(a.dt.shape, a.dt);
    delta.data.set(ssdStepSizes(a).delta);
    return { delta, A: a.A, B: a.B, C: a.C };
  });
}
