/**
 * The synthetic tasks of lesson 05 (`tasks/`) as training batches and as an evaluation: a model is
 * trained and scored only at a set's target positions (targetStart..l−1, where position
 * targetStart + j must predict target j).
 */
import type { TokenTaskSet } from "../tasks/types";
import { checkOptions, describe, schema } from "../validate";
import { type MixerVariant, type TrainableMamba, mambaVariantForward } from "./mamba-grads";
import type { TrainBatch } from "./loop";

const ACCURACY_OPTIONS = schema.options({
  variant: schema.optional(schema.oneOf(["mamba", "s6", "lti"] as const)),
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
  model: TrainableMamba,
  set: TokenTaskSet,
  options: { variant?: MixerVariant; batchSize?: number } = {},
): number {
  const fn = "taskAccuracy";
  const s = checkSet(fn, set);
  const o = checkOptions(fn, "options", options, ACCURACY_OPTIONS);
  const { count: n, inputLength: l, targetLength: k, targetStart, vocabSize: V } = s;
  const bs = o.batchSize ?? 64;
  // The model is checked by mambaVariantForward; its errors name this function.
  const forward = (tokens: { shape: number[]; data: Int32Array }) => {
    try {
      return mambaVariantForward(model, tokens, { variant: o.variant });
    } catch (e) {
      const message = (e as Error).message;
      if (!message.startsWith("mambaVariantForward: ")) throw e;
      throw new Error(`${fn}: ${message.slice("mambaVariantForward: ".length)}`);
    }
  };
  forward({ shape: [0, 0], data: new Int32Array(0) });
  let correct = 0;
  for (let start = 0; start < n; start += bs) {
    const m = Math.min(bs, n - start);
    const tokens = { shape: [m, l], data: s.inputs.subarray(start * l, (start + m) * l) };
    const logits = forward(tokens);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < k; j++) {
        const o = (i * l + targetStart + j) * V;
        let arg = 0;
        for (let v = 1; v < V; v++) if (logits.data[o + v] > logits.data[o + arg]) arg = v;
        if (arg === s.targets[(start + i) * k + j]) correct++;
      }
    }
  }
  return correct / (n * k);
}
