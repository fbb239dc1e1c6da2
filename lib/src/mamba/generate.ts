/** Text generation with a Mamba LM: read the prompt in parallel, then decode with the cache. */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { assertFiniteNumber, assertInteger, assertOneOf, describe } from "../validate";
import type { MambaModel } from "./model";
import { checkMambaModel } from "./checks";
import { type MambaScan } from "./forward";
import { sampleTokens } from "../lm/sampling";
import { createMambaCache, mambaCacheBytes, mambaPrefill, mambaStep } from "./cache";

/** Options of {@link mambaGenerate}. */
export interface MambaGenerateOptions {
  /** How many tokens to generate (>= 0). */
  maxNewTokens: number;
  /** 0: greedy (argmax); > 0: sample from softmax(logits / temperature). */
  temperature: number;
  /** Sample only among the topK most likely tokens (default: all). */
  topK?: number;
  /** The sampler's generator (default new Rng(0)); unused when greedy. */
  rng?: Rng;
  /** Stop after generating this id (it is included in the result). */
  stopToken?: number;
  /** Scan used to read the prompt (see mambaForward). */
  scan?: MambaScan;
}

/** The result of {@link mambaGenerateWithStats}. */
export interface MambaGenerateResult {
  tokens: number[];
  /** Bytes of the decoding cache (constant over the positions). */
  cacheBytes: number;
  /** Milliseconds spent reading the prompt and decoding. */
  prefillMs: number;
  decodeMs: number;
}

const KEYS = ["maxNewTokens", "temperature", "topK", "rng", "stopToken", "scan"];

/**
 * Generates up to `maxNewTokens` ids after `prompt` (number[] of ids, batch 1): one forward pass
 * over the prompt fills the cache (`mambaPrefill`), then each new token costs one `mambaStep`,
 * whose time and memory do not depend on the position. Returns the new ids only.
 */
export function mambaGenerate(
  model: MambaModel,
  prompt: number[],
  options: MambaGenerateOptions,
): number[] {
  return generate("mambaGenerate", model, prompt, options).tokens;
}

/** {@link mambaGenerate} that also reports the cache bytes and the time spent. */
export function mambaGenerateWithStats(
  model: MambaModel,
  prompt: number[],
  options: MambaGenerateOptions,
): MambaGenerateResult {
  return generate("mambaGenerateWithStats", model, prompt, options);
}

function generate(
  fn: string,
  model: MambaModel,
  prompt: number[],
  options: MambaGenerateOptions,
): MambaGenerateResult {
  checkMambaModel(fn, model);
  const vocab = model.config.vocab_size;
  if (!Array.isArray(prompt) || prompt.length === 0) {
    throw new Error(
      `${fn}: argument 'prompt' must be a non-empty number[] of token ids (got ${describe(prompt)})`,
    );
  }
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new Error(
        `${fn}: argument 'prompt' must be token ids in [0, ${vocab}) (vocab_size) (got ${describe(id)} at index ${i})`,
      );
    }
  });
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(
      `${fn}: argument 'options' must be { maxNewTokens, temperature, topK?, rng? } (got ${describe(options)})`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key))
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${key}"; the keys are ${KEYS.join(", ")})`,
      );
  }
  const maxNew = assertInteger(`${fn}: options.maxNewTokens`, options.maxNewTokens, 0, 1 << 20);
  const temperature = assertFiniteNumber(`${fn}: options.temperature`, options.temperature);
  if (temperature < 0)
    throw new Error(
      `${fn}: argument 'options.temperature' must be a number >= 0 (got ${temperature})`,
    );
  const topK =
    options.topK === undefined ? undefined : assertInteger(`${fn}: options.topK`, options.topK, 1);
  if (options.rng !== undefined && !(options.rng instanceof Rng)) {
    throw new Error(`${fn}: argument 'options.rng' must be an Rng (got ${describe(options.rng)})`);
  }
  const stop =
    options.stopToken === undefined
      ? undefined
      : assertInteger(`${fn}: options.stopToken`, options.stopToken, 0);
  if (options.scan !== undefined)
    assertOneOf(`${fn}: options.scan`, options.scan, ["reference", "fast"] as const);
  const rng = options.rng ?? new Rng(0);
  const cache = createMambaCache(model, 1);
  const t0 = performance.now();
  const logits: Tensor = mambaPrefill(
    model,
    cache,
    [prompt],
    options.scan ? { scan: options.scan } : {},
  );
  const t1 = performance.now();
  const out = sampleTokens(logits, (next) => mambaStep(model, cache, [next]), {
    maxNew,
    temperature,
    topK,
    rng,
    stop,
  });
  const t2 = performance.now();
  return { tokens: out, cacheBytes: mambaCacheBytes(cache), prefillMs: t1 - t0, decodeMs: t2 - t1 };
}
