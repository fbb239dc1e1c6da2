/** Text generation with a Mamba-2 LM: read the prompt in parallel, then decode with the cache. */
import { Rng } from "../rng";
import { checkOptions, schema, withFiniteParams } from "../validate";
import { ENGINE_OPTION, type MambaEngine, resolveEngine } from "../mamba/engine";
import { sampleTokens, samplingOptionFields } from "../lm/sampling";
import { checkPrompt } from "../lm/tokens";
import { checkMamba2Model } from "./checks";
import { createMamba2Cache, prefillRaw, stepRaw } from "./cache";
import type { Mamba2Model } from "./model";

/** Options of {@link mamba2Generate}. */
export interface Mamba2GenerateOptions {
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
  /** "simd-threads" (default), "simd" or "typescript", as in `mamba2Step`. */
  engine?: MambaEngine;
}

/**
 * Generates up to `maxNewTokens` ids after `prompt` (number[] of ids, batch 1): one forward pass
 * over the prompt fills the cache (`mamba2Prefill`), then each new token costs one `mamba2Step`,
 * whose time and memory do not depend on the position. Returns the new ids only.
 */
export function mamba2Generate(
  model: Mamba2Model,
  prompt: number[],
  options: Mamba2GenerateOptions,
): number[] {
  const fn = "mamba2Generate";
  const m = checkMamba2Model(fn, model);
  const vocab = m.config.vocab_size;
  checkPrompt(fn, prompt, vocab);
  const o = checkOptions(
    fn,
    "options",
    options,
    schema.options({ ...samplingOptionFields(vocab), engine: ENGINE_OPTION }),
  );
  const engine = resolveEngine(fn, m, o.engine, "simd-threads");
  const cache = createMamba2Cache(m, 1);
  const logits = withFiniteParams(fn, m.params, () =>
    prefillRaw(fn, m, cache, Int32Array.from(prompt), prompt.length, engine),
  );
  return sampleTokens(logits, (next) => stepRaw(fn, m, cache, Int32Array.of(next), engine), {
    maxNew: o.maxNewTokens!,
    temperature: o.temperature!,
    topK: o.topK,
    rng: o.rng ?? new Rng(0),
    stop: o.stopToken,
  });
}
