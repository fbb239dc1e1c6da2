/**
 * Decoding with a KV cache. A Transformer's state after t tokens is every layer's rotated keys
 * and values of those t tokens: it grows linearly with the position (Mamba's stays constant).
 * Each step embeds one new token per sequence, appends its keys and values, and attends over
 * all of them: the same logits as `transformerForward` on the whole prefix, at O(t) cost per
 * token instead of O(t²).
 */
import { type Tensor } from "../tensor";
import { assertInteger, describe } from "../validate";
import { type LlamaConfig } from "./config";
import { attentionKernel, headMajorLayout, tokenMajorLayout } from "../ops/reference/attention";
import {
  type TokenBatch,
  type TransformerModel,
  checkActivationSize,
  checkTransformerModel,
  decoderForward,
  readTokenBatch,
} from "./model";

/**
 * The keys and values of every layer, (b, H_kv, capacity, head_dim) float32 each, of which the
 * first `position` slots along the third axis are filled. Capacity doubles when full.
 */
export interface TransformerCache {
  batch: number;
  /** Tokens seen so far: the absolute position of the next token. */
  position: number;
  capacity: number;
  keys: Float32Array[];
  values: Float32Array[];
}

const INITIAL_CAPACITY = 16;
/** Upper bound on cached positions (2^24 tokens; far beyond what fits in memory here). */
const MAX_POSITIONS = 1 << 24;

/**
 * An empty KV cache for `batch` sequences (position 0).
 *
 * @param model the model it will decode with (its layer count and KV heads size the cache)
 * @param batch number of sequences decoded together (default 1)
 */
export function createTransformerCache(model: TransformerModel, batch = 1): TransformerCache {
  const fn = "createTransformerCache";
  const c = checkTransformerModel(fn, model);
  assertInteger(`${fn}: batch`, batch, 1, 1 << 16);
  const size = batch * c.num_key_value_heads * INITIAL_CAPACITY * c.head_dim;
  const layers = c.num_hidden_layers;
  return {
    batch,
    position: 0,
    capacity: INITIAL_CAPACITY,
    keys: Array.from({ length: layers }, () => new Float32Array(size)),
    values: Array.from({ length: layers }, () => new Float32Array(size)),
  };
}

/**
 * Bytes a KV cache holds at a position (float32 keys and values of every layer and KV head):
 * 2 · num_hidden_layers · num_key_value_heads · head_dim · position · batch · 4. Mamba's state
 * does not depend on the position; this grows linearly with it.
 */
export function transformerCacheBytes(config: LlamaConfig, position: number, batch = 1): number {
  const fn = "transformerCacheBytes";
  if (config === null || typeof config !== "object") {
    throw new Error(`${fn}: argument 'config' must be a LlamaConfig (got ${describe(config)})`);
  }
  assertInteger(`${fn}: position`, position, 0);
  assertInteger(`${fn}: batch`, batch, 1);
  const perToken = 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 4;
  return perToken * position * batch;
}

function checkCache(fn: string, cache: unknown, config: LlamaConfig): TransformerCache {
  const c = cache as TransformerCache | null;
  if (
    c === null ||
    typeof c !== "object" ||
    !Array.isArray(c.keys) ||
    !Array.isArray(c.values) ||
    c.keys.length !== config.num_hidden_layers ||
    c.values.length !== config.num_hidden_layers ||
    !Number.isInteger(c.position) ||
    !Number.isInteger(c.capacity) ||
    c.keys.some(
      (k) =>
        !(k instanceof Float32Array) ||
        k.length !== c.batch * config.num_key_value_heads * c.capacity * config.head_dim,
    )
  ) {
    throw new Error(
      `${fn}: argument 'cache' must be a cache from createTransformerCache(model) for this model (got ${describe(cache)})`,
    );
  }
  return c;
}

/** Doubles the cache's capacity until `needed` positions fit, copying the filled slots. */
function ensureCapacity(cache: TransformerCache, config: LlamaConfig, needed: number): void {
  if (needed <= cache.capacity) return;
  let capacity = cache.capacity;
  while (capacity < needed) capacity *= 2;
  const rows = cache.batch * config.num_key_value_heads;
  const hd = config.head_dim;
  const grow = (old: Float32Array): Float32Array => {
    const next = new Float32Array(rows * capacity * hd);
    for (let r = 0; r < rows; r++) {
      next.set(
        old.subarray(r * cache.capacity * hd, (r * cache.capacity + cache.position) * hd),
        r * capacity * hd,
      );
    }
    return next;
  };
  cache.keys = cache.keys.map(grow);
  cache.values = cache.values.map(grow);
  cache.capacity = capacity;
}

/**
 * Appends tokens (b, l) to the cache and returns the logits at their positions (b, l, vocab).
 * Shared by {@link transformerStep} (l = 1) and {@link transformerPrefill}.
 */
function feed(
  fn: string,
  model: TransformerModel,
  cache: TransformerCache,
  tokens: TokenBatch,
  config: LlamaConfig,
): Tensor {
  const c = cache;
  if (tokens.batch !== c.batch) {
    throw new Error(
      `${fn}: argument 'tokens' must be a batch of ${c.batch} sequences (the cache's batch) (got ${tokens.batch})`,
    );
  }
  const start = c.position;
  const l = tokens.length;
  if (start + l > MAX_POSITIONS) {
    throw new Error(
      `${fn}: argument 'tokens' must fit in the cache's ${MAX_POSITIONS} positions (got ${l} more at position ${start})`,
    );
  }
  checkActivationSize(fn, config, tokens.batch * l);
  ensureCapacity(c, config, start + l);
  const heads = config.num_attention_heads;
  const kvHeads = config.num_key_value_heads;
  const hd = config.head_dim;
  const newL = tokenMajorLayout(l, kvHeads, hd);
  const qL = tokenMajorLayout(l, heads, hd);
  const attend = (layer: number, q: Float32Array, k: Float32Array, v: Float32Array) => {
    const cacheL = headMajorLayout(c.capacity, kvHeads, hd);
    // Append the new tokens' keys and values at positions start … start + l − 1.
    for (let b = 0; b < c.batch; b++) {
      for (let g = 0; g < kvHeads; g++) {
        for (let t = 0; t < l; t++) {
          const src = b * newL.sb + g * newL.sh + t * newL.sl;
          const dst = b * cacheL.sb + g * cacheL.sh + (start + t) * cacheL.sl;
          c.keys[layer].set(k.subarray(src, src + hd), dst);
          c.values[layer].set(v.subarray(src, src + hd), dst);
        }
      }
    }
    const out = new Float32Array(c.batch * l * heads * hd);
    const dims = {
      batch: c.batch,
      heads,
      kvHeads,
      queries: l,
      keys: start + l,
      headDim: hd,
      offset: start,
    };
    attentionKernel(dims, q, qL, c.keys[layer], cacheL, c.values[layer], cacheL, out, qL);
    return out;
  };
  const logits = decoderForward(model, tokens, start, attend);
  c.position = start + l;
  return logits;
}

/** The logits of the last position of (b, l, vocab) logits: (b, vocab). */
function lastPosition(logits: Tensor): Tensor {
  const [b, l, v] = logits.shape;
  const out = new Float32Array(b * v);
  for (let i = 0; i < b; i++)
    out.set(logits.data.subarray(((i + 1) * l - 1) * v, (i + 1) * l * v), i * v);
  return { shape: [b, v], data: out };
}

/**
 * One decoding step: feeds one token per sequence at position `cache.position`, appends its
 * keys and values to the cache (updated in place; its position advances by 1) and attends over
 * all cached positions. Per layer, the equations of `transformerForward` for that one position.
 *
 * @param tokens (b) ids, number[] or Int32Array, b = cache.batch
 * @returns logits for the next token, (b, vocab_size) float32: equal (to float32 rounding) to
 *   `transformerForward` on the whole sequence so far, at its last position
 */
export function transformerStep(
  model: TransformerModel,
  cache: TransformerCache,
  tokens: number[] | Int32Array,
): Tensor {
  const fn = "transformerStep";
  const config = checkTransformerModel(fn, model);
  const c = checkCache(fn, cache, config);
  if (!(Array.isArray(tokens) || tokens instanceof Int32Array) || tokens.length !== c.batch) {
    throw new Error(
      `${fn}: argument 'tokens' must be an array of ${c.batch} ids (one per sequence of the cache) (got ${describe(tokens)})`,
    );
  }
  tokens.forEach((id: number, i: number) => {
    if (!Number.isInteger(id)) {
      throw new Error(
        `${fn}: argument 'tokens' must be an array of integer ids (got ${describe(id)} at index ${i})`,
      );
    }
  });
  const batch = readTokenBatch(
    fn,
    { shape: [c.batch, 1], data: Int32Array.from(tokens) },
    config.vocab_size,
  );
  return lastPosition(feed(fn, model, c, batch, config));
}

/**
 * Reads a prompt (b, l) into the cache in one pass (causal attention among the prompt's tokens
 * and to whatever the cache already holds), leaving the cache exactly as l calls of
 * {@link transformerStep} would, and returns the logits of its last position (b, vocab_size).
 *
 * @param tokens (b, l) ids as in `transformerForward`, l >= 1, b = cache.batch
 */
export function transformerPrefill(
  model: TransformerModel,
  cache: TransformerCache,
  tokens: { shape: number[]; data: Int32Array } | number[][],
): Tensor {
  const fn = "transformerPrefill";
  const config = checkTransformerModel(fn, model);
  const c = checkCache(fn, cache, config);
  const batch = readTokenBatch(fn, tokens, config.vocab_size);
  if (batch.length === 0)
    throw new Error(
      `${fn}: argument 'tokens' must be a batch with at least one position (got length 0)`,
    );
  return lastPosition(feed(fn, model, c, batch, config));
}
