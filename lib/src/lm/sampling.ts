/** Choosing the next token from a model's logits, and the decoding loop every model's generate runs. */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { checkArg, schema } from "../validate";

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
 * The sampling options of a Mamba-family generate function, as `schema.options` fields, for a
 * model of V token ids (a stop token is one of them).
 */
export function samplingOptionFields(V: number) {
  return {
    maxNewTokens: schema.integer({ min: 0, max: 1 << 20 }),
    temperature: schema.number({ min: 0 }),
    topK: schema.optional(schema.integer({ min: 1 })),
    rng: schema.optional(schema.rng<Rng>()),
    stopToken: schema.optional(schema.integer({ min: 0, max: V - 1 })),
  };
}
