/**
 * Running a Mamba LM forward (lesson 09): the public functions around the one definition in
 * `./model.ts`. Each checks its arguments once and runs the model on the backend of an engine
 * (`./engine.ts`).
 */
import type { Tensor } from "../tensor";
import { checkArg, checkFiniteParams, checkOptions, schema, withFiniteParams } from "../validate";
import { softplusRaw } from "../ops/reference/scalar";
import { reference } from "../ops/reference/index";
import { Ops, WatchedOps } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { checkMambaModel, resolveVariant } from "./checks";
import {
  ENGINE_OPTION,
  type MambaEngine,
  chunksOf,
  copyOut,
  idsColumns,
  resolveEngine,
  startCall,
  zeroStates,
} from "./engine";
import {
  type LayerState,
  MIXER_VARIANTS,
  type MambaModel,
  type MixerVariant,
  mambaBlock,
  mambaLM,
} from "./model";

/** Options of {@link mambaForward}. */
export interface MambaForwardOptions {
  /**
   * Which implementation runs the model (`./engine.ts`): "simd" (default for a float32 model:
   * WebAssembly SIMD kernels in float32), "simd-threads" (the same over worker threads) or
   * "typescript" (the reference ops, float64 sums; the default for a float64 model).
   */
  engine?: MambaEngine;
  /**
   * The mixer: "mamba", or one of Table 1's ablations "s6", "lti" and "mamba-lti" (see `MixerVariant`);
   * default: the model's `extraConfig.mamba_ts_variant`, else "mamba".
   */
  variant?: MixerVariant;
}

const VARIANT_OPTION = schema.optional(schema.oneOf(MIXER_VARIANTS));
const FORWARD_OPTIONS = schema.options({ engine: ENGINE_OPTION, variant: VARIANT_OPTION });

/**
 * The logits of a Mamba LM at every position (`./model.ts`: embedding, blocks, final norm, head).
 *
 * @param model from `initMamba` or `loadMambaCheckpoint` (float32, or float64 for gradient checks;
 *   16-bit weights kept by `loadMambaCheckpoint`'s `keep` included)
 * @param tokens (b, l) ids in [0, vocab_size): `{ shape: [b, l], data: Int32Array }` or number[][]
 * @returns logits (b, l, vocab_size) in the parameters' dtype
 */
export function mambaForward(
  model: MambaModel,
  tokens: TokenBatch,
  options: MambaForwardOptions = {},
): Tensor {
  const fn = "mambaForward";
  const m = checkMambaModel(fn, model, ["float32", "float64"], { half: true });
  const o = checkOptions(fn, "options", options, FORWARD_OPTIONS);
  const variant = resolveVariant(fn, m, o.variant);
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  const engine = resolveEngine(fn, m, o.engine, "simd");
  const [b, l] = shape;
  return withFiniteParams(fn, m.params, () =>
    engine === "typescript"
      ? mambaLM(new Ops(startCall(fn, m, engine)), m, ids, b, l, { variant })
      : chunkedLogits(fn, m, ids, b, l, engine, variant),
  );
}

/** {@link mambaForward} on a fast engine: chunk by chunk, carrying the states (`./engine.ts`). */
function chunkedLogits(
  fn: string,
  m: MambaModel,
  ids: Int32Array,
  b: number,
  l: number,
  engine: MambaEngine,
  variant: MixerVariant,
): Tensor {
  const V = m.config.vocab_size;
  const out = new Float32Array(b * l * V);
  const states = zeroStates(m, b);
  for (const [p0, p1] of chunksOf(b, l)) {
    const ops = new Ops(startCall(fn, m, engine));
    const logits = mambaLM(ops, m, idsColumns(ids, b, l, p0, p1), b, p1 - p0, { variant, states });
    for (let i = 0; i < b; i++)
      out.set(logits.data.subarray(i * (p1 - p0) * V, (i + 1) * (p1 - p0) * V), (i * l + p0) * V);
  }
  return { shape: [b, l, V], data: out };
}

const MIXER_OPTIONS = schema.options({
  engine: ENGINE_OPTION,
  returnState: schema.optional(schema.boolean()),
});

/** The state a block leaves behind after its last position (what decoding continues from). */
export type MambaBlockState = LayerState;

/**
 * One Mamba block (`./model.ts`'s `mambaBlock`) of layer `layer` on a normalised input u
 * (b, l, d) → out (b, l, d). With `returnState`, also the conv and SSM states after the last
 * position, (b, E, k) and (b, E, N), from which decoding would continue. `engine` as in
 * {@link mambaForward}.
 */
export function mambaMixer(
  model: MambaModel,
  layer: number,
  u: Tensor,
  options: { engine?: MambaEngine; returnState?: boolean } = {},
): { out: Tensor; state?: MambaBlockState } {
  const fn = "mambaMixer";
  const m = checkMambaModel(fn, model, ["float32", "float64"], { half: true });
  const c = m.config;
  checkArg(fn, "layer", layer, schema.integer({ min: 0, max: c.num_hidden_layers - 1 }));
  checkArg(
    fn,
    "u",
    u,
    schema.tensor({ shape: [null, null, c.hidden_size], axes: ["b", "l", "d"] }),
  );
  const o = checkOptions(fn, "options", options, MIXER_OPTIONS);
  checkFiniteParams(fn, m.params);
  const engine = resolveEngine(fn, m, o.engine, "simd");
  const b = u.shape[0];
  const state: LayerState | null = o.returnState ? zeroStates(m, b)[0] : null;
  const variant = resolveVariant(fn, m, undefined);
  const out = mambaBlock(new Ops(startCall(fn, m, engine)), m, layer, u, variant, state);
  const result = engine === "typescript" ? out : copyOut(out);
  return state ? { out: result, state } : { out: result };
}

/** What {@link mambaSelection} returns for one layer: the block's selection, per position. */
export interface LayerSelection {
  /** Δ = softplus(delta + dt_proj.bias), (b, l, E): how much each position writes into the state. */
  delta: Tensor;
  /** SiLU(z), (b, l, E): the gate on the scan's output (null for the "s6" and "lti" mixers). */
  gate: Tensor | null;
  /** B and C, (b, l, N) (or (E, N) for "lti"): what is written and what is read. */
  B: Tensor;
  C: Tensor;
}

/**
 * The selection of every layer on `tokens`: Δ, the gate, B and C as the model computes them in
 * `mambaForward` (the same run of `./model.ts`, watched at its scans; reference ops), for
 * looking at what a trained model writes into its state and when.
 *
 * @returns one {@link LayerSelection} per layer, tensors in the parameters' dtype
 */
export function mambaSelection(
  model: MambaModel,
  tokens: TokenBatch,
  options: Pick<MambaForwardOptions, "variant"> = {},
): LayerSelection[] {
  const fn = "mambaSelection";
  const m = checkMambaModel(fn, model, ["float32", "float64"]);
  const o = checkOptions(fn, "options", options, SELECTION_OPTIONS);
  const variant = resolveVariant(fn, m, o.variant);
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  checkFiniteParams(fn, m.params);
  const ops = new WatchedOps(reference);
  mambaLM(ops, m, ids, shape[0], shape[1], { variant });
  return ops.scans.map((a) => {
    const E = a.deltaBias.data.length;
    const delta = reference.zeros(a.delta.shape, a.delta);
    for (let i = 0; i < delta.data.length; i++)
      delta.data[i] = softplusRaw(a.delta.data[i] + a.deltaBias.data[i % E]);
    return { delta, gate: a.z ? reference.silu(a.z) : null, B: a.B, C: a.C };
  });
}

const SELECTION_OPTIONS = schema.options({ variant: VARIANT_OPTION });
