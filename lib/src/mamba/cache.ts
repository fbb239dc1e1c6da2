/**
 * Decoding a token at a time with a constant-size cache: Mamba's recurrent mode. Per layer the
 * cache holds the conv state (the last k inputs of every channel) and the SSM state h (E × N):
 * its size does not grow with the position, unlike a Transformer's KV cache. Both functions run
 * the model of `./model.ts` with these states: `mambaPrefill` on a whole prompt (the scan in
 * parallel mode), `mambaStep` on one token (l = 1, upstream's `Mamba.step`).
 */
import type { Tensor } from "../tensor";
import { checkArg, checkOptions, describe, schema, withFiniteParams } from "../validate";
import { Ops } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { checkMambaModel, resolveVariant } from "./checks";
import {
  ENGINE_OPTION,
  type MambaEngine,
  cacheStates,
  prefillInChunks,
  resolveEngine,
  startCall,
  stateShapes,
  zeroStates,
} from "./engine";
import { type MambaModel, type MixerVariant, mambaLM } from "./model";

/** The decoding state of a Mamba LM for a batch of sequences. */
export interface MambaCache {
  batch: number;
  /** Positions consumed so far. */
  position: number;
  /** Per layer: the last k pre-conv inputs, (b, E, k), oldest first. */
  conv: Tensor<Float32Array>[];
  /** Per layer: the SSM state, (b, E, N). */
  ssm: Tensor<Float32Array>[];
}

/** An empty cache (all zeros, position 0) for `batch` sequences. */
export function createMambaCache(model: MambaModel, batch: number): MambaCache {
  const fn = "createMambaCache";
  const m = checkMambaModel(fn, model, ["float32"], { half: true });
  checkArg(fn, "batch", batch, schema.integer({ min: 1, max: 1 << 16 }));
  const states = zeroStates(m, batch);
  return {
    batch,
    position: 0,
    conv: states.map((s) => s.conv),
    ssm: states.map((s) => s.ssm),
  };
}

/** Bytes of the cache: L · b · E · (k + N) float32 values, whatever the position. */
export function mambaCacheBytes(cache: MambaCache): number {
  checkCache("mambaCacheBytes", cache);
  let bytes = 0;
  for (const t of [...cache.conv, ...cache.ssm]) bytes += t.data.byteLength;
  return bytes;
}

function checkCache(fn: string, cache: unknown, model?: MambaModel): MambaCache {
  const c = cache as Partial<MambaCache> | null;
  if (
    c === null ||
    typeof c !== "object" ||
    !Array.isArray(c.conv) ||
    !Array.isArray(c.ssm) ||
    typeof c.batch !== "number"
  ) {
    throw new Error(
      `${fn}: argument 'cache' must be a cache from createMambaCache (got ${describe(cache)})`,
    );
  }
  if (model) {
    const { layers, conv, ssm } = stateShapes(model, c.batch);
    const fits = (ts: Tensor[], [b, E, n]: number[]) =>
      ts.length === layers &&
      ts.every((t) => t.data instanceof Float32Array && t.data.length === b * E * n);
    const ok = fits(c.conv, conv) && fits(c.ssm, ssm);
    if (!ok)
      throw new Error(
        `${fn}: argument 'cache' must be a cache made by createMambaCache for this model (got one that does not fit: made for another model?)`,
      );
  }
  return c as MambaCache;
}

/**
 * One decoding step: feeds one token per sequence, updates the cache in place, and returns the
 * logits for the next token, (b, vocab_size). It is the model of `./model.ts` on a sequence of
 * length 1 with the cache's states: per layer (u = RMSNorm(h), shapes (b, ·))
 *
 *   [x, z] = in_proj(u);  conv ← [conv[:, :, 1:], x];  x = SiLU(Σ_j conv[:, :, j] · w[:, 0, j] + bias)
 *   [δ, B, C] = x_proj(x);  h ← exp(ΔA) h + Δ B x;  y = (C·h + D x) · SiLU(z),  Δ = softplus(dt_proj(δ))
 *   h_stream += out_proj(y)
 *
 * Weights are not scanned for NaN here (that would cost as much as the step): the loaders,
 * `initMamba`, `mambaPrefill` and `mambaGenerate` refuse non-finite weights.
 * @param tokens (b) ids: number[] or Int32Array, b = cache.batch
 * @param options engine: "simd" (default), "simd-threads" or "typescript" (see `mambaForward`)
 */
export function mambaStep(
  model: MambaModel,
  cache: MambaCache,
  tokens: number[] | Int32Array,
  options: { engine?: MambaEngine } = {},
): Tensor<Float32Array> {
  const fn = "mambaStep";
  const m = checkMambaModel(fn, model, ["float32"], { half: true });
  checkCache(fn, cache, m);
  const o = checkOptions(fn, "options", options, ENGINE_OPTIONS);
  const batch = cache.batch;
  if (!(Array.isArray(tokens) || tokens instanceof Int32Array) || tokens.length !== batch) {
    throw new Error(
      `${fn}: argument 'tokens' must be an array of ${batch} ids (one per sequence of the cache) (got ${describe(tokens)})`,
    );
  }
  const { ids } = readTokens(fn, [Array.from(tokens)], m.config.vocab_size);
  const engine = resolveEngine(fn, m, o.engine, "simd");
  return stepRaw(fn, m, cache, ids, engine, resolveVariant(fn, m, undefined));
}

/** {@link mambaStep} for checked arguments (`mambaGenerate` calls it once per token). */
export function stepRaw(
  fn: string,
  model: MambaModel,
  cache: MambaCache,
  ids: Int32Array,
  engine: MambaEngine,
  variant: MixerVariant,
): Tensor<Float32Array> {
  const states = cacheStates(cache);
  const logits = mambaLM(
    new Ops(startCall(fn, model, engine, states)),
    model,
    ids,
    cache.batch,
    1,
    {
      variant,
      states,
    },
  );
  cache.position += 1;
  return { shape: [cache.batch, model.config.vocab_size], data: Float32Array.from(logits.data) };
}

const ENGINE_OPTIONS = schema.options({ engine: ENGINE_OPTION });

/**
 * Reads a prompt into an empty cache with one forward pass (the parallel mode) and returns the
 * logits of its last position, (b, vocab_size). Afterwards the cache is exactly what
 * {@link mambaStep} over the same tokens would have left. `engine` as in {@link mambaStep}; the
 * simd engines read the prompt in chunks of positions, carrying the states (`./engine.ts`).
 */
export function mambaPrefill(
  model: MambaModel,
  cache: MambaCache,
  tokens: TokenBatch,
  options: { engine?: MambaEngine } = {},
): Tensor<Float32Array> {
  const fn = "mambaPrefill";
  const m = checkMambaModel(fn, model, ["float32"], { half: true });
  checkCache(fn, cache, m);
  const o = checkOptions(fn, "options", options, ENGINE_OPTIONS);
  if (cache.position !== 0)
    throw new Error(
      `${fn}: argument 'cache' must be a fresh cache (position 0) (got position ${cache.position})`,
    );
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  if (shape[0] !== cache.batch)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch of ${cache.batch} sequences (the cache's batch) (got ${shape[0]})`,
    );
  if (shape[1] < 1)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch with at least one position (got length 0)`,
    );
  const engine = resolveEngine(fn, m, o.engine, "simd");
  const variant = resolveVariant(fn, m, undefined);
  return withFiniteParams(fn, m.params, () =>
    prefillRaw(fn, m, cache, ids, shape[1], engine, variant),
  );
}

/** {@link mambaPrefill} for checked arguments: ids (cache.batch, l). */
export function prefillRaw(
  fn: string,
  model: MambaModel,
  cache: MambaCache,
  ids: Int32Array,
  l: number,
  engine: MambaEngine,
  variant: MixerVariant,
): Tensor<Float32Array> {
  return prefillInChunks(fn, model, engine, cache, ids, l, (ops, chunk, length, states) =>
    mambaLM(ops, model, chunk, cache.batch, length, { variant, states, lastPositionOnly: true }),
  );
}
