/**
 * The loss and gradients of a Mamba-2 LM: the model of `./model.ts` run forward on a recording
 * `Ops` (`ops/tape.ts`), cross-entropy of the next-token predictions, and the tape run backward
 * (each op's backward from the reference backend; the SSD's by its recurrence run backward,
 * `ops/reference/ssd.ts`).
 */
import { checkFiniteParams, checkOptions, schema } from "../validate";
import { reference } from "../ops/reference/index";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { type LossAndGrads, checkLossMask, lossTargets, recordLossAndGrads } from "../lm/loss";
import { checkMamba2Model } from "./checks";
import { type Mamba2Model, mamba2LM } from "./model";

/** Options of {@link mamba2LossAndGrads}. */
export interface Mamba2LossOptions {
  /** Target ids (b, l) (−100 = ignore); default: next token, the last position ignored. */
  targets?: TokenBatch;
  /** Weights (b·l) of the positions in the mean (0/1 masks); default all 1. */
  mask?: ArrayLike<number> | null;
}

const LOSS_OPTIONS = schema.options({
  targets: schema.optional(schema.present<TokenBatch>()),
  mask: schema.optional(schema.present<ArrayLike<number>>()),
});

/**
 * The mean cross-entropy of a Mamba-2 LM on `tokens` and its gradient with respect to every
 * parameter. tokens (b, l) ids; by default positions 0..l−2 predict tokens 1..l−1 (Hugging Face's
 * `labels = input_ids`); `targets` (b, l) gives the target of each position instead (−100 to
 * skip), `mask` (b·l) weights the positions. A tied head's gradient is added into
 * `backbone.embeddings.weight`. Arithmetic follows the parameters' dtype (float64 for gradient
 * checks, float32 for training); the SSD sums in float64 either way.
 *
 * @returns `{ loss, grads, count, correct }`: grads keyed by checkpoint tensor name, with the
 *   shapes and dtypes of `model.params`
 */
export function mamba2LossAndGrads(
  model: Mamba2Model,
  tokens: TokenBatch,
  options: Mamba2LossOptions = {},
): LossAndGrads {
  const fn = "mamba2LossAndGrads";
  const m = checkMamba2Model(fn, model, ["float32", "float64"]);
  const o = checkOptions(fn, "options", options, LOSS_OPTIONS);
  checkFiniteParams(fn, m.params);
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, m.config.vocab_size);
  const targets = lossTargets(fn, o.targets, ids, b, l, m.config.vocab_size);
  const mask = checkLossMask(fn, o.mask, targets);
  // The SSD op keeps nothing between forward and backward: the scan settings are unused.
  const scan = { strategy: "store-all", chunkSize: m.config.chunk_size } as const;
  return recordLossAndGrads(reference, scan, m.params, targets, mask, (ops) =>
    mamba2LM(ops, m, ids, b, l),
  );
}
