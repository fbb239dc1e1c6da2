/** Text generation with a Mamba-2 LM: read the prompt in parallel, then decode with the cache. */
import { Rng } from "../rng";
import { argumentError, checkFiniteParams, checkOptions, describe, schema } from "../validate";
import { sampleTokens } from "../lm/sampling";
import { checkMamba2Model } from "./checks";
import { createMamba2Cache, mamba2Prefill, mamba2Step } from "./cache";
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
}

/** The options for a model of V token ids (a stop token is one of them). */
function generateOptions(V: number) {
  return schema.options({
    maxNewTokens: schema.integer({ min: 0, max: 1 << 20 }),
    temperature: schema.number({ min: 0 }),
    topK: schema.optional(schema.integer({ min: 1 })),
    rng: schema.optional(schema.rng<Rng>()),
    stopToken: schema.optional(schema.integer({ min: 0, max: V - 1 })),
  });
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
  if (!Array.isArray(prompt) || prompt.length === 0)
    throw argumentError(
      fn,
      "prompt",
      `a non-empty number[] of token ids (got ${describe(prompt)})`,
    );
  prompt.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= vocab)
      throw argumentError(
        fn,
        "prompt",
        `token ids in [0, ${vocab}) (vocab_size) (got ${describe(id)} at index ${i})`,
      );
  });
  const o = checkOptions(fn, "options", options, generateOptions(vocab));
  checkFiniteParams(fn, m.params);
  const cache = createMamba2Cache(m, 1);
  const logits = mamba2Prefill(m, cache, [prompt]);
  return sampleTokens(logits, (next) => mamba2Step(m, cache, [next]), {
    maxNew: o.maxNewTokens!,
    temperature: o.temperature!,
    topK: o.topK,
    rng: o.rng ?? new Rng(0),
    stop: o.stopToken,
  });
}
