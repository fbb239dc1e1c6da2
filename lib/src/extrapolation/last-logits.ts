/**
 * The next-token logits at the LAST position of long sequences, for a Mamba LM and for the
 * Transformer++, without the memory a full forward would need: no (l, vocab) logits, no (l, l)
 * attention scores (lesson 11, length extrapolation).
 *
 * - Mamba (recurrent mode, constant memory): the first `prefill` tokens go through one parallel
 *   forward (`mambaPrefill`), the rest through `mambaStep`, one position at a time, both on the
 *   "simd" inference engine by default (`mamba/engine.ts`). What is kept
 *   is the state of every layer, L · b · E · (k + N) float32 values (`mambaCacheBytes`), plus the
 *   prefill's activations (b · prefill · widest activation); neither grows with l.
 * - Mamba-2, the same way (`mamba2Prefill`, then `mamba2Step`): per layer the conv state and
 *   each head's P × N state (`mamba2CacheBytes`).
 * - Transformer++ (chunked prefill into a KV cache): what `transformerPrefill` runs, over chunks
 *   of `chunk` tokens (the arguments checked once). Kept: the KV cache, 2 · layers · H_kv · head_dim float32 values per token and
 *   sequence, which grows linearly with l, plus one row of attention scores (l float64 values)
 *   and one chunk's activations. {@link attentionEvalBytes} counts the part that grows with l, and
 *   a `budgetBytes` refuses a length whose cache and scores would exceed it.
 *
 * Each gives the logits of `mambaForward` / `mamba2Forward` / `transformerForward` at position
 * l − 1 (to float32 rounding: the same equations, summed in another order).
 */
import { type Tensor } from "../tensor";
import { schema, checkArg, checkFiniteParams, checkOptions, describe } from "../validate";
import type { MambaModel } from "../mamba/model";
import { checkMambaModel } from "../mamba/checks";
import { createMambaCache, mambaPrefill, mambaStep } from "../mamba/cache";
import { ENGINE_OPTION as MAMBA_ENGINE_OPTION, type MambaEngine } from "../mamba/engine";
import type { Mamba2Model } from "../mamba2/model";
import { checkMamba2Model } from "../mamba2/checks";
import { createMamba2Cache, prefillRaw, stepRaw } from "../mamba2/cache";
import { resolveEngine } from "../mamba/engine";
import { readTokens } from "../lm/tokens";
import { type LlamaConfig, checkLlamaConfig } from "../transformer/config";
import type { TransformerModel } from "../transformer/model";
import { checkTransformerModel } from "../transformer/checks";
import { checkDecodeSize, decodeTokens, emptyTransformerCache } from "../transformer/kv-cache";
import { ENGINE_OPTION, type InferenceEngine, inferenceBackend } from "../transformer/forward";

/** Prefill length of {@link mambaLastLogits} by default (positions run in parallel mode). */
export const DEFAULT_MAMBA_PREFILL = 4096;
/** Chunk length of {@link transformerLastLogits} by default. */
export const DEFAULT_ATTENTION_CHUNK = 1024;

/** Slots a KV cache of `createTransformerCache` holds for `length` positions (16, doubling). */
function cacheCapacity(length: number): number {
  let capacity = 16;
  while (capacity < length) capacity *= 2;
  return capacity;
}

/**
 * Bytes that evaluating a Transformer++ at `length` holds and that grow with the length: the KV
 * cache, 2 · num_hidden_layers · num_key_value_heads · head_dim · capacity · batch float32 values
 * (capacity = the cache's slots, the power of two 16 · 2^j ≥ length, since the cache doubles),
 * plus one row of attention scores, `length` float64 values. A chunk's activations are bounded by
 * the chunk length and not counted.
 *
 * @param config the model's LlamaConfig
 * @param length sequence length l ≥ 1
 * @param batch sequences evaluated together (default 1)
 */
export function attentionEvalBytes(config: LlamaConfig, length: number, batch = 1): number {
  const fn = "attentionEvalBytes";
  const c = checkLlamaConfig(fn, "config", config, { allowUnknown: false }).config;
  checkArg(fn, "length", length, schema.integer({ min: 1, max: 2 ** 30 }));
  checkArg(fn, "batch", batch, schema.integer({ min: 1, max: 2 ** 16 }));
  const perSlot = 2 * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * 4;
  return perSlot * cacheCapacity(length) * batch + 8 * length;
}

const MAMBA_OPTIONS = schema.options({
  prefill: schema.optional(schema.integer({ min: 1, max: 2 ** 20 })),
  engine: MAMBA_ENGINE_OPTION,
});

/**
 * Mamba's logits at the last position of every sequence, in recurrent mode after a parallel
 * prefill (module comment): equal to `mambaForward(model, tokens)` at position l − 1.
 *
 * @param tokens (b, l) ids, l ≥ 1
 * @param options prefill: positions read by one parallel forward first (default 4096); engine:
 *   what `mambaPrefill` and `mambaStep` run on ("simd" by default, as theirs)
 * @returns (b, vocab_size) float32
 */
export function mambaLastLogits(
  model: MambaModel,
  tokens: { shape: number[]; data: Int32Array } | number[][],
  options: { prefill?: number; engine?: MambaEngine } = {},
): Tensor<Float32Array> {
  const fn = "mambaLastLogits";
  checkMambaModel(fn, model);
  const { prefill = DEFAULT_MAMBA_PREFILL, engine } = checkOptions(
    fn,
    "options",
    options,
    MAMBA_OPTIONS,
  );
  const run = engine === undefined ? {} : { engine };
  const { ids, shape } = readTokens(fn, tokens, model.config.vocab_size);
  const cache = createMambaCache(model, shape[0]);
  return recurrentLastLogits(
    fn,
    ids,
    shape,
    prefill,
    (head, b, p) => mambaPrefill(model, cache, { shape: [b, p], data: head }, run),
    (column) => mambaStep(model, cache, column, run),
  );
}

/**
 * The last position's logits of (b, l) ids: the first `prefill` positions through `prefillFn`
 * (ids (b, p) → logits), the rest one position at a time through `step` (ids (b) → logits).
 */
function recurrentLastLogits(
  fn: string,
  ids: Int32Array,
  [b, l]: number[],
  prefill: number,
  prefillFn: (head: Int32Array, b: number, p: number) => Tensor<Float32Array>,
  step: (column: Int32Array) => Tensor<Float32Array>,
): Tensor<Float32Array> {
  if (l < 1) throw new Error(`${fn}: argument 'tokens' must have at least one position (got 0)`);
  const p = Math.min(prefill, l);
  const head = new Int32Array(b * p);
  for (let i = 0; i < b; i++) head.set(ids.subarray(i * l, i * l + p), i * p);
  let logits = prefillFn(head, b, p);
  const column = new Int32Array(b);
  for (let t = p; t < l; t++) {
    for (let i = 0; i < b; i++) column[i] = ids[i * l + t];
    logits = step(column);
  }
  return logits;
}

/**
 * Mamba-2's logits at the last position of every sequence, in recurrent mode after a parallel
 * prefill, as {@link mambaLastLogits} does for Mamba: equal to `mamba2Forward(model, tokens)` at
 * position l − 1.
 *
 * @param tokens (b, l) ids, l ≥ 1
 * @param options prefill: positions read by one parallel forward first (default 4096); engine:
 *   what `mamba2Prefill` and `mamba2Step` run on ("simd" by default, as theirs)
 * @returns (b, vocab_size) float32
 */
export function mamba2LastLogits(
  model: Mamba2Model,
  tokens: { shape: number[]; data: Int32Array } | number[][],
  options: { prefill?: number; engine?: MambaEngine } = {},
): Tensor<Float32Array> {
  const fn = "mamba2LastLogits";
  const m = checkMamba2Model(fn, model);
  const { prefill = DEFAULT_MAMBA_PREFILL, engine } = checkOptions(
    fn,
    "options",
    options,
    MAMBA_OPTIONS,
  );
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  checkFiniteParams(fn, m.params);
  const run = resolveEngine(fn, m, engine, "simd");
  const cache = createMamba2Cache(m, shape[0]);
  return recurrentLastLogits(
    fn,
    ids,
    shape,
    prefill,
    (head, _b, p) => prefillRaw(fn, m, cache, head, p, run),
    (column) => stepRaw(fn, m, cache, column, run),
  );
}

const ATTENTION_OPTIONS = schema.options({
  chunk: schema.optional(schema.integer({ min: 1, max: 2 ** 20 })),
  budgetBytes: schema.optional(schema.positive()),
  engine: ENGINE_OPTION,
});

/**
 * The Transformer++'s logits at the last position of every sequence, by chunked prefill into a
 * KV cache (module comment): equal to `transformerForward(model, tokens)` at position l − 1.
 *
 * @param tokens (b, l) ids, l ≥ 1
 * @param options chunk: positions per prefill call (default 1024); budgetBytes: refuse (with an
 *   Error naming both numbers) when {@link attentionEvalBytes}(config, l, b) exceeds it;
 *   engine: "simd" (default) or "typescript" (see `InferenceEngine`)
 * @returns (b, vocab_size) float32
 */
export function transformerLastLogits(
  model: TransformerModel,
  tokens: { shape: number[]; data: Int32Array } | number[][],
  options: { chunk?: number; budgetBytes?: number; engine?: InferenceEngine } = {},
): Tensor {
  const fn = "transformerLastLogits";
  const config = checkTransformerModel(fn, model, { finite: true });
  const {
    chunk = DEFAULT_ATTENTION_CHUNK,
    budgetBytes = Infinity,
    engine,
  } = checkOptions(fn, "options", options, ATTENTION_OPTIONS);
  const backend = inferenceBackend(engine);
  const { ids, shape } = readTokens(fn, tokens, config.vocab_size);
  const [b, l] = shape;
  if (l < 1) throw new Error(`${fn}: argument 'tokens' must have at least one position (got 0)`);
  const bytes = attentionEvalBytes(config, l, b);
  if (bytes > budgetBytes) {
    throw new Error(
      `${fn}: argument 'tokens' must fit options.budgetBytes = ${budgetBytes} (got ${b} × ${l} positions needing ${bytes} bytes of KV cache and scores)`,
    );
  }
  const cache = emptyTransformerCache(config, b);
  checkDecodeSize(fn, config, cache, b, l, Math.min(chunk, l));
  let logits: Tensor | null = null;
  for (let start = 0; start < l; start += chunk) {
    const n = Math.min(chunk, l - start);
    const part = new Int32Array(b * n);
    for (let i = 0; i < b; i++) part.set(ids.subarray(i * l + start, i * l + start + n), i * n);
    logits = decodeTokens(model, cache, part, n, backend);
  }
  return logits!;
}

/** Which of lib's language models `model` is, from its parameter names. */
export function modelKind(fn: string, model: unknown): "mamba" | "mamba2" | "transformer" {
  const params = (model as { params?: unknown } | null)?.params;
  if (params instanceof Map) {
    // Mamba-2's mixer has a dt_bias per head where Mamba's has a dt_proj.
    if (params.has("backbone.layers.0.mixer.dt_bias")) return "mamba2";
    if (params.has("backbone.embeddings.weight")) return "mamba";
    if (params.has("model.embed_tokens.weight")) return "transformer";
  }
  throw new Error(
    `${fn}: argument 'model' must be a Mamba LM (initMamba, loadMambaCheckpoint), a Mamba-2 LM (initMamba2, loadMamba2Checkpoint) or a Transformer++ (initTransformer, loadTransformerCheckpoint) (got ${describe(model)})`,
  );
}
