/**
 * The synthetic tasks of lesson 05 (`tasks/`) as training batches and as an evaluation: a model is
 * trained and scored only at a set's target positions (targetStart..l−1, where position
 * targetStart + j must predict target j).
 */
import type { TokenTaskSet } from "../tasks/types";
import { checkFiniteParams, checkOptions, describe, schema } from "../validate";
import { Ops } from "../ops/tape";
import { reference } from "../ops/reference/index";
import { MIXER_VARIANTS, type MambaModel, type MixerVariant, mambaLM } from "../mamba/model";
import { checkMambaModel, resolveVariant } from "../mamba/checks";
import type { TrainBatch } from "./loop";

const ACCURACY_OPTIONS = schema.options({
  variant: schema.optional(schema.oneOf(MIXER_VARIANTS)),
  batchSize: schema.optional(schema.integer({ min: 1, max: 1 << 20 })),
});

function checkSet(fn: string, set: unknown): TokenTaskSet {
  const s = set as Partial<TokenTaskSet> | null;
  if (
    !s ||
    !(s.inputs instanceof Int32Array) ||
    !(s.targets instanceof Int32Array) ||
    typeof s.targetStart !== "number"
  ) {
    throw new Error(
      `${fn}: argument 'set' must be a task set from lib's tasks (selectiveCopying, loadSelectiveCopying, ...) (got ${describe(set)})`,
    );
  }
  return s as TokenTaskSet;
}

/**
 * A training batch from a task set: tokens = inputs (n, l); targets (n, l) hold −100 except at the
 * scored positions targetStart + j, which hold target j.
 */
export function taskBatch(set: TokenTaskSet): TrainBatch {
  const s = checkSet("taskBatch", set);
  const { count: n, inputLength: l, targetLength: k, targetStart } = s;
  const targets = new Int32Array(n * l).fill(-100);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) targets[i * l + targetStart + j] = s.targets[i * k + j];
  return { tokens: { shape: [n, l], data: s.inputs }, targets: { shape: [n, l], data: targets } };
}

/**
 * The fraction of a set's target tokens that the model's arg-max prediction gets right (the
 * accuracy of Table 1 in Gu & Dao 2023), evaluated `batchSize` examples at a time.
 */
export function taskAccuracy(
  model: MambaModel,
  set: TokenTaskSet,
  options: { variant?: MixerVariant; batchSize?: number } = {},
): number {
  const fn = "taskAccuracy";
  const s = checkSet(fn, set);
  const o = checkOptions(fn, "options", options, ACCURACY_OPTIONS);
  const { count: n, inputLength: l, targetLength: k, targetStart, vocabSize: V } = s;
  const bs = o.batchSize ?? 64;
  const mm = checkMambaModel(fn, model, ["float32", "float64"]);
  const variant = resolveVariant(fn, mm, o.variant);
  if (V > mm.config.vocab_size)
    throw new Error(
      `${fn}: argument 'set' must use at most the model's ${mm.config.vocab_size} tokens (got a vocabulary of ${V})`,
    );
  checkFiniteParams(fn, mm.params);
  const ops = new Ops(reference);
  let correct = 0;
  for (let start = 0; start < n; start += bs) {
    const m = Math.min(bs, n - start);
    const ids = s.inputs.subarray(start * l, (start + m) * l);
    const logits = mambaLM(ops, mm, ids, m, l, { variant });
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < k; j++) {
        const o = (i * l + targetStart + j) * mm.config.vocab_size;
        let arg = 0;
        for (let v = 1; v < mm.config.vocab_size; v++)
          if (logits.data[o + v] > logits.data[o + arg]) arg = v;
        if (arg === s.targets[(start + i) * k + j]) correct++;
      }
    }
  }
  return correct / (n * k);
}
