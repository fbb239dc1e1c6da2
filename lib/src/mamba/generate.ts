/** Text generation with a Mamba LM: read the prompt in parallel, then decode with the cache. */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { argumentError, checkOptions, describe, schema } from "../validate";
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

const GENERATE_OPTIONS = schema.options({
  maxNewTokens: schema.integer({ min: 0, max: 1 << 20 }),
  temperature: schema.number({ min: 0 }),
  topK: schema.optional(schema.integer({ min: 1 })),
  rng: schema.optional(schema.rng<Rng>()),
  stopToken: schema.optional(schema.integer({ min: 0 })),
  scan: schema.optional(schema.oneOf<MambaScan>(["reference", "fast"])),
});

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
  return generateRaw(model, prompt, parseGenerate("mambaGenerate", model, prompt, options)).tokens;
}

/** {@link mambaGenerate} that also reports the cache bytes and the time spent. */
export function mambaGenerateWithStats(
  model: MambaModel,
  prompt: number[],
  options: MambaGenerateOptions,
): MambaGenerateResult {
  return generateRaw(
    model,
    prompt,
    parseGenerate("mambaGenerateWithStats", model, prompt, options),
  );
}

/** What a generation does, from checked options. */
interface GenerateSettings {
  maxNew: number;
  temperature: number;
  topK: number | undefined;
  rng: Rng;
  stop: number | undefined;
  scan: MambaScan | undefined;
}

/** Checks the arguments of the two generate functions; `fn` is the one the user called. */
function parseGenerate(
  fn: string,
  model: unknown,
  prompt: unknown,
  options: unknown,
): GenerateSettings {
  const vocab = checkMambaModel(fn, model).config.vocab_size;
  if (!Array.isArray(prompt) || prompt.length === 0) {
    throw argumentError(
      fn,
      "prompt",
      `a non-empty number[] of token ids (got ${describe(prompt)})`,
    );
  }
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw argumentError(
        fn,
        "prompt",
        `token ids in [0, ${vocab}) (vocab_size) (got ${describe(id)} at index ${i})`,
      );
    }
  });
  const o = checkOptions(fn, "options", options, GENERATE_OPTIONS);
  return {
    maxNew: o.maxNewTokens!,
    temperature: o.temperature!,
    topK: o.topK,
    rng: o.rng ?? new Rng(0),
    stop: o.stopToken,
    scan: o.scan,
  };
}

/** The prefill and the decoding loop, for checked arguments. */
function generateRaw(
  model: MambaModel,
  prompt: number[],
  settings: GenerateSettings,
): MambaGenerateResult {
  const { maxNew, temperature, topK, rng, stop, scan } = settings;
  const cache = createMambaCache(model, 1);
  const t0 = performance.now();
  const logits: Tensor = mambaPrefill(model, cache, [prompt], scan ? { scan } : {});
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
