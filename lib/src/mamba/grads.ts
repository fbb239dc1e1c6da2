/**
 * The loss and gradients of a Mamba LM (lesson 10): the model of `./model.ts` run forward on a
 * recording `Ops` (`ops/tape.ts`), cross-entropy of the next-token predictions, and the tape run
 * backward (each op's backward from the backend: `ops/reference/backward.ts`, whose scan backward
 * recomputes inside chunks from their boundary states, Mamba §3.3.2, or the simd backend's
 * kernels, `ops/simd/`). Every engine runs that one model; they differ in the backend, and
 * "simd-threads" in splitting the batch over threads that each run it.
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
import type { ScanBackwardStrategy } from "../selective/scan-backward";
import { type TokenBatch, readTokens } from "../lm/tokens";
import {
  LOSS_ARGS,
  type LossAndGrads,
  type LossArgNames,
  checkLossMask,
  lossTargets,
  recordLossAndGrads,
} from "../lm/loss";
import type { MambaConfig } from "./config";
import { checkMambaModel, resolveVariant } from "./checks";
import { MIXER_VARIANTS, type MambaModel, type MixerVariant, mambaLM } from "./model";

export type { TrainEngine };

/** Options of {@link mambaLossAndGrads}. */
export interface LossAndGradsOptions {
  /** Target ids (b, l) (−100 = ignore); default: next token, the last position ignored. */
  targets?: TokenBatch;
  /** Weights (b·l) of the positions in the mean (0/1 masks); default all 1. */
  mask?: ArrayLike<number> | null;
  /** The mixer (default: the model's `mamba_ts_variant`, else "mamba"). */
  variant?: MixerVariant;
  /** How the scan keeps its states for the backward pass (default "recompute"). */
  scanStrategy?: ScanBackwardStrategy;
  /** Chunk length of the recompute strategy (default 64). */
  chunkSize?: number;
  /**
   * Which implementation computes the step (default "typescript"):
   * - "typescript": the reference backend (float64 accumulation, any dtype, every variant);
   * - "simd": the same model on the simd backend (`ops/simd/`: WebAssembly SIMD kernels in
   *   float32), the same loss and gradients up to float32 rounding (tests: relative 1e-4), several
   *   times faster; every variant;
   * - "simd-threads": "simd" data-parallel over the batch on worker threads
   *   (`ops/simd/threads.ts`), with `pool` or a shared default pool of
   *   `os.availableParallelism()` threads.
   */
  engine?: TrainEngine;
  /** The worker pool of the "simd-threads" engine (from `createTrainPool`). */
  pool?: TrainPool;
}

const LOSS_OPTIONS = schema.options({
  targets: schema.optional(schema.present<TokenBatch>()),
  mask: schema.optional(schema.present<ArrayLike<number>>()),
  variant: schema.optional(schema.oneOf(MIXER_VARIANTS)),
  scanStrategy: schema.optional(schema.oneOf(["store-all", "recompute"] as const)),
  chunkSize: schema.optional(schema.integer({ min: 1, max: 1 << 20 })),
  engine: TRAIN_ENGINE_OPTION,
  pool: TRAIN_POOL_OPTION,
});

/**
 * The mean cross-entropy of a Mamba LM on `tokens` and its gradient with respect to every
 * parameter.
 *
 * tokens (b, l) ids. By default positions 0..l−2 predict tokens 1..l−1 (Hugging Face's
 * `labels = input_ids`); `targets` (b, l) gives the target of each position instead (−100 to
 * skip), `mask` (b·l) weights the positions. A tied head's gradient is added into
 * `backbone.embeddings.weight`. Arithmetic follows the parameters' dtype (float64 for gradient
 * checks, float32 for training); the scan runs in float64 either way. `engine` picks another
 * implementation of the same step (see {@link LossAndGradsOptions.engine}).
 *
 * @returns `{ loss, grads, count, correct }`: grads keyed by checkpoint tensor name, with the
 *   shapes and dtypes of `model.params`
 */
export function mambaLossAndGrads(
  model: MambaModel,
  tokens: TokenBatch,
  options: LossAndGradsOptions = {},
): LossAndGrads {
  const fn = "mambaLossAndGrads";
  const { targets, mask, ...rest } = checkOptions(fn, "options", options, LOSS_OPTIONS);
  const setup = mambaLossSetup(fn, model, rest);
  return mambaBatchLossAndGrads(fn, setup, tokens, targets, mask);
}

/** What a Mamba loss checks once per model and engine options (a training run: once per run). */
export interface MambaLossSetup {
  model: MambaModel;
  variant: MixerVariant;
  strategy: ScanBackwardStrategy;
  chunkSize: number;
  engine: TrainEngine;
  pool: TrainPool | null;
}

/**
 * Checks a model and the engine options of {@link mambaLossAndGrads} (already through
 * `LOSS_OPTIONS`' schema) for the function `fn` the user called.
 */
export function mambaLossSetup(
  fn: string,
  model: MambaModel,
  o: Omit<LossAndGradsOptions, "targets" | "mask">,
): MambaLossSetup {
  const m = checkMambaModel(fn, model, ["float32", "float64"]);
  const variant = resolveVariant(fn, m, o.variant);
  checkFiniteParams(fn, m.params);
  const strategy = o.scanStrategy ?? "recompute";
  const chunkSize = o.chunkSize ?? 64;
  const { engine, pool } = trainEngine(fn, o.engine, o.pool);
  if (engine !== "typescript" && strategy !== "recompute") {
    throw new Error(
      `${fn}: argument 'options.scanStrategy' must be "recompute" with the ${engine} engine, which keeps chunk-boundary states only (got "${strategy}")`,
    );
  }
  return { model: m, variant, strategy, chunkSize, engine, pool };
}

/**
 * The loss and gradients of one batch for a checked setup: the batch's tokens, targets and mask
 * are checked here, named as `names` says (the training loop names them after its batch).
 */
export function mambaBatchLossAndGrads(
  fn: string,
  setup: MambaLossSetup,
  tokens: unknown,
  targetsIn: unknown,
  maskIn: unknown,
  names: LossArgNames = LOSS_ARGS,
): LossAndGrads {
  const { model: m, variant, strategy, chunkSize, pool } = setup;
  const cfg = m.config;
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, cfg.vocab_size, names.tokens);
  const targets = lossTargets(fn, targetsIn, ids, b, l, cfg.vocab_size, names);
  const mask = checkLossMask(fn, maskIn, targets, names);
  if (setup.engine === "typescript") {
    return recordLossAndGrads(reference, { strategy, chunkSize }, m.params, targets, mask, (ops) =>
      mambaLM(ops, m, ids, b, l, { variant }),
    );
  }
  const share: Share<MambaShareArgs> = {
    params: m.params,
    ids,
    targets,
    mask,
    b,
    l,
    args: { config: cfg, variant, chunkSize },
  };
  return pool ? pool.step(MAMBA_SHARE, share) : mambaShareLossAndGrads(share);
}

/** What a thread needs besides the parameters and its rows of the batch. */
interface MambaShareArgs {
  config: MambaConfig;
  variant: MixerVariant;
  chunkSize: number;
}

/**
 * The "simd" engine on a share of a batch (all of it, or one thread's rows for "simd-threads"):
 * the model of `./model.ts` on this thread's simd backend. Arguments are already checked.
 */
export function mambaShareLossAndGrads(s: Share<MambaShareArgs>): LossAndGrads {
  const model: MambaModel = { config: s.args.config, params: s.params };
  const scan = { strategy: "recompute", chunkSize: s.args.chunkSize } as const;
  return recordLossAndGrads(simdBackend(), scan, s.params, s.targets, s.mask, (ops) =>
    mambaLM(ops, model, s.ids, s.b, s.l, { variant: s.args.variant }),
  );
}

/** {@link mambaShareLossAndGrads} as every thread of a pool runs it. */
const MAMBA_SHARE: ShareTask<MambaShareArgs> = {
  module: "mamba/grads",
  name: "mambaShareLossAndGrads",
  run: mambaShareLossAndGrads,
};
