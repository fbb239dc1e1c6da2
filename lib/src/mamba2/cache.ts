/**
 * Decoding a token at a time with a constant-size cache: Mamba-2's recurrent mode. Per layer the
 * cache holds the conv state (the last k inputs of the E + 2GN conv channels) and the SSM state
 * of every head (H × P × N); its size does not grow with the position. Both functions run the
 * model of `./model.ts` with these states: `mamba2Prefill` on a whole prompt (the chunked SSD),
 * `mamba2Step` on one token (l = 1: transformers' `mamba2_selective_state_update`, upstream's
 * `Mamba2.step`). Both take an `engine` as Mamba's decoding does (`../mamba/engine.ts`): "simd"
 * (the default) or "simd-threads" run the products on WebAssembly SIMD kernels reading the
 * weights in place, "typescript" is the float64-sum reference the tests compare them with.
 */
import type { Tensor } from "../tensor";
import { checkArg, checkOptions, describe, schema, withFiniteParams } from "../validate";
import { Ops } from "../ops/tape";
import {
  ENGINE_OPTION,
  type MambaEngine,
  cacheStates,
  prefillInChunks,
  resolveEngine,
  startCall,
} from "../mamba/engine";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { mamba2Widths } from "./config";
import { checkMamba2Model } from "./checks";
import { type Mamba2Model, mamba2LM } from "./model";

/** The decoding state of a Mamba-2 LM for a batch of sequences. */
export interface Mamba2Cache {
  batch: number;
  /** Positions consumed so far. */
  position: number;
  /** Per layer: the last k pre-conv inputs (x, B, C), (b, E + 2GN, k), oldest first. */
  conv: Tensor<Float32Array>[];
  /** Per layer: the SSM states, (b, H, P, N). */
  ssm: Tensor<Float32Array>[];
}

/** The shapes of one layer's conv and SSM states for `batch` sequences. */
function stateShapes(model: Mamba2Model, batch: number): { conv: number[]; ssm: number[] } {
  const c = model.config;
  return {
    conv: [batch, mamba2Widths(c).convDim, c.conv_kernel],
    ssm: [batch, c.num_heads, c.head_dim, c.state_size],
  };
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** An empty cache (all zeros, position 0) for `batch` sequences. */
export function createMamba2Cache(model: Mamba2Model, batch: number): Mamba2Cache {
  const fn = "createMamba2Cache";
  const m = checkMamba2Model(fn, model);
  checkArg(fn, "batch", batch, schema.integer({ min: 1, max: 1 << 16 }));
  const shapes = stateShapes(m, batch);
  const conv: Tensor<Float32Array>[] = [];
  const ssm: Tensor<Float32Array>[] = [];
  for (let i = 0; i < m.config.num_hidden_layers; i++) {
    conv.push({ shape: shapes.conv, data: new Float32Array(size(shapes.conv)) });
    ssm.push({ shape: shapes.ssm, data: new Float32Array(size(shapes.ssm)) });
  }
  return { batch, position: 0, conv, ssm };
}

/** Bytes of the cache: layers · b · ((E + 2GN) · k + H · P · N) float32 values, at any position. */
export function mamba2CacheBytes(cache: Mamba2Cache): number {
  const c = checkCache("mamba2CacheBytes", cache);
  let bytes = 0;
  for (const t of [...c.conv, ...c.ssm]) bytes += t.data.byteLength;
  return bytes;
}

function checkCache(fn: string, cache: unknown, model?: Mamba2Model): Mamba2Cache {
  const c = cache as Partial<Mamba2Cache> | null;
  if (
    c === null ||
    typeof c !== "object" ||
    !Array.isArray(c.conv) ||
    !Array.isArray(c.ssm) ||
    typeof c.batch !== "number" ||
    typeof c.position !== "number"
  )
    throw new Error(
      `${fn}: argument 'cache' must be a cache from createMamba2Cache (got ${describe(cache)})`,
    );
  if (model) {
    const shapes = stateShapes(model, c.batch);
    const fits = (ts: Tensor[], shape: number[]) =>
      ts.length === model.config.num_hidden_layers &&
      ts.every((t) => t.data instanceof Float32Array && t.data.length === size(shape));
    if (!fits(c.conv, shapes.conv) || !fits(c.ssm, shapes.ssm))
      throw new Error(
        `${fn}: argument 'cache' must be a cache made by createMamba2Cache for this model (got one that does not fit: made for another model?)`,
      );
  }
  return c as Mamba2Cache;
}

/**
 * One decoding step: feeds one token per sequence, updates the cache in place, and returns the
 * logits for the next token, (b, vocab_size). It is the model of `./model.ts` on a sequence of
 * length 1 with the cache's states; per layer and head (u = RMSNorm(h)):
 *
 *   [z, xBC, dt] = in_proj(u);  conv ← [conv[:, :, 1:], xBC];  [x, B, C] = SiLU(conv · w + bias)
 *   Δ = clamp(softplus(dt + dt_bias));  h ← exp(Δ A) h + Δ x Bᵀ;  y = h C + D x
 *   h_stream += out_proj(RMSNorm(y ⊙ SiLU(z)) · norm.weight)
 *
 * Δ is clamped to `time_step_limit` as in the forward, so a step always equals the forward;
 * transformers' decoding step (and `Mamba2.step` upstream) skip the clamp, which matters only
 * for a limit other than the default [0, ∞].
 *
 * Weights are not scanned for NaN here (that would cost as much as the step): the loaders,
 * `initMamba2`, `mamba2Prefill` and `mamba2Generate` refuse non-finite weights.
 * @param tokens (b) ids: number[] or Int32Array, b = cache.batch
 * @param options engine: "simd" (default), "simd-threads" or "typescript"
 */
export function mamba2Step(
  model: Mamba2Model,
  cache: Mamba2Cache,
  tokens: number[] | Int32Array,
  options: { engine?: MambaEngine } = {},
): Tensor<Float32Array> {
  const fn = "mamba2Step";
  const m = checkMamba2Model(fn, model);
  const c = checkCache(fn, cache, m);
  const o = checkOptions(fn, "options", options, ENGINE_OPTIONS);
  if (!(Array.isArray(tokens) || tokens instanceof Int32Array) || tokens.length !== c.batch)
    throw new Error(
      `${fn}: argument 'tokens' must be an array of ${c.batch} ids (one per sequence of the cache) (got ${describe(tokens)})`,
    );
  const { ids } = readTokens(fn, [Array.from(tokens)], m.config.vocab_size);
  return stepRaw(fn, m, c, ids, resolveEngine(fn, m, o.engine, "simd"));
}

/** {@link mamba2Step} for checked arguments (`mamba2Generate` calls it once per token). */
export function stepRaw(
  fn: string,
  model: Mamba2Model,
  cache: Mamba2Cache,
  ids: Int32Array,
  engine: MambaEngine,
): Tensor<Float32Array> {
  const states = cacheStates(cache);
  const ops = new Ops(startCall(fn, model, engine, states));
  const logits = mamba2LM(ops, model, ids, cache.batch, 1, { states });
  cache.position += 1;
  return { shape: [cache.batch, model.config.vocab_size], data: Float32Array.from(logits.data) };
}

const ENGINE_OPTIONS = schema.options({ engine: ENGINE_OPTION });

/**
 * Reads a prompt into an empty cache with one forward pass (the chunked SSD) and returns the
 * logits of its last position, (b, vocab_size). Afterwards the cache is what {@link mamba2Step}
 * over the same tokens would have left. `engine` as in {@link mamba2Step}; the simd engines read
 * the prompt in chunks of positions, carrying the states, as `mambaPrefill` does.
 */
export function mamba2Prefill(
  model: Mamba2Model,
  cache: Mamba2Cache,
  tokens: TokenBatch,
  options: { engine?: MambaEngine } = {},
): Tensor<Float32Array> {
  const fn = "mamba2Prefill";
  const m = checkMamba2Model(fn, model);
  const c = checkCache(fn, cache, m);
  const o = checkOptions(fn, "options", options, ENGINE_OPTIONS);
  if (c.position !== 0)
    throw new Error(
      `${fn}: argument 'cache' must be a fresh cache (position 0) (got position ${c.position})`,
    );
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  if (shape[0] !== c.batch)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch of ${c.batch} sequences (the cache's batch) (got ${shape[0]})`,
    );
  if (shape[1] < 1)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch with at least one position (got length 0)`,
    );
  const engine = resolveEngine(fn, m, o.engine, "simd");
  return withFiniteParams(fn, m.params, () => prefillRaw(fn, m, c, ids, shape[1], engine));
}

/** {@link mamba2Prefill} for checked arguments: ids (cache.batch, l). */
export function prefillRaw(
  fn: string,
  model: Mamba2Model,
  cache: Mamba2Cache,
  ids: Int32Array,
  l: number,
  engine: MambaEngine,
): Tensor<Float32Array> {
  return prefillInChunks(fn, model, engine, cache, ids, l, (ops, chunk, length, states) =>
    mamba2LM(ops, model, chunk, cache.batch, length, { states, lastPositionOnly: true }),
  );
}
