/**
 * Decoding with a KV cache. A Transformer's state after t tokens is every layer's rotated keys
 * and values of those t tokens: it grows linearly with the position (Mamba's stays constant).
 * `transformerPrefill` (a prompt, or a chunk of one) and `transformerStep` (one token) run the
 * model of `./model.ts` with the cache's per-layer `LayerKV`s: each layer appends the new keys
 * and values and attends over all of them, which gives the logits of `transformerForward` on the
 * whole prefix at O(t) cost per token instead of O(t²).
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, checkOptions, describe, schema } from "../validate";
import type { Backend, LayerKV } from "../ops/backend";
import { runInference } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { type LlamaConfig, checkLlamaConfig } from "./config";
import { checkActivationSize, checkTransformerModel } from "./checks";
import { type TransformerModel, llamaLM } from "./model";
import { ENGINE_OPTION, type InferenceEngine, inferenceBackend } from "./forward";

/** Options of {@link transformerPrefill} and {@link transformerStep}. */
export interface TransformerDecodeOptions {
  /** "simd" (default) or "typescript" (see `InferenceEngine`). */
  engine?: InferenceEngine;
}

const DECODE_OPTIONS = schema.options({ engine: ENGINE_OPTION });

/**
 * The keys and values of every layer for `batch` sequences: per layer a `LayerKV`, keys and
 * values (b, capacity, H_kv · head_dim) float32 each, of which the first `position` rows per
 * sequence are filled. The capacity starts at 16 and doubles when full.
 */
export interface TransformerCache {
  batch: number;
  /** Tokens seen so far: the absolute position of the next token. */
  position: number;
  /** Positions the arrays hold before they must grow. */
  capacity: number;
  /** One per layer; each `length` equals `position`. */
  layers: LayerKV[];
}

const INITIAL_CAPACITY = 16;
/** Upper bound on cached positions (2^24 tokens; far beyond what fits in memory here). */
const MAX_POSITIONS = 1 << 24;

/** An empty cache for `batch` sequences (arguments already checked). */
export function emptyTransformerCache(config: LlamaConfig, batch: number): TransformerCache {
  const width = config.num_key_value_heads * config.head_dim;
  const slots = (): Tensor => ({
    shape: [batch, INITIAL_CAPACITY, width],
    data: new Float32Array(batch * INITIAL_CAPACITY * width),
  });
  const layers = Array.from({ length: config.num_hidden_layers }, () => ({
    k: slots(),
    v: slots(),
    length: 0,
  }));
  return { batch, position: 0, capacity: INITIAL_CAPACITY, layers };
}

/**
 * An empty KV cache for `batch` sequences (position 0).
 *
 * @param model the model it will decode with (its layer count and KV heads size the cache)
 * @param batch number of sequences decoded together (default 1)
 */
export function createTransformerCache(model: TransformerModel, batch = 1): TransformerCache {
  const fn = "createTransformerCache";
  const config = checkTransformerModel(fn, model);
  checkArg(fn, "batch", batch, schema.integer({ min: 1, max: 1 << 16 }));
  return emptyTransformerCache(config, batch);
}

/**
 * Bytes a KV cache holds at a position (float32 keys and values of every layer and KV head):
 * 2 · num_hidden_layers · num_key_value_heads · head_dim · position · batch · 4. Mamba's state
 * does not depend on the position; this grows linearly with it.
 */
export function transformerCacheBytes(config: LlamaConfig, position: number, batch = 1): number {
  const fn = "transformerCacheBytes";
  const c = checkLlamaConfig(fn, "config", config, { allowUnknown: false }).config;
  checkArg(fn, "position", position, schema.integer({ min: 0 }));
  checkArg(fn, "batch", batch, schema.integer({ min: 1 }));
  return kvCacheBytes(c, position, batch);
}

/** {@link transformerCacheBytes} of checked arguments. */
export function kvCacheBytes(config: LlamaConfig, position: number, batch: number): number {
  const perToken = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 4;
  return perToken * position * batch;
}

/** Checks that `cache` is a cache of `createTransformerCache` for a model of `config`. */
function checkCache(fn: string, cache: unknown, config: LlamaConfig): TransformerCache {
  const c = cache as Partial<TransformerCache> | null;
  const width = config.num_key_value_heads * config.head_dim;
  // Keys or values of one layer: float32 (b, capacity, H_kv · head_dim).
  const fits = (t: Tensor | null | undefined): boolean =>
    !!t &&
    t.data instanceof Float32Array &&
    Array.isArray(t.shape) &&
    t.shape.length === 3 &&
    t.shape[0] === c!.batch &&
    t.shape[1] === c!.capacity &&
    t.shape[2] === width &&
    t.data.length === c!.batch! * c!.capacity! * width;
  if (
    c === null ||
    typeof c !== "object" ||
    !Number.isInteger(c.batch) ||
    !Number.isInteger(c.position) ||
    !Number.isInteger(c.capacity) ||
    c.position! > c.capacity! ||
    !Array.isArray(c.layers) ||
    c.layers.length !== config.num_hidden_layers ||
    c.layers.some((kv) => !fits(kv?.k) || !fits(kv?.v) || kv.length !== c.position)
  ) {
    throw new Error(
      `${fn}: argument 'cache' must be a cache from createTransformerCache(model) for this model (got ${describe(cache)})`,
    );
  }
  return c as TransformerCache;
}

/**
 * Checks that `length` more positions of a batch of `batch` sequences fit `cache`, and what
 * feeding them `chunk` at a time may allocate; `fn` is the function the user called.
 */
export function checkDecodeSize(
  fn: string,
  config: LlamaConfig,
  cache: TransformerCache,
  batch: number,
  length: number,
  chunk = length,
): void {
  if (batch !== cache.batch) {
    throw argumentError(
      fn,
      "tokens",
      `a batch of ${cache.batch} sequences (the cache's batch) (got ${batch})`,
    );
  }
  if (cache.position + length > MAX_POSITIONS) {
    throw argumentError(
      fn,
      "tokens",
      `a batch that fits in the cache's ${MAX_POSITIONS} positions (got ${length} more at position ${cache.position})`,
    );
  }
  checkActivationSize(fn, config, batch * chunk);
}

/** Doubles the cache's capacity until `needed` positions fit, copying the filled rows. */
function ensureCapacity(cache: TransformerCache, needed: number): void {
  if (needed <= cache.capacity) return;
  let capacity = cache.capacity;
  while (capacity < needed) capacity *= 2;
  const grow = (t: Tensor): Tensor => {
    const [b, old, width] = t.shape;
    const data = new Float32Array(b * capacity * width);
    for (let i = 0; i < b; i++)
      data.set(
        t.data.subarray(i * old * width, (i * old + cache.position) * width),
        i * capacity * width,
      );
    return { shape: [b, capacity, width], data };
  };
  for (const kv of cache.layers) {
    kv.k = grow(kv.k);
    kv.v = grow(kv.v);
  }
  cache.capacity = capacity;
}

/**
 * Feeds tokens (b, l) (ids row-major, arguments already checked) after the cached positions:
 * the model of `./model.ts` on `backend` with the cache's layers, which it updates; returns the
 * logits of the last new position, (b, vocab_size) float32.
 */
export function decodeTokens(
  model: TransformerModel,
  cache: TransformerCache,
  ids: Int32Array,
  length: number,
  backend: Backend,
): Tensor<Float32Array> {
  ensureCapacity(cache, cache.position + length);
  const logits = runInference(backend, (ops) =>
    llamaLM(ops, model, ids, cache.batch, length, {
      caches: cache.layers,
      lastPositionOnly: true,
    }),
  );
  cache.position += length;
  return { shape: [cache.batch, model.config.vocab_size], data: logits.data as Float32Array };
}

/**
 * One decoding step: feeds one token per sequence at position `cache.position`, appends its
 * keys and values to the cache (updated in place; its position advances by 1) and attends over
 * all cached positions: the model of `./model.ts` on a sequence of length 1.
 * Weights are not scanned for NaN here (that would cost as much as the step): the loaders,
 * `initTransformer`, `transformerPrefill` and `transformerGenerate` refuse non-finite weights.
 *
 * @param tokens (b) ids, number[] or Int32Array, b = cache.batch
 * @param options engine: "simd" (default) or "typescript"
 * @returns logits for the next token, (b, vocab_size) float32: equal (to float32 rounding) to
 *   `transformerForward` on the whole sequence so far, at its last position
 */
export function transformerStep(
  model: TransformerModel,
  cache: TransformerCache,
  tokens: number[] | Int32Array,
  options: TransformerDecodeOptions = {},
): Tensor<Float32Array> {
  const fn = "transformerStep";
  const config = checkTransformerModel(fn, model);
  const c = checkCache(fn, cache, config);
  const o = checkOptions(fn, "options", options, DECODE_OPTIONS);
  if (!(Array.isArray(tokens) || tokens instanceof Int32Array) || tokens.length !== c.batch) {
    throw argumentError(
      fn,
      "tokens",
      `an array of ${c.batch} ids (one per sequence of the cache) (got ${describe(tokens)})`,
    );
  }
  const { ids } = readTokens(fn, [Array.from(tokens)], config.vocab_size);
  checkDecodeSize(fn, config, c, c.batch, 1);
  return decodeTokens(model, c, ids, 1, inferenceBackend(o.engine));
}

/**
 * Reads a prompt (b, l) into the cache in one pass (causal attention among the prompt's tokens
 * and to whatever the cache already holds), leaving the cache exactly as l calls of
 * {@link transformerStep} would, and returns the logits of its last position (b, vocab_size).
 *
 * @param tokens (b, l) ids as in `transformerForward`, l >= 1, b = cache.batch
 * @param options engine: "simd" (default) or "typescript"
 */
export function transformerPrefill(
  model: TransformerModel,
  cache: TransformerCache,
  tokens: TokenBatch,
  options: TransformerDecodeOptions = {},
): Tensor<Float32Array> {
  const fn = "transformerPrefill";
  const config = checkTransformerModel(fn, model, { finite: true });
  const c = checkCache(fn, cache, config);
  const o = checkOptions(fn, "options", options, DECODE_OPTIONS);
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, config.vocab_size);
  if (l === 0)
    throw argumentError(fn, "tokens", "a batch with at least one position (got length 0)");
  checkDecodeSize(fn, config, c, b, l);
  return decodeTokens(model, c, ids, l, inferenceBackend(o.engine));
}
