/**
 * The loss and gradients of a Mamba-2 LM: the model of `./model.ts` run forward on a recording
 * `Ops` (`ops/tape.ts`), cross-entropy of the next-token predictions, and the tape run backward
 * (each op's backward from the engine's backend: the reference, whose SSD backward runs the
 * recurrence backward, `ops/reference/ssd.ts`; or the simd backend, whose SSD backward is the
 * chunked algorithm's on the gemm, `ops/simd/ssd.ts`, and whose "simd-threads" engine splits the
 * batch over worker threads that each run the same model).
 */
import { checkFiniteParams, checkOptions, schema } from "../validate";
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
import { checkMamba2Model } from "./checks";
import type { Mamba2Config } from "./config";
import { type Mamba2Model, mamba2LM } from "./model";

/** Options of {@link mamba2LossAndGrads}. */
export interface Mamba2LossOptions {
  /** Target ids (b, l) (−100 = ignore); default: next token, the last position ignored. */
  targets?: TokenBatch;
  /** Weights (b·l) of the positions in the mean (0/1 masks); default all 1. */
  mask?: ArrayLike<number> | null;
  /**
   * Which implementation computes the step (default "typescript"), as for `mambaLossAndGrads`:
   * - "typescript": the reference backend (float64 sums, float32 or float64 models);
   * - "simd": the same model on the simd backend (WebAssembly SIMD kernels in float32; the SSD as
   *   the selective scan, `ops/simd/ssd.ts`), the same loss and gradients up to float32
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

/**
 * The mean cross-entropy of a Mamba-2 LM on `tokens` and its gradient with respect to every
 * parameter. tokens (b, l) ids; by default positions 0..l−2 predict tokens 1..l−1 (Hugging Face's
 * `labels = input_ids`); `targets` (b, l) gives the target of each position instead (−100 to
 * skip), `mask` (b·l) weights the positions. A tied head's gradient is added into
 * `backbone.embeddings.weight`. Arithmetic follows the parameters' dtype (float64 for gradient
 * checks, float32 for training) with the "typescript" engine, whose SSD sums in float64 either
 * way; `engine` picks another implementation of the same step (see
 * {@link Mamba2LossOptions.engine}).
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
  const { targets, mask, ...rest } = checkOptions(fn, "options", options, LOSS_OPTIONS);
  const setup = mamba2LossSetup(fn, model, rest);
  return mamba2BatchLossAndGrads(fn, setup, tokens, targets, mask);
}

/** What a Mamba-2 loss checks once per model and engine options (a training run: once per run). */
export interface Mamba2LossSetup {
  model: Mamba2Model;
  engine: TrainEngine;
  pool: TrainPool | null;
}

/**
 * Checks a model and the engine options of {@link mamba2LossAndGrads} (already through
 * `LOSS_OPTIONS`' schema) for the function `fn` the user called.
 */
export function mamba2LossSetup(
  fn: string,
  model: Mamba2Model,
  o: Pick<Mamba2LossOptions, "engine" | "pool">,
): Mamba2LossSetup {
  const m = checkMamba2Model(fn, model, ["float32", "float64"]);
  checkFiniteParams(fn, m.params);
  const { engine, pool } = trainEngine(fn, o.engine, o.pool);
  return { model: m, engine, pool };
}

/**
 * {@link mamba2LossAndGrads} on a checked setup: only the batch is checked, its arguments named
 * in errors as `names` says (`trainMamba2` names what its `options.batch` returned).
 */
export function mamba2BatchLossAndGrads(
  fn: string,
  setup: Mamba2LossSetup,
  tokens: unknown,
  targetsIn: unknown,
  maskIn: unknown,
  names: LossArgNames = LOSS_ARGS,
): LossAndGrads {
  const { model: m, pool } = setup;
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, m.config.vocab_size, names.tokens);
  const targets = lossTargets(fn, targetsIn, ids, b, l, m.config.vocab_size, names);
  const mask = checkLossMask(fn, maskIn, targets, names);
  if (setup.engine === "typescript") {
    return recordLossAndGrads(reference, NO_SCAN, m.params, targets, mask, (ops) =>
      mamba2LM(ops, m, ids, b, l),
    );
  }
  const share: Share<Mamba2ShareArgs> = {
    params: m.params,
    ids,
    targets,
    mask,
    b,
    l,
    args: { config: m.config },
  };
  return pool ? pool.step(MAMBA2_SHARE, share) : mamba2ShareLossAndGrads(share);
}

/** What a thread needs besides the parameters and its rows of the batch. */
interface Mamba2ShareArgs {
  config: Mamba2Config;
}

/**
 * The "simd" engine on a share of a batch (all of it, or one thread's rows for "simd-threads"):
 * the model of `./model.ts` on this thread's simd backend. Arguments are already checked.
 */
export function mamba2ShareLossAndGrads(s: Share<Mamba2ShareArgs>): LossAndGrads {
  const model: Mamba2Model = { config: s.args.config, params: s.params };
  return recordLossAndGrads(simdBackend(), NO_SCAN, s.params, s.targets, s.mask, (ops) =>
    mamba2LM(ops, model, s.ids, s.b, s.l),
  );
}

/** {@link mamba2ShareLossAndGrads} as every thread of a pool runs it. */
const MAMBA2_SHARE: ShareTask<Mamba2ShareArgs> = {
  module: "mamba2/grads",
  name: "mamba2ShareLossAndGrads",
  caller: "mamba2LossAndGrads",
  run: mamba2ShareLossAndGrads,
};
