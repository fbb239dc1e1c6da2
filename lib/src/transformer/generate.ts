/**
 * Autoregressive generation with the KV cache: feed the prompt once (filling the cache), then
 * repeatedly pick the next token from the last logits and feed it back, one position per step.
 */
import { Rng } from "../rng";
import { assertFiniteNumber, assertInteger, describe } from "../validate";
import { type TransformerModel, checkTransformerModel, readTokens } from "./model";
import { createTransformerCache, transformerStep } from "./kv-cache";

/** Options of {@link transformerGenerate}. */
export interface TransformerGenerateOptions {
  /** Number of tokens to generate (>= 0). */
  maxNewTokens: number;
  /** Softmax temperature; 0 = greedy (argmax, the lowest id on ties). */
  temperature: number;
  /** Sample only among the k most likely tokens (default: all). */
  topK?: number;
  /** The generator sampling draws from; required when temperature > 0. */
  rng?: Rng;
}

const KEYS = ["maxNewTokens", "temperature", "topK", "rng"];

/**
 * Picks the next token from one row of logits: argmax at temperature 0, else a draw from
 * softmax(logits / temperature) restricted to the topK largest (one `rng.random()` per call).
 */
export function sampleToken(
  logits: Float32Array | Float64Array,
  temperature: number,
  topK: number,
  rng: Rng | undefined,
): number {
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const kept = order.slice(0, topK);
  const max = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng!.random() * total;
  for (let j = 0; j < kept.length; j++) {
    u -= weights[j];
    if (u < 0) return kept[j];
  }
  return kept[kept.length - 1];
}

/**
 * Generates continuations of prompts with a KV cache.
 *
 * @param model from `initTransformer` or `loadTransformerCheckpoint`
 * @param prompt one prompt as number[] (or Int32Array), or a batch (b, l) as in
 *   `transformerForward`; at least one token each
 * @param options `maxNewTokens`, `temperature` (0 = greedy), `topK?`, `rng?` (needed to sample)
 * @returns the new ids only: number[] for a single prompt, number[][] (b rows) for a batch
 */
export function transformerGenerate(
  model: TransformerModel,
  prompt: unknown,
  options: TransformerGenerateOptions,
): number[] | number[][] {
  const fn = "transformerGenerate";
  const config = checkTransformerModel(fn, model);
  const single =
    prompt instanceof Int32Array || (Array.isArray(prompt) && !Array.isArray(prompt[0]));
  const asBatch = single ? [Array.from(prompt as ArrayLike<number>)] : prompt;
  const tokens = readTokens(fn, asBatch, config.vocab_size, "prompt");
  if (tokens.length === 0) throw new Error(`${fn}: prompt: expected at least one token`);
  if (options === null || typeof options !== "object") {
    throw new Error(
      `${fn}: options: expected { maxNewTokens, temperature, topK?, rng? }, got ${describe(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.includes(key)) {
      throw new Error(`${fn}: options: unknown option "${key}"; expected ${KEYS.join(", ")}`);
    }
  }
  const maxNew = assertInteger(`${fn}: options.maxNewTokens`, options.maxNewTokens, 0, 1 << 20);
  const temperature = assertFiniteNumber(`${fn}: options.temperature`, options.temperature);
  if (temperature < 0) {
    throw new Error(`${fn}: options.temperature: expected a number >= 0, got ${temperature}`);
  }
  const topK = assertInteger(
    `${fn}: options.topK`,
    options.topK ?? config.vocab_size,
    1,
    config.vocab_size,
  );
  if (options.rng !== undefined && !(options.rng instanceof Rng)) {
    throw new Error(`${fn}: options.rng: expected an Rng, got ${describe(options.rng)}`);
  }
  if (temperature > 0 && options.rng === undefined) {
    throw new Error(`${fn}: options.rng: sampling (temperature > 0) needs an Rng, e.g. new Rng(0)`);
  }
  const vocab = config.vocab_size;
  const cache = createTransformerCache(model, tokens.batch);
  const out: number[][] = Array.from({ length: tokens.batch }, () => []);
  let logits = transformerStep(model, cache, {
    shape: [tokens.batch, tokens.length],
    data: tokens.ids,
  });
  let rowLength = tokens.length;
  for (let n = 0; n < maxNew; n++) {
    const next = new Int32Array(tokens.batch);
    for (let b = 0; b < tokens.batch; b++) {
      const o = (b * rowLength + rowLength - 1) * vocab;
      next[b] = sampleToken(logits.data.subarray(o, o + vocab), temperature, topK, options.rng);
      out[b].push(next[b]);
    }
    if (n + 1 < maxNew) {
      logits = transformerStep(model, cache, { shape: [tokens.batch, 1], data: next });
      rowLength = 1;
    }
  }
  return single ? out[0] : out;
}
