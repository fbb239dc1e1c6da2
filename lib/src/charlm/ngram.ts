/**
 * Count-based character n-gram models with interpolated Kneser-Ney smoothing (Kneser & Ney 1995;
 * the interpolated form of Chen & Goodman 1998): the baseline a neural character LM must beat.
 * An n-gram model predicts the next character from the previous n − 1 by counting; it has no
 * parameters to train and no state beyond its window, so it shows what "memorising short
 * contexts" alone achieves on the same split.
 *
 * For the highest order, with c the training counts, h a context of n − 1 characters and D_n
 * the order's discount:
 *
 *   P_n(w | h) = max(c(h w) − D_n, 0) / c(h) + D_n · N₁₊(h •) / c(h) · P_{n−1}(w | h')
 *
 * where h' drops the oldest character of h and N₁₊(h •) counts the distinct characters seen after
 * h. The lower orders replace counts by *continuation counts* N₁₊(• h w), the number of distinct
 * characters seen before h w (how many contexts a string completes, not how often it occurs: the
 * Kneser-Ney idea), and the recursion ends in the uniform distribution 1/V. A context never seen
 * in training falls back to the next lower order entirely. Each order's discount is
 * D = n₁ / (n₁ + 2 n₂), from the numbers of n-grams counted once and twice (Ney et al. 1994).
 */
import { checkArg, describe, schema } from "../validate";

/** A trained model (see the module comment). */
export interface KneserNeyModel {
  /** n: the prediction reads the previous n − 1 characters. */
  order: number;
  /** Vocabulary size V. */
  vocabSize: number;
  /** D_k for k = 1 … n (index k − 1). */
  discounts: number[];
  /** Per order k: counts of (context of k − 1 characters, next) (raw for k = n, continuation below). */
  counts: Map<number, number>[];
  /** Per order: Σ_w count(h w) and the number of distinct w, per context h. */
  totals: Map<number, number>[];
  followers: Map<number, number>[];
}

/** Most characters a model is counted on (the maps hold up to n entries per character). */
const MAX_TRAIN = 2 ** 24;

/** The key of ids[t − len … t − 1] as base-V digits, oldest first (0 for len 0). */
function contextKey(ids: ArrayLike<number>, t: number, len: number, V: number): number {
  let key = 0;
  for (let j = t - len; j < t; j++) key = key * V + ids[j];
  return key;
}

/**
 * An interpolated Kneser-Ney model of order n counted on `train` (character ids in [0, V)).
 *
 * @param train the training ids, in order (the text)
 * @param vocabSize V
 * @param order n ≥ 1 (1: a unigram model smoothed towards uniform)
 */
export function kneserNey(train: Int32Array, vocabSize: number, order: number): KneserNeyModel {
  const fn = "kneserNey";
  checkArg(fn, "vocabSize", vocabSize, schema.integer({ min: 1, max: 1 << 16 }));
  checkArg(fn, "order", order, schema.integer({ min: 1, max: 8 }));
  if (!(train instanceof Int32Array) || train.length < 1 || train.length > MAX_TRAIN) {
    throw new Error(
      `${fn}: argument 'train' must be an Int32Array of 1 to ${MAX_TRAIN} character ids (got ${train instanceof Int32Array ? `length ${train.length}` : typeof train})`,
    );
  }
  for (let i = 0; i < train.length; i++) {
    if (train[i] < 0 || train[i] >= vocabSize)
      throw new Error(
        `${fn}: argument 'train' must hold ids in [0, ${vocabSize}) (got ${train[i]} at index ${i})`,
      );
  }
  if (vocabSize ** order > Number.MAX_SAFE_INTEGER) {
    throw new Error(
      `${fn}: argument 'order' must keep vocabSize^order a safe integer (got ${vocabSize}^${order})`,
    );
  }
  const V = vocabSize;
  const n = order;
  // Order n: raw counts of every n-gram (w at t, context the n − 1 before it).
  const counts: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  const top = counts[n - 1];
  for (let t = n - 1; t < train.length; t++) {
    const key = contextKey(train, t + 1, n, V);
    top.set(key, (top.get(key) ?? 0) + 1);
  }
  // Lower orders k < n: N₁₊(• h w), the number of distinct characters seen just before the
  // k-gram h w, i.e. of distinct (k + 1)-grams ending in it (the text's first k characters have
  // no left neighbour and add nothing, the usual convention for a text without start markers).
  for (let k = 1; k < n; k++) {
    const distinct = new Set<number>();
    for (let t = k; t < train.length; t++) distinct.add(contextKey(train, t + 1, k + 1, V));
    const mod = V ** k;
    const lower = counts[k - 1];
    for (const key of distinct) lower.set(key % mod, (lower.get(key % mod) ?? 0) + 1);
  }
  const totals: Map<number, number>[] = [];
  const followers: Map<number, number>[] = [];
  const discounts: number[] = [];
  for (let k = 1; k <= n; k++) {
    const tot = new Map<number, number>();
    const fol = new Map<number, number>();
    let n1 = 0;
    let n2 = 0;
    for (const [key, c] of counts[k - 1]) {
      const h = Math.floor(key / V);
      tot.set(h, (tot.get(h) ?? 0) + c);
      fol.set(h, (fol.get(h) ?? 0) + 1);
      if (c === 1) n1++;
      else if (c === 2) n2++;
    }
    totals.push(tot);
    followers.push(fol);
    discounts.push(n1 + 2 * n2 > 0 ? n1 / (n1 + 2 * n2) : 0.5);
  }
  return { order: n, vocabSize: V, discounts, counts, totals, followers };
}

/** P(w | the k − 1 characters before position t), recursively (see the module comment). */
function probability(
  m: KneserNeyModel,
  ids: ArrayLike<number>,
  t: number,
  k: number,
  w: number,
): number {
  const V = m.vocabSize;
  const lower = k === 1 ? 1 / V : probability(m, ids, t, k - 1, w);
  const h = contextKey(ids, t, k - 1, V);
  const total = m.totals[k - 1].get(h);
  if (total === undefined || total === 0) return lower;
  const D = m.discounts[k - 1];
  const c = m.counts[k - 1].get(h * V + w) ?? 0;
  return Math.max(c - D, 0) / total + ((D * m.followers[k - 1].get(h)!) / total) * lower;
}

/**
 * The model's probabilities of every next character after ids[0 … t − 1], using the last
 * min(order − 1, t) of them: V numbers summing to 1.
 */
export function kneserNeyDistribution(
  model: KneserNeyModel,
  ids: ArrayLike<number>,
  t: number,
): Float64Array {
  const k = Math.min(model.order, t + 1);
  const out = new Float64Array(model.vocabSize);
  for (let w = 0; w < model.vocabSize; w++) out[w] = probability(model, ids, t, k, w);
  return out;
}

/**
 * Bits per character of `ids` under the model: (1 / T) Σ_t −log₂ P(ids[t] | ids[t − n + 1 … t − 1])
 * over positions t = 1 … length − 1 (the first character has no context and is not scored, as
 * in the neural models' evaluation, whose first position predicts the second).
 */
export function kneserNeyBitsPerChar(model: KneserNeyModel, ids: Int32Array): number {
  const fn = "kneserNeyBitsPerChar";
  const m = model as Partial<KneserNeyModel> | null;
  if (
    m === null ||
    typeof m !== "object" ||
    !Number.isInteger(m.order) ||
    !Number.isInteger(m.vocabSize) ||
    !Array.isArray(m.counts) ||
    m.counts.length !== m.order
  ) {
    throw new Error(
      `${fn}: argument 'model' must be a model from kneserNey (got ${describe(model)})`,
    );
  }
  if (!(ids instanceof Int32Array) || ids.length < 2) {
    throw new Error(
      `${fn}: argument 'ids' must be an Int32Array of at least 2 character ids (got ${ids instanceof Int32Array ? `length ${ids.length}` : typeof ids})`,
    );
  }
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= model.vocabSize)
      throw new Error(
        `${fn}: argument 'ids' must hold ids in [0, ${model.vocabSize}) (got ${ids[i]} at index ${i})`,
      );
  }
  let bits = 0;
  for (let t = 1; t < ids.length; t++) {
    const k = Math.min(model.order, t + 1);
    bits -= Math.log2(probability(model, ids, t, k, ids[t]));
  }
  return bits / (ids.length - 1);
}
