/**
 * Text generation with a Transformer++: read the prompt in one pass (filling the KV cache), then
 * pick each next token from the last logits and feed it back, one position per step. Unlike
 * Mamba's, each step costs more than the last (it attends over every cached position) and the
 * cache grows by `transformerCacheBytes(config, 1)` per token.
 */
import { Rng } from "../rng";
import { type Tensor } from "../tensor";
import { assertFiniteNumber, assertInteger, describe } from "../validate";
import { sampleTokens } from "../lm/sampling";
import { type TransformerModel, checkTransformerModel } from "./model";
import {
  createTransformerCache,
  transformerCacheBytes,
  transformerPrefill,
  transformerStep,
} from "./kv-cache";

/** Options of {@link transformerGenerate} (the same as `mambaGenerate`'s, less `scan`). */
export interface TransformerGenerateOptions {
  /** How many tokens to generate (>= 0). */
  maxNewTokens: number;
  /** 0: greedy (argmax, lowest id on ties); > 0: sample from softmax(logits / temperature). */
  temperature: number;
  /** Sample only among the topK most likely tokens (default: all). */
  topK?: number;
  /** The sampler's generator (default new Rng(0)); unused when greedy. */
  rng?: Rng;
  /** Stop after generating this id (it is included in the result). */
  stopToken?: number;
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

const KEYS = ["maxNewTokens", "temperature", "topK", "rng", "stopToken"];

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

function generate(
  fn: string,
  model: TransformerModel,
  prompt: number[],
  options: TransformerGenerateOptions,
): TransformerGenerateResult {
  const config = checkTransformerModel(fn, model);
  if (!Array.isArray(prompt) || prompt.length === 0) {
    throw new Error(
      `${fn}: argument 'prompt' must be a non-empty number[] of token ids (got ${describe(prompt)})`,
    );
  }
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size) {
      throw new Error(
        `${fn}: argument 'prompt' must be integer ids in [0, ${config.vocab_size}) (vocab_size) (got ${describe(id)} at index ${i})`,
      );
    }
  });
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(
      `${fn}: argument 'options' must be { maxNewTokens, temperature, topK?, rng?, stopToken? } (got ${describe(options)})`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) {
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${key}"; the keys are ${KEYS.join(", ")})`,
      );
    }
  }
  const maxNew = assertInteger(`${fn}: options.maxNewTokens`, options.maxNewTokens, 0, 1 << 20);
  const temperature = assertFiniteNumber(`${fn}: options.temperature`, options.temperature);
  if (temperature < 0) {
    throw new Error(
      `${fn}: argument 'options.temperature' must be a number >= 0 (got ${temperature})`,
    );
  }
  const topK =
    options.topK === undefined
      ? undefined
      : assertInteger(`${fn}: options.topK`, options.topK, 1, config.vocab_size);
  if (options.rng !== undefined && !(options.rng instanceof Rng)) {
    throw new Error(`${fn}: argument 'options.rng' must be an Rng (got ${describe(options.rng)})`);
  }
  const stop =
    options.stopToken === undefined
      ? undefined
      : assertInteger(`${fn}: options.stopToken`, options.stopToken, 0, config.vocab_size - 1);
  const rng = options.rng ?? new Rng(0);
  const cache = createTransformerCache(model, 1);
  const t0 = performance.now();
  const logits: Tensor = transformerPrefill(model, cache, [prompt]);
  const t1 = performance.now();
  const out = sampleTokens(logits, (next) => transformerStep(model, cache, [next]), {
    maxNew,
    temperature,
    topK,
    rng,
    stop,
  });
  const t2 = performance.now();
  return {
    tokens: out,
    cacheBytes: transformerCacheBytes(config, cache.position),
    prefillMs: t1 - t0,
    decodeMs: t2 - t1,
  };
}
