/**
 * Length extrapolation on induction heads (Gu & Dao 2023, Table 2 / Table 11): a model trained at
 * one length is scored at lengths 2^k far beyond it. Only the final position is scored (its
 * target is the token after the first trigger, `tasks/induction.ts`), so only that position's
 * logits are computed (`last-logits.ts`): Mamba in constant memory, the Transformer++ with a KV
 * cache whose bytes grow with the length and are held to a stated budget (a length over budget
 * scores `null`, "skipped").
 *
 * The test examples of length l are `inductionHeads(new Rng(seed + l), { count, length: l,
 * vocabSize })`: fresh, reproducible, independent of the training stream.
 */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { schema, checkArg, checkOptions, describe } from "../validate";
import { inductionHeads } from "../tasks/induction";
import type { InductionSet } from "../tasks/types";
import type { MambaModel } from "../mamba/model";
import type { Mamba2Model } from "../mamba2/model";
import type { TransformerModel } from "../transformer/model";
import {
  DEFAULT_ATTENTION_CHUNK,
  DEFAULT_MAMBA_PREFILL,
  attentionEvalBytes,
  mamba2LastLogits,
  mambaLastLogits,
  modelKind,
  transformerLastLogits,
} from "./last-logits";

/** One of lib's language models. */
export type LanguageModel = MambaModel | Mamba2Model | TransformerModel;

/** The seeded test set of {@link inductionExtrapolation} at one length. */
export function extrapolationSet(
  seed: number,
  length: number,
  count: number,
  vocabSize: number,
): InductionSet {
  const fn = "extrapolationSet";
  checkArg(fn, "seed", seed, schema.integer({ min: -(2 ** 52), max: 2 ** 52 }));
  checkArg(fn, "length", length, schema.integer({ min: 3, max: 2 ** 24 }));
  checkArg(fn, "count", count, schema.integer({ min: 0, max: 2 ** 16 }));
  checkArg(fn, "vocabSize", vocabSize, schema.integer({ min: 3, max: 2 ** 16 }));
  return inductionHeads(new Rng(seed + length), { count, length, vocabSize });
}

const CORRECT_OPTIONS = schema.options({
  batchSize: schema.optional(schema.integer({ min: 1, max: 2 ** 16 })),
  budgetBytes: schema.optional(schema.positive()),
  from: schema.optional(schema.integer({ min: 0 })),
  to: schema.optional(schema.integer({ min: 0 })),
  prefill: schema.optional(schema.integer({ min: 1, max: 2 ** 20 })),
});

/** What {@link inductionCorrect} returns. */
export interface InductionScore {
  /** Examples answered right. */
  correct: number;
  /** Examples scored (to − from). */
  count: number;
  /** Per example scored, in order: 1 if answered right, else 0. */
  hits: Uint8Array;
}

/**
 * How many of a set's examples `model` answers right at the final position (arg-max of its
 * last-position logits = the target), over examples from … to − 1, `batchSize` at a time.
 * For a Transformer++ whose batch would need more than `budgetBytes` (see `attentionEvalBytes`),
 * returns null: the length is over the stated budget and is not evaluated.
 *
 * @param set an induction-heads set (inputs (n, l), targets (n, 1))
 * @param options batchSize (default 8), budgetBytes (Transformer++ only; default no limit),
 *   from (default 0), to (default n), prefill (Mamba and Mamba-2 only: the positions
 *   `mambaLastLogits` / `mamba2LastLogits` read in parallel mode before their recurrent steps;
 *   default 4096, 1 = every position recurrent)
 */
export function inductionCorrect(
  model: LanguageModel,
  set: InductionSet,
  options: {
    batchSize?: number;
    budgetBytes?: number;
    from?: number;
    to?: number;
    prefill?: number;
  } = {},
): InductionScore | null {
  const fn = "inductionCorrect";
  const kind = modelKind(fn, model);
  const s = set as Partial<InductionSet> | null;
  if (
    !s ||
    s.task !== "induction-heads" ||
    !(s.inputs instanceof Int32Array) ||
    !(s.targets instanceof Int32Array)
  ) {
    throw new Error(
      `${fn}: argument 'set' must be an induction-heads set from inductionHeads (got ${describe(set)})`,
    );
  }
  const o = checkOptions(fn, "options", options, CORRECT_OPTIONS);
  const n = set.count;
  const l = set.inputLength;
  const from = o.from ?? 0;
  const to = o.to ?? n;
  if (from > to || to > n)
    throw new Error(
      `${fn}: argument 'options' must have 0 ≤ from ≤ to ≤ ${n} (got from ${from}, to ${to})`,
    );
  if (kind === "transformer" && o.prefill !== undefined)
    throw new Error(
      `${fn}: argument 'options.prefill' must be absent for a Transformer++ (it applies to the recurrent mode of Mamba and Mamba-2) (got ${o.prefill})`,
    );
  const batchSize = Math.min(o.batchSize ?? 8, Math.max(1, to - from));
  if (kind === "transformer" && o.budgetBytes !== undefined) {
    const bytes = attentionEvalBytes((model as TransformerModel).config, l, batchSize);
    if (bytes > o.budgetBytes) return null;
  }
  let correct = 0;
  const hits = new Uint8Array(to - from);
  for (let start = from; start < to; start += batchSize) {
    const m = Math.min(batchSize, to - start);
    const tokens = { shape: [m, l], data: set.inputs.subarray(start * l, (start + m) * l) };
    const logits: Tensor =
      kind === "mamba"
        ? mambaLastLogits(model as MambaModel, tokens, {
            prefill: o.prefill ?? DEFAULT_MAMBA_PREFILL,
          })
        : kind === "mamba2"
          ? mamba2LastLogits(model as Mamba2Model, tokens, {
              prefill: o.prefill ?? DEFAULT_MAMBA_PREFILL,
            })
          : transformerLastLogits(model as TransformerModel, tokens, {
              chunk: DEFAULT_ATTENTION_CHUNK,
            });
    const V = logits.shape[1];
    for (let i = 0; i < m; i++) {
      let arg = 0;
      for (let v = 1; v < V; v++) if (logits.data[i * V + v] > logits.data[i * V + arg]) arg = v;
      if (arg === set.targets[start + i]) {
        correct++;
        hits[start + i - from] = 1;
      }
    }
  }
  return { correct, count: to - from, hits };
}

const SWEEP_OPTIONS = schema.options({
  lengths: schema.numbers({ minLength: 1, maxLength: 64 }),
  examples: schema.integer({ min: 1, max: 2 ** 16 }),
  seed: schema.optional(schema.integer()),
  batchSize: schema.optional(schema.integer({ min: 1, max: 2 ** 16 })),
  budgetBytes: schema.optional(schema.positive()),
});

/**
 * Induction-heads accuracy at the final position for each length: `examples` seeded examples per
 * length ({@link extrapolationSet} with `seed`, default 0, and the model's vocabulary), scored by
 * {@link inductionCorrect}. Lengths over a Transformer++'s `budgetBytes` score null.
 *
 * @returns `{ "<length>": accuracy | null }` in the order of `lengths`
 */
export function inductionExtrapolation(
  model: LanguageModel,
  options: {
    lengths: number[];
    examples: number;
    seed?: number;
    batchSize?: number;
    budgetBytes?: number;
  },
): Record<string, number | null> {
  const fn = "inductionExtrapolation";
  modelKind(fn, model);
  const o = checkOptions(fn, "options", options, SWEEP_OPTIONS);
  for (const l of Array.from(o.lengths!)) {
    if (!Number.isInteger(l) || l < 3 || l > 2 ** 24)
      throw new Error(
        `${fn}: argument 'options.lengths' must hold integers in [3, 2^24] (got ${describe(l)})`,
      );
  }
  const vocab = model.config.vocab_size;
  const result: Record<string, number | null> = {};
  for (const l of Array.from(o.lengths!)) {
    const set = extrapolationSet(o.seed ?? 0, l, o.examples!, vocab);
    const r = inductionCorrect(model, set, { batchSize: o.batchSize, budgetBytes: o.budgetBytes });
    result[String(l)] = r === null ? null : r.correct / r.count;
  }
  return result;
}
