/** Text generation with a Mamba LM: read the prompt in parallel, then decode with the cache. */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import {
  assertFiniteNumber,
  assertInteger,
  assertOneOf,
  checkArg,
  describe,
  schema,
} from "../validate";
import { type MambaModel, checkMambaModel } from "./model";
import { type MambaScan } from "./forward";
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
 * Picks the next id from logits (V): the argmax when temperature is 0, otherwise a sample from
 * softmax(logits / T) restricted to the topK largest (ties broken by the lower id).
 */
export function sampleNextToken(
  logits: ArrayLike<number>,
  temperature: number,
  topK: number | undefined,
  rng: Rng,
): number {
  const fn = "sampleNextToken";
  const V = checkArg(fn, "logits", logits, schema.numbers({ minLength: 1 })).length;
  checkArg(fn, "temperature", temperature, schema.number({ min: 0 }));
  checkArg(fn, "topK", topK, schema.optional(schema.integer({ min: 1 })));
  checkArg(fn, "rng", rng, schema.rng());
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  let order = Array.from({ length: V }, (_, i) => i);
  if (topK !== undefined && topK < V) {
    order.sort((a, b) => logits[b] - logits[a] || a - b);
    order = order.slice(0, topK);
  }
  let max = -Infinity;
  for (const i of order) max = Math.max(max, logits[i]);
  const weights = order.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let r = rng.random() * total;
  for (let j = 0; j < order.length; j++) {
    r -= weights[j];
    if (r < 0) return order[j];
  }
  return order[order.length - 1];
}

/**
 * The decoding loop of every model's generate: samples up to `maxNew` ids with
 * {@link sampleNextToken}, starting from the prompt's last logits (vocab) and feeding each new id
 * to `step`, which returns the next logits; stops after `stop` (kept) or `maxNew` ids. `step` is
 * not called after the last id.
 */
export function sampleTokens(
  logits: Tensor,
  step: (next: number) => Tensor,
  o: { maxNew: number; temperature: number; topK?: number; rng: Rng; stop?: number },
): number[] {
  const out: number[] = [];
  for (let i = 0; i < o.maxNew; i++) {
    const next = sampleNextToken(logits.data, o.temperature, o.topK, o.rng);
    out.push(next);
    if (next === o.stop || i === o.maxNew - 1) break;
    logits = step(next);
  }
  return out;
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
