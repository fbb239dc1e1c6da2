/**
 * A character-level language model's data (lesson 12): a vocabulary of the characters of a text,
 * encoding and decoding, the train/validation split (the LAST fraction of the text is validation,
 * so no validation character is ever seen in training, not even inside a training window), random
 * training windows, a fixed validation set, and validation bits per character:
 *
 *   bits/char = (1 / T) Σ_t −log₂ softmax(logits_t)[target_t] = mean cross-entropy (nats) / ln 2
 *
 * the number of bits an arithmetic coder driven by the model would spend per character (a model
 * that knows nothing, uniform over V characters, spends log₂ V).
 */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { MAX_ELEMENTS, argumentError, checkArg, describe, schema } from "../validate";

/** The characters of a text, sorted by code unit; id i is `chars[i]`. */
export interface CharVocabulary {
  /** Every distinct character (UTF-16 code unit), ascending. */
  chars: string[];
  /** Character → id. */
  ids: Map<string, number>;
}

/** Token ids (b, l) with their next-character targets (b, l), as the training losses take them. */
export interface CharWindows {
  tokens: { shape: [number, number]; data: Int32Array };
  targets: { shape: [number, number]; data: Int32Array };
}

/** The result of {@link splitTrainValidation}. */
export interface CharSplit {
  train: Int32Array;
  validation: Int32Array;
  /** Index in the full id array where validation starts (train = ids[0, start)). */
  validationStart: number;
}

function checkText(fn: string, text: unknown, allowEmpty: boolean): string {
  return checkArg(fn, "text", text, schema.string({ allowEmpty }));
}

function checkVocabulary(fn: string, vocab: unknown): CharVocabulary {
  const v = vocab as CharVocabulary | null;
  if (
    v === null ||
    typeof v !== "object" ||
    !Array.isArray(v.chars) ||
    !(v.ids instanceof Map) ||
    v.chars.length === 0 ||
    v.ids.size !== v.chars.length
  ) {
    throw argumentError(
      fn,
      "vocab",
      `a character vocabulary { chars, ids } from charVocabulary (got ${describe(vocab)})`,
    );
  }
  return v;
}

function checkIds(fn: string, arg: string, ids: unknown, vocabSize?: number): Int32Array {
  if (!(ids instanceof Int32Array)) {
    throw argumentError(fn, arg, `an Int32Array of character ids (got ${describe(ids)})`);
  }
  if (vocabSize !== undefined) {
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] < 0 || ids[i] >= vocabSize) {
        throw argumentError(fn, arg, `ids in [0, ${vocabSize}) (got ${ids[i]} at index ${i})`);
      }
    }
  }
  return ids;
}

/** An id list: a plain array or an Int32Array (the values are checked by the caller). */
function checkIdList(fn: string, arg: string, ids: unknown): ArrayLike<number> {
  if (!(Array.isArray(ids) || ids instanceof Int32Array)) {
    throw argumentError(fn, arg, `an array or Int32Array of ids (got ${describe(ids)})`);
  }
  return ids;
}

/**
 * The vocabulary of `text`: its distinct characters (UTF-16 code units) in ascending order, so
 * the same text always gives the same ids.
 */
export function charVocabulary(text: string): CharVocabulary {
  const t = checkText("charVocabulary", text, false);
  const chars = [...new Set(t.split(""))].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));
  return { chars, ids: new Map(chars.map((c, i) => [c, i])) };
}

/** `text` as ids (length = text.length); a character outside the vocabulary is an error. */
export function encodeChars(vocab: CharVocabulary, text: string): Int32Array {
  const fn = "encodeChars";
  const v = checkVocabulary(fn, vocab);
  const t = checkText(fn, text, true);
  const out = new Int32Array(t.length);
  for (let i = 0; i < t.length; i++) {
    const id = v.ids.get(t[i]);
    if (id === undefined) {
      throw argumentError(
        fn,
        "text",
        `made of the vocabulary's characters (got ${JSON.stringify(t[i])} at index ${i})`,
      );
    }
    out[i] = id;
  }
  return out;
}

/** The text of `ids` (the inverse of {@link encodeChars}). */
export function decodeChars(vocab: CharVocabulary, ids: ArrayLike<number>): string {
  const fn = "decodeChars";
  const v = checkVocabulary(fn, vocab);
  checkIdList(fn, "ids", ids);
  let s = "";
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= v.chars.length) {
      throw argumentError(
        fn,
        "ids",
        `ids in [0, ${v.chars.length}) (got ${describe(id)} at index ${i})`,
      );
    }
    s += v.chars[id];
  }
  return s;
}

/**
 * Splits ids into train = the first ⌊(1 − f)·n⌋ ids and validation = the rest (the last fraction
 * f of the text: for a novel, its closing chapters).
 */
export function splitTrainValidation(ids: Int32Array, validationFraction = 0.1): CharSplit {
  const fn = "splitTrainValidation";
  checkIds(fn, "ids", ids);
  const f = checkArg(
    fn,
    "validationFraction",
    validationFraction,
    schema.number({ gt: 0, max: 0.9 }),
  );
  const start = Math.floor((1 - f) * ids.length);
  if (start < 2 || ids.length - start < 2) {
    throw argumentError(
      fn,
      "ids",
      `long enough for two characters in each part at validationFraction ${f} (got ${ids.length} ids)`,
    );
  }
  return { train: ids.subarray(0, start), validation: ids.subarray(start), validationStart: start };
}

function checkContext(fn: string, context: unknown, length: number): number {
  const c = checkArg(fn, "context", context, schema.integer({ min: 1, max: MAX_ELEMENTS }));
  if (c + 1 > length) {
    throw argumentError(
      fn,
      "context",
      `at most ids.length − 1 = ${length - 1} (a window holds context + 1 ids) (got ${c})`,
    );
  }
  return c;
}

/**
 * A training batch: `batch` windows of context + 1 consecutive ids at uniformly random starts
 * (drawn from `rng`, in order); tokens = the first `context`, targets = the next character of
 * each (the last `context`), both (batch, context).
 */
export function randomWindows(
  ids: Int32Array,
  rng: Rng,
  batch: number,
  context: number,
): CharWindows {
  const fn = "randomWindows";
  checkIds(fn, "ids", ids);
  if (!(rng instanceof Rng)) {
    throw argumentError(fn, "rng", `an Rng (got ${describe(rng)})`);
  }
  const b = checkArg(fn, "batch", batch, schema.integer({ min: 1, max: MAX_ELEMENTS }));
  const c = checkContext(fn, context, ids.length);
  if (b * c > MAX_ELEMENTS) throw argumentError(fn, "batch", `at most ${MAX_ELEMENTS} / context`);
  const tokens = new Int32Array(b * c);
  const targets = new Int32Array(b * c);
  for (let r = 0; r < b; r++) {
    const s = rng.int(ids.length - c);
    tokens.set(ids.subarray(s, s + c), r * c);
    targets.set(ids.subarray(s + 1, s + c + 1), r * c);
  }
  return { tokens: { shape: [b, c], data: tokens }, targets: { shape: [b, c], data: targets } };
}

/**
 * The fixed validation set: consecutive windows of context + 1 ids with stride `context`
 * (window k covers ids[k·context, (k+1)·context]), so every id after the first is a target
 * exactly once; the remainder shorter than a window is dropped. `maxWindows` keeps only the first
 * windows (a faster, smaller estimate). Returns tokens and targets (windows, context).
 */
export function validationWindows(
  ids: Int32Array,
  context: number,
  maxWindows?: number,
): CharWindows {
  const fn = "validationWindows";
  checkIds(fn, "ids", ids);
  const c = checkContext(fn, context, ids.length);
  const most =
    maxWindows === undefined
      ? Infinity
      : checkArg(fn, "maxWindows", maxWindows, schema.integer({ min: 1 }));
  const n = Math.min(Math.floor((ids.length - 1) / c), most);
  const tokens = new Int32Array(n * c);
  const targets = new Int32Array(n * c);
  for (let k = 0; k < n; k++) {
    tokens.set(ids.subarray(k * c, (k + 1) * c), k * c);
    targets.set(ids.subarray(k * c + 1, (k + 1) * c + 1), k * c);
  }
  return { tokens: { shape: [n, c], data: tokens }, targets: { shape: [n, c], data: targets } };
}

/**
 * Bits per character of logits (b, l, V) against targets (b·l ids; −100 = not counted):
 * Σ_t −log₂ softmax(logits_t)[target_t] over the counted positions, and their count. The
 * log-softmax is computed in float64 with the maximum subtracted (log Σ exp is stable).
 */
export function bitsPerCharSum(
  logits: Tensor,
  targets: ArrayLike<number>,
): { bits: number; count: number } {
  return sumBits("bitsPerCharSum", logits, targets);
}

function sumBits(
  fn: string,
  logits: Tensor,
  targets: ArrayLike<number>,
): { bits: number; count: number } {
  checkArg(fn, "logits", logits, schema.tensor({ rank: 3 }));
  checkIdList(fn, "targets", targets);
  const [b, l, V] = logits.shape;
  if (targets.length !== b * l) {
    throw argumentError(fn, "targets", `b·l = ${b * l} ids (got ${targets.length})`);
  }
  let nats = 0;
  let count = 0;
  const x = logits.data;
  for (let t = 0; t < b * l; t++) {
    const y = targets[t];
    if (y === -100) continue;
    if (!Number.isInteger(y) || y < 0 || y >= V) {
      throw argumentError(fn, "targets", `ids in [0, ${V}) or −100 (got ${y} at index ${t})`);
    }
    const o = t * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (x[o + v] > max) max = x[o + v];
    if (!Number.isFinite(max)) {
      throw argumentError(fn, "logits", `finite values (got ${max} at position ${t})`);
    }
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(x[o + v] - max);
    nats += Math.log(sum) + max - x[o + y];
    count += 1;
  }
  return { bits: nats / Math.LN2, count };
}

/** Mean bits per character of logits (b, l, V) against targets (b·l); see {@link bitsPerCharSum}. */
export function bitsPerChar(logits: Tensor, targets: ArrayLike<number>): number {
  const { bits, count } = sumBits("bitsPerChar", logits, targets);
  if (count === 0) throw argumentError("bitsPerChar", "targets", "at least one counted id");
  return bits / count;
}

/**
 * Mean validation bits per character of a model over a set of windows: `forward(tokens)` gives
 * logits (b, l, V) for `batch` windows at a time (e.g. `(t) => mambaForward(model, t)`), and the
 * bits of every target are summed before dividing by their count (so the result does not depend
 * on the batch size).
 */
export function evaluateBitsPerChar(
  forward: (tokens: { shape: [number, number]; data: Int32Array }) => Tensor,
  set: CharWindows,
  batch = 16,
): number {
  const fn = "evaluateBitsPerChar";
  checkArg(fn, "forward", forward, schema.function());
  if (
    set === null ||
    typeof set !== "object" ||
    !(set.tokens?.data instanceof Int32Array) ||
    !(set.targets?.data instanceof Int32Array) ||
    set.tokens.data.length !== set.targets.data.length
  ) {
    throw argumentError(
      fn,
      "set",
      `{ tokens, targets } from validationWindows (got ${describe(set)})`,
    );
  }
  const bs = checkArg(fn, "batch", batch, schema.integer({ min: 1, max: MAX_ELEMENTS }));
  const [n, c] = set.tokens.shape;
  let bits = 0;
  let count = 0;
  for (let k = 0; k < n; k += bs) {
    const m = Math.min(bs, n - k);
    const tokens = {
      shape: [m, c] as [number, number],
      data: set.tokens.data.subarray(k * c, (k + m) * c),
    };
    const r = sumBits(fn, forward(tokens), set.targets.data.subarray(k * c, (k + m) * c));
    bits += r.bits;
    count += r.count;
  }
  if (count === 0) throw argumentError(fn, "set", "at least one window");
  return bits / count;
}
