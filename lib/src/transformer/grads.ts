/**
 * The loss and gradients of a Transformer++ (lesson 12): the model of `./model.ts` run forward on
 * a recording `Ops` (`ops/tape.ts`), cross-entropy of the next-token predictions, and the tape
 * run backward, each op's backward from the engine's backend: the reference
 * (`ops/reference/backward.ts`; attention's and RoPE's in `ops/reference/attention.ts`) or the
 * simd backend (`ops/simd/`), whose "simd-threads" engine splits the batch over worker threads
 * that each run the same model. Attention keeps its weights for the backward pass, (b, H, l, l)
 * per layer: memory O(b·H·l²), the standard (not flash) attention.
 */
import { reference } from "../ops/reference/index";
import { simdBackend } from "../ops/simd/index";
import {
  type Share,
  type ShareTask,
  type TrainEngine,
  type TrainPool,
  TRAIN_ENGINE_OPTION,
  TRAIN_POOL_OPTION,
  trainEngine,
} from "../ops/simd/threads";
import { checkOptions, schema } from "../validate";
import { type TokenBatch, readTokens } from "../lm/tokens";
import {
  LOSS_ARGS,
  type LossAndGrads,
  type LossArgNames,
  NO_SCAN,
  checkLossMask,
  lossTargets,
  recordLossAndGrads,
} from "../lm/loss";
import type { LlamaConfig } from "./config";
import { checkActivationSize, checkTransformerModel } from "./checks";
import { type TransformerModel, llamaLM } from "./model";

/** Options of {@link transformerLossAndGrads}. */
export interface TransformerLossOptions {
  /** Target ids (b, l) (−100 = ignore); default: next token, the last position ignored. */
  targets?: TokenBatch;
  /** Weights (b·l) of the positions in the mean (0/1 masks); default all 1. */
  mask?: ArrayLike<number> | null;
  /**
   * Which implementation computes the step (default "typescript"), as for `mambaLossAndGrads`:
   * - "typescript": the reference backend (float64 accumulation, float32 or float64 models);
   * - "simd": the same model on the simd backend (`ops/simd/`: WebAssembly SIMD kernels in
   *   float32, attention as blocked products), the same loss and gradients up to float32
   *   rounding (tests: relative 1e-4);
   * - "simd-threads": "simd" data-parallel over the batch on worker threads, with `pool` or a
   *   shared default pool of `os.availableParallelism()` threads.
   */
  engine?: TrainEngine;
  /** The worker pool of the "simd-threads" engine (from `createTrainPool`). */
  pool?: TrainPool;
}

const LOSS_OPTIONS = schema.options({
  targets: schema.optional(schema.present<TokenBatch>()),
  mask: schema.optional(schema.present<ArrayLike<number>>()),
  engine: TRAIN_ENGINE_OPTION,
  pool: TRAIN_POOL_OPTION,
});

/** Attention weights kept per layer at most: 2^27 float64 numbers, 1 GiB. */
const MAX_ATTENTION_WEIGHTS = 2 ** 27;

/**
 * The mean cross-entropy of a Transformer++ on `tokens` and its gradient with respect to every
 * parameter, with the loss and naming rules of `mambaLossAndGrads`: by default positions
 * 0 … l−2 predict tokens 1 … l−1 (HF's `labels = input_ids`); `targets` (b, l) gives each
 * position's target instead (−100 skips it), `mask` (b·l) weights the positions. A tied head's
 * gradient is added into `model.embed_tokens.weight`. As in transformers' `LlamaForCausalLM`,
 * whose embedding has `padding_idx = pad_token_id`, the row of `config.pad_token_id` gets no
 * gradient from the embedding lookup (positions holding the pad id still count in the loss and
 * pass gradient to every other parameter; a tied head still adds its part to that row).
 * Arithmetic follows the parameters' dtype (all float32 for training, all float64 for gradient
 * checks) with the "typescript" engine; `engine` picks another implementation of the same step
 * (see {@link TransformerLossOptions.engine}; the simd engines compute in float32 and return the
 * gradients in the parameters' dtype).
 *
 * @param tokens (b, l) ids, as in `transformerForward`
 * @returns `{ loss, grads, count, correct }`: grads keyed by the checkpoint names, the shapes
 *   and dtypes of `model.params`; count = counted positions, correct = those the argmax gets right
 */
export function transformerLossAndGrads(
  model: TransformerModel,
  tokens: TokenBatch,
  options: TransformerLossOptions = {},
): LossAndGrads {
  const fn = "transformerLossAndGrads";
  const { targets, mask, ...rest } = checkOptions(fn, "options", options, LOSS_OPTIONS);
  const setup = transformerLossSetup(fn, model, rest);
  return transformerBatchLossAndGrads(fn, setup, tokens, targets, mask);
}

/** What a Transformer++ loss checks once per model and engine options (a training run: once). */
export interface TransformerLossSetup {
  model: TransformerModel;
  config: LlamaConfig;
  engine: TrainEngine;
  pool: TrainPool | null;
}

/**
 * Checks a model and the engine options of {@link transformerLossAndGrads} (already through
 * `LOSS_OPTIONS`' schema) for the function `fn` the user called.
 */
export function transformerLossSetup(
  fn: string,
  model: TransformerModel,
  o: Pick<TransformerLossOptions, "engine" | "pool">,
): TransformerLossSetup {
  const config = checkTransformerModel(fn, model, {
    dtypes: ["float32", "float64"],
    finite: true,
  });
  const { engine, pool } = trainEngine(fn, o.engine, o.pool);
  return { model, config, engine, pool };
}

/**
 * {@link transformerLossAndGrads} on a checked setup: only the batch is checked, its arguments
 * named in errors as `names` says (`trainTransformer` names what its `options.batch` returned).
 */
export function transformerBatchLossAndGrads(
  fn: string,
  setup: TransformerLossSetup,
  tokens: unknown,
  targetsIn: unknown,
  maskIn: unknown,
  names: LossArgNames = LOSS_ARGS,
): LossAndGrads {
  const { model, config: c, pool } = setup;
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, c.vocab_size, names.tokens);
  checkActivationSize(fn, c, b * l, names.tokens);
  const weights = b * c.num_attention_heads * l * l;
  if (weights > MAX_ATTENTION_WEIGHTS) {
    throw new Error(
      `${fn}: argument '${names.tokens}' must be a batch whose b·H·l² attention weights per layer (kept for the backward pass) are at most ${MAX_ATTENTION_WEIGHTS}: use shorter sequences or a smaller batch (got ${weights})`,
    );
  }
  const targets = lossTargets(fn, targetsIn, ids, b, l, c.vocab_size, names);
  const mask = checkLossMask(fn, maskIn, targets, names);
  if (setup.engine === "typescript") {
    return recordLossAndGrads(reference, NO_SCAN, model.params, targets, mask, (ops) =>
      llamaLM(ops, model, ids, b, l),
    );
  }
  const share: Share<TransformerShareArgs> = {
    params: model.params,
    ids,
    targets,
    mask,
    b,
    l,
    args: { config: c },
  };
  return pool ? pool.step(TRANSFORMER_SHARE, share) : transformerShareLossAndGrads(share);
}

/** What a thread needs besides the parameters and its rows of the batch. */
interface TransformerShareArgs {
  config: LlamaConfig;
}

/**
 * The "simd" engine on a share of a batch (all of it, or one thread's rows for "simd-threads"):
 * the model of `./model.ts` on this thread's simd backend. Arguments are already checked.
 */
export function transformerShareLossAndGrads(s: Share<TransformerShareArgs>): LossAndGrads {
  const model: TransformerModel = { config: s.args.config, params: s.params };
  return recordLossAndGrads(simdBackend(), NO_SCAN, s.params, s.targets, s.mask, (ops) =>
    llamaLM(ops, model, s.ids, s.b, s.l),
  );
}

/** {@link transformerShareLossAndGrads} as every thread of a pool runs it. */
const TRANSFORMER_SHARE: ShareTask<TransformerShareArgs> = {
  module: "transformer/grads",
  name: "transformerShareLossAndGrads",
  caller: "transformerLossAndGrads",
  run: transformerShareLossAndGrads,
};
