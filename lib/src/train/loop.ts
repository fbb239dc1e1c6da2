/**
 * The training loop: batches → the model's loss and gradients ({@link mambaLossAndGrads} for
 * Mamba, `transformerLossAndGrads` for the Transformer++, `mamba2LossAndGrads` for Mamba-2, each
 * model and its options checked once per run) → clip → AdamW at the scheduled learning
 * rate, with a live display (`./display.ts`), a clean stop on interrupt (the model keeps every
 * completed step), and a state that continues the run (`./state.ts` saves and loads it).
 */
import { Rng } from "../rng";
import { checkArg, checkOptions, schema } from "../validate";
import { trainingDisplay } from "./display";
import { type TrainableParams, type TrainingState, checkStateMatches } from "./state";
import type { LossAndGrads } from "../lm/loss";
import type { TokenBatch } from "../lm/tokens";
import { MIXER_VARIANTS, type MambaModel } from "../mamba/model";
import { type LossAndGradsOptions, mambaBatchLossAndGrads, mambaLossSetup } from "../mamba/grads";
import type { TransformerModel } from "../transformer/model";
import { transformerBatchLossAndGrads, transformerLossSetup } from "../transformer/grads";
import type { Mamba2Model } from "../mamba2/model";
import { mamba2BatchLossAndGrads, mamba2LossSetup } from "../mamba2/grads";
import {
  type AdamWOptions,
  type LrSchedule,
  adamwUpdate,
  clipGlobalNorm,
  createAdamW,
  learningRateAt,
  parseAdamW,
  parseSchedule,
} from "./optim";

/** What `options.batch` must return. */
const BATCH = schema.options(
  {
    tokens: schema.present<TokenBatch>(),
    targets: schema.optional(schema.present<TokenBatch>()),
    mask: schema.optional(schema.present<ArrayLike<number>>()),
  },
  "a batch",
);

/** One training batch: token ids (b, l), optional targets (b, l) and mask (b·l). */
export interface TrainBatch {
  tokens: TokenBatch;
  targets?: TokenBatch;
  mask?: ArrayLike<number> | null;
}

/** One step's record in the history. */
export interface StepRecord {
  step: number;
  loss: number;
  /** Arg-max accuracy on the counted positions of this batch. */
  accuracy: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
}

/** Options of {@link trainMamba}. */
export interface TrainOptions {
  /** Draws batch number `step` from `rng` (called once per step, in order). */
  batch: (rng: Rng, step: number) => TrainBatch;
  /** Learning-rate schedule; its totalSteps is the run's length. */
  schedule: LrSchedule;
  /** AdamW's other hyper-parameters (β₁, β₂, ε, weight decay). */
  adamw?: Omit<AdamWOptions, "lr">;
  /** Clip the global gradient norm to this (default 1; Infinity = no clipping). */
  clip?: number;
  /** Mixer variant, scan strategy and chunk size, passed to mambaLossAndGrads. */
  variant?: LossAndGradsOptions["variant"];
  scanStrategy?: LossAndGradsOptions["scanStrategy"];
  chunkSize?: number;
  /**
   * The engine of the loss and gradients (`mambaLossAndGrads`, `transformerLossAndGrads`; default
   * "typescript") and, for "simd-threads", its pool.
   */
  engine?: LossAndGradsOptions["engine"];
  pool?: LossAndGradsOptions["pool"];
  /** Continue from this state (from {@link loadTrainingState}); else start fresh with `seed`. */
  state?: TrainingState;
  /** Seed of the batch RNG for a fresh run (default 0). */
  seed?: number;
  /** Stop after this many steps in this call (the schedule still spans totalSteps). */
  maxSteps?: number;
  /** Stop after this many seconds (checked between steps). */
  timeLimitSeconds?: number;
  /** Live display: in a notebook, a progress bar and a loss/accuracy plot; in a script, a line on stderr. Default true. */
  display?: boolean;
  /** Called after every step. */
  onStep?: (record: StepRecord) => void;
  /** Stops the run between steps when aborted. */
  signal?: AbortSignal;
}

/**
 * Options of {@link trainTransformer} and {@link trainMamba2}: those of {@link trainMamba} without
 * Mamba's mixer and scan.
 */
export type TransformerTrainOptions = Omit<TrainOptions, "variant" | "scanStrategy" | "chunkSize">;

/** What {@link trainMamba} returns. */
export interface TrainResult {
  history: StepRecord[];
  state: TrainingState;
  /** Why the run ended. */
  stopped: "done" | "maxSteps" | "timeLimit" | "interrupted";
}

/** The options every model's loop takes (see {@link TrainOptions}). */
const LOOP_OPTIONS = {
  batch: schema.function<TrainOptions["batch"]>(),
  schedule: schema.present<LrSchedule>(),
  adamw: schema.optional(schema.present<Omit<AdamWOptions, "lr">>()),
  clip: schema.optional(schema.number({ gt: 0, nonFinite: true })), // Infinity: no clipping
  state: schema.optional(schema.present<TrainingState>()),
  seed: schema.optional(schema.integer({ min: 0, max: 2 ** 32 - 1 })),
  maxSteps: schema.optional(schema.integer({ min: 0 })),
  timeLimitSeconds: schema.optional(schema.positive()),
  display: schema.optional(schema.boolean()),
  onStep: schema.optional(schema.function<NonNullable<TrainOptions["onStep"]>>()),
  signal: schema.optional(schema.present<AbortSignal>()),
  engine: schema.optional(schema.oneOf(["typescript", "simd", "simd-threads"] as const)),
  pool: schema.optional(schema.object<NonNullable<TrainOptions["pool"]>>()),
};
const MAMBA_TRAIN_OPTIONS = schema.options({
  ...LOOP_OPTIONS,
  variant: schema.optional(schema.oneOf(MIXER_VARIANTS)),
  scanStrategy: schema.optional(schema.oneOf(["store-all", "recompute"] as const)),
  chunkSize: schema.optional(schema.integer({ min: 1, max: 1 << 20 })),
});
const TRANSFORMER_TRAIN_OPTIONS = schema.options(LOOP_OPTIONS);

/** How the loop names a batch's parts in errors: what `options.batch` returned. */
const BATCH_ARGS = {
  tokens: "options.batch(...).tokens",
  targets: "options.batch(...).targets",
  mask: "options.batch(...).mask",
};

/**
 * Trains `model` in place. Each step: batch = options.batch(rng, step); (loss, grads) =
 * mambaLossAndGrads; clip the global norm; AdamW with lr = learningRate(step, schedule).
 *
 * The loop yields to the event loop between steps, so an interrupt (the kernel's stop button, or
 * Ctrl-C / SIGINT in a script) or `signal` ends it cleanly after the step in progress: the model
 * holds every completed step and the returned state continues the run. A step whose loss or
 * gradients are not finite (a diverging run) stops it with an error before the update, so the
 * model keeps its last finite weights.
 */
export async function trainMamba(model: MambaModel, options: TrainOptions): Promise<TrainResult> {
  const fn = "trainMamba";
  const o = checkOptions(fn, "options", options, MAMBA_TRAIN_OPTIONS);
  const setup = mambaLossSetup(fn, model, {
    variant: o.variant,
    scanStrategy: o.scanStrategy,
    chunkSize: o.chunkSize,
    engine: o.engine,
    pool: o.pool,
  });
  return trainingLoop(fn, setup.model, options, setup.variant, (batch) =>
    mambaBatchLossAndGrads(fn, setup, batch.tokens, batch.targets, batch.mask, BATCH_ARGS),
  );
}

/**
 * Trains a Transformer++ in place with the loop of {@link trainMamba} (same batches, schedule,
 * clipping, AdamW, display, interrupts and resumable state); each step's loss and gradients come
 * from `transformerLossAndGrads` with `options.engine` and `options.pool` (attention weights
 * kept: O(b·H·l²) memory per layer).
 */
export async function trainTransformer(
  model: TransformerModel,
  options: TransformerTrainOptions,
): Promise<TrainResult> {
  const fn = "trainTransformer";
  const o = checkOptions(fn, "options", options, TRANSFORMER_TRAIN_OPTIONS);
  const setup = transformerLossSetup(fn, model, o);
  return trainingLoop(fn, model, options, "transformer", (batch) =>
    transformerBatchLossAndGrads(fn, setup, batch.tokens, batch.targets, batch.mask, BATCH_ARGS),
  );
}

/**
 * Trains a Mamba-2 LM in place with the loop of {@link trainMamba}; each step's loss and
 * gradients come from `mamba2LossAndGrads` with `options.engine` and `options.pool`.
 */
export async function trainMamba2(
  model: Mamba2Model,
  options: TransformerTrainOptions,
): Promise<TrainResult> {
  const fn = "trainMamba2";
  const o = checkOptions(fn, "options", options, TRANSFORMER_TRAIN_OPTIONS);
  const setup = mamba2LossSetup(fn, model, o);
  return trainingLoop(fn, setup.model, options, "mamba-2", (batch) =>
    mamba2BatchLossAndGrads(fn, setup, batch.tokens, batch.targets, batch.mask, BATCH_ARGS),
  );
}

/** The loop shared by every model: `lossAndGrads` is the only model-specific step. */
async function trainingLoop(
  fn: string,
  model: TrainableParams,
  options: TransformerTrainOptions,
  label: string,
  lossAndGrads: (batch: TrainBatch) => LossAndGrads,
): Promise<TrainResult> {
  const schedule = parseSchedule(fn, "options.schedule", options.schedule);
  const adamw = parseAdamW(fn, "options.adamw", options.adamw, false);
  const total = schedule.totalSteps;
  const clip = options.clip ?? 1;
  const state = options.state ?? {
    step: 0,
    optimizer: createAdamW(model.params),
    rng: new Rng(options.seed ?? 0),
  };
  if (options.state) checkStateMatches(fn, "options.state", state, model);
  const maxSteps = options.maxSteps ?? Infinity;
  const timeLimit = options.timeLimitSeconds ?? Infinity;
  const show = options.display !== false;
  const history: StepRecord[] = [];
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  const started = Date.now();
  const display = show ? trainingDisplay(label, total) : null;
  let stopped: TrainResult["stopped"] = "done";
  try {
    let done = 0;
    while (state.step < total) {
      if (done >= maxSteps) {
        stopped = "maxSteps";
        break;
      }
      if ((Date.now() - started) / 1000 >= timeLimit) {
        stopped = "timeLimit";
        break;
      }
      if (interrupted || options.signal?.aborted) {
        stopped = "interrupted";
        break;
      }
      const t0 = performance.now();
      const batch = checkArg(
        fn,
        "options.batch(...)",
        options.batch(state.rng, state.step),
        BATCH,
      ) as TrainBatch;
      const { loss, grads, count, correct } = lossAndGrads(batch);
      const gradNorm = clipGlobalNorm(grads, clip === Infinity ? Number.MAX_VALUE : clip);
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        throw new Error(
          `${fn}: training diverged at step ${state.step + 1}: loss ${loss}, gradient norm ${gradNorm} (the model keeps the weights of step ${state.step}; lower options.schedule.peakLr or clip harder)`,
        );
      }
      const lr = learningRateAt(state.step, schedule);
      adamwUpdate(model.params, grads, state.optimizer, { ...adamw, lr });
      state.step += 1;
      done += 1;
      const seconds = (performance.now() - t0) / 1000;
      const tokens = Array.isArray(batch.tokens)
        ? batch.tokens.length * batch.tokens[0].length
        : batch.tokens.data.length;
      const record: StepRecord = {
        step: state.step,
        loss,
        accuracy: correct / count,
        lr,
        gradNorm,
        tokensPerSecond: tokens / seconds,
      };
      history.push(record);
      options.onStep?.(record);
      const eta =
        ((Date.now() - started) / 1000 / done) * Math.min(total - state.step, maxSteps - done);
      display?.step(history, eta);
      try {
        // Yield so an interrupt can arrive between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
      } catch {
        interrupted = true;
      }
    }
  } finally {
    process.removeListener("SIGINT", onSigint);
  }
  if (interrupted) stopped = "interrupted";
  await display?.end(history, state.step, stopped);
  return { history, state, stopped };
}
