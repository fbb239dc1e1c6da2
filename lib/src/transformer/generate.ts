/**
 * Text generation with a Transformer++: read the prompt in one pass (filling the KV cache), then
 * pick each next token from the last logits and feed it back, one position per step. Unlike
 * Mamba's, each step costs more than the last (it attends over every cached position) and the
 * cache grows by `transformerCacheBytes(config, 1)` per token.
 */
import { Rng } from "../rng";
import { argumentError, checkOptions, describe, schema } from "../validate";
import { sampleTokens } from "../lm/sampling";
import { checkTransformerModel } from "./checks";
import type { TransformerModel } from "./model";
import { checkDecodeSize, decodeTokens, emptyTransformerCache, kvCacheBytes } from "./kv-cache";
import { ENGINE_OPTION, type InferenceEngine, inferenceBackend } from "./forward";

/** Options of {@link transformerGenerate} (the same as `mambaGenerate`'s; its own engines). */
export interface TransformerGenerateOptions {
  /** How many tokens to generate (>= 0). */
  maxNewTokens: number;
  /** 0: greedy (argmax, lowest id on ties); > 0: sample from softmax(logits / temperature). */
  temperature: number;
  /** Sample only among the topK most likely tokens (default: all). */
  topK?: number;
  /** The sampler's generator (default new Rng(0)); unused when greedy. */
  rng?: Rng;
  /** Stop after generating this id, in [0, vocab_size) (it is included in the result). */
  stopToken?: number;
  /** "simd" (default) or "typescript" (see `InferenceEngine`). */
  engine?: InferenceEngine;
}

/** The result of {@link transformerGenerateWithStats}. */
export interface TransformerGenerateResult {
  tokens: number[];
  /** Bytes of the KV cache at the end (it grew with every position). */
  cacheBytes: number;
  /** Milliseconds spent reading the prompt and decoding. */
  prefillMs: number;
  decodeMs: number;
}

/**
 * Positions a Transformer++ generation may span, prompt and new tokens together (2^16): the
 * work of a generation grows with the square of its length (token t attends to t earlier ones),
 * so this bounds it to about 2^31 · layers · H · head_dim multiply-adds of attention.
 */
export const MAX_GENERATED_POSITIONS = 1 << 16;

/**
 * Generates up to `maxNewTokens` ids after `prompt` (number[] of ids, batch 1) with the KV cache:
 * `transformerPrefill` over the prompt, then one `transformerStep` per new token.
 * Returns the new ids only.
 */
export function transformerGenerate(
  model: TransformerModel,
  prompt: number[],
  options: TransformerGenerateOptions,
): number[] {
  return generate("transformerGenerate", model, prompt, options).tokens;
}

/** {@link transformerGenerate} that also reports the final cache bytes and the time spent. */
export function transformerGenerateWithStats(
  model: TransformerModel,
  prompt: number[],
  options: TransformerGenerateOptions,
): TransformerGenerateResult {
  return generate("transformerGenerateWithStats", model, prompt, options);
}

/**
 * Checks the arguments once (`fn` is the function the user called), then runs what
 * `transformerPrefill` and `transformerStep` run (`decodeTokens`) on the checked values.
 */
function generate(
  fn: string,
  model: TransformerModel,
  prompt: number[],
  options: TransformerGenerateOptions,
): TransformerGenerateResult {
  const config = checkTransformerModel(fn, model, { finite: true });
  const V = config.vocab_size;
  if (!Array.isArray(prompt) || prompt.length === 0) {
    throw argumentError(
      fn,
      "prompt",
      `a non-empty number[] of token ids (got ${describe(prompt)})`,
    );
  }
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw argumentError(
        fn,
        "prompt",
        `integer ids in [0, ${V}) (vocab_size) (got ${describe(id)} at index ${i})`,
      );
    }
  });
  const o = checkOptions(
    fn,
    "options",
    options,
    schema.options({
      maxNewTokens: schema.integer({ min: 0, max: MAX_GENERATED_POSITIONS }),
      temperature: schema.number(),
      topK: schema.optional(schema.integer({ min: 1, max: V })),
      rng: schema.optional(schema.rng<Rng>()),
      stopToken: schema.optional(schema.integer({ min: 0, max: V - 1 })),
      engine: ENGINE_OPTION,
    }),
  );
  if (prompt.length + o.maxNewTokens! > MAX_GENERATED_POSITIONS) {
    throw argumentError(
      fn,
      "options.maxNewTokens",
      `at most ${MAX_GENERATED_POSITIONS - prompt.length} with this prompt: a generation runs over at most ${MAX_GENERATED_POSITIONS} positions, since each new token attends to every earlier one (the cost grows with the square of the length) (got ${o.maxNewTokens})`,
    );
  }
  const backend = inferenceBackend(o.engine);
  const temperature = o.temperature!;
  if (temperature < 0)
    throw argumentError(fn, "options.temperature", `a number >= 0 (got ${temperature})`);
  const cache = emptyTransformerCache(config, 1);
  checkDecodeSize(fn, config, cache, 1, prompt.length);
  const t0 = performance.now();
  const logits = decodeTokens(model, cache, Int32Array.from(prompt), prompt.length, backend);
  const t1 = performance.now();
  const step = (next: number) => decodeTokens(model, cache, Int32Array.of(next), 1, backend);
  const out = sampleTokens(logits, step, {
    maxNew: o.maxNewTokens!,
    temperature,
    topK: o.topK,
    rng: o.rng ?? new Rng(0),
    stop: o.stopToken,
  });
  const t2 = performance.now();
  return {
    tokens: out,
    cacheBytes: kvCacheBytes(config, cache.position, 1),
    prefillMs: t1 - t0,
    decodeMs: t2 - t1,
  };
}
