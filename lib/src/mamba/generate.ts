/** Text generation with a Mamba LM: read the prompt in parallel, then decode with the cache. */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { checkOptions, schema, withFiniteParams } from "../validate";
import type { MambaModel } from "./model";
import { checkMambaModel } from "./checks";
import { sampleTokens, samplingOptionFields } from "../lm/sampling";
import { checkPrompt } from "../lm/tokens";
import { createMambaCache, mambaCacheBytes, prefillRaw, stepRaw } from "./cache";
import { ENGINE_OPTION, type MambaEngine, resolveEngine } from "./engine";
import { resolveVariant } from "./checks";

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
  /** Stop after generating this id, in [0, vocab_size) (it is included in the result). */
  stopToken?: number;
  /**
   * Which implementation runs the model (see `mambaForward`): "simd-threads" (default for a
   * float32 model: WebAssembly SIMD over worker threads), "simd" or "typescript".
   */
  engine?: MambaEngine;
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

/** The generate functions' options for a model of V token ids (a stop token is one of them). */
function generateOptions(V: number) {
  return schema.options({ ...samplingOptionFields(V), engine: ENGINE_OPTION });
}

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
  return generateRaw(
    "mambaGenerate",
    model,
    prompt,
    parseGenerate("mambaGenerate", model, prompt, options),
  ).tokens;
}

/** {@link mambaGenerate} that also reports the cache bytes and the time spent. */
export function mambaGenerateWithStats(
  model: MambaModel,
  prompt: number[],
  options: MambaGenerateOptions,
): MambaGenerateResult {
  const fn = "mambaGenerateWithStats";
  return generateRaw(fn, model, prompt, parseGenerate(fn, model, prompt, options));
}

/** What a generation does, from checked options. */
interface GenerateSettings {
  maxNew: number;
  temperature: number;
  topK: number | undefined;
  rng: Rng;
  stop: number | undefined;
  engine: MambaEngine;
}

/** Checks the arguments of the two generate functions; `fn` is the one the user called. */
function parseGenerate(
  fn: string,
  model: unknown,
  prompt: unknown,
  options: unknown,
): GenerateSettings {
  const m = checkMambaModel(fn, model, ["float32"], { half: true });
  const vocab = m.config.vocab_size;
  checkPrompt(fn, prompt, vocab);
  const o = checkOptions(fn, "options", options, generateOptions(vocab));
  return {
    maxNew: o.maxNewTokens!,
    temperature: o.temperature!,
    topK: o.topK,
    rng: o.rng ?? new Rng(0),
    stop: o.stopToken,
    engine: resolveEngine(fn, m, o.engine, "simd-threads"),
  };
}

/** The prefill and the decoding loop, for checked arguments. */
function generateRaw(
  fn: string,
  model: MambaModel,
  prompt: number[],
  settings: GenerateSettings,
): MambaGenerateResult {
  const { maxNew, temperature, topK, rng, stop, engine } = settings;
  const cache = createMambaCache(model, 1);
  const variant = resolveVariant(fn, model, undefined);
  const t0 = performance.now();
  const ids = Int32Array.from(prompt);
  const logits: Tensor = withFiniteParams(fn, model.params, () =>
    prefillRaw(fn, model, cache, ids, prompt.length, engine, variant),
  );
  const t1 = performance.now();
  const id = new Int32Array(1);
  const step = (next: number): Tensor => {
    id[0] = next;
    return stepRaw(fn, model, cache, id, engine, variant);
  };
  const out = sampleTokens(logits, step, {
    maxNew,
    temperature,
    topK,
    rng,
    stop,
  });
  const t2 = performance.now();
  return { tokens: out, cacheBytes: mambaCacheBytes(cache), prefillMs: t1 - t0, decodeMs: t2 - t1 };
}
