/**
 * The training loop: batches → the model's loss and gradients ({@link mambaLossAndGrads} for
 * Mamba, `transformerLossAndGrads` for the Transformer++) → clip → AdamW at the scheduled learning
 * rate, with a live display (loss and accuracy curves, tokens/s, ETA) that updates in place, a
 * clean stop on interrupt (the model keeps every completed step), and a resumable training state
 * (optimiser moments, step, RNG state) saved next to the checkpoint.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { assertInteger, assertPositive, describe } from "../validate";
import { readSafetensors, writeSafetensors } from "../checkpoint/safetensors";
import { createOutputFolder, fileError, inFile } from "../checkpoint/file-errors";
import { displayBundle, inKernel } from "../display/jupyter";
import { figureBundle, lineChart } from "../display/plot";
import { progress } from "../display/progress";
import type { LossAndGrads } from "../lm/loss";
import type { TokenBatch } from "../lm/tokens";
import type { MambaModel } from "../mamba/model";
import { resolveVariant } from "../mamba/checks";
import { type LossAndGradsOptions, mambaLossAndGrads } from "../mamba/grads";
import type { TransformerModel } from "../transformer/model";
import { checkTransformerModel } from "../transformer/checks";
import { transformerLossAndGrads } from "../transformer/grads";
import {
  type AdamWOptions,
  type AdamWState,
  type LrSchedule,
  adamwStep,
  clipGradNorm,
  createAdamW,
  learningRate,
} from "./optim";

/** One training batch: token ids (b, l), optional targets (b, l) and mask (b·l). */
export interface TrainBatch {
  tokens: TokenBatch;
  targets?: TokenBatch;
  mask?: ArrayLike<number> | null;
}

/** Everything needed to continue a run exactly: optimiser, step count, the batch RNG. */
export interface TrainingState {
  /** Steps completed. */
  step: number;
  optimizer: AdamWState;
  /** The generator batches are drawn from (its state advances with every batch). */
  rng: Rng;
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
  /** The engine of mambaLossAndGrads (default "typescript") and, for "simd-threads", its pool. */
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

/** Options of {@link trainTransformer}: those of {@link trainMamba} without Mamba's mixer and scan. */
export type TransformerTrainOptions = Omit<TrainOptions, "variant" | "scanStrategy" | "chunkSize">;

/** Any model the loop trains: its parameters keyed by checkpoint tensor name. */
export interface TrainableParams {
  params: Map<string, Tensor>;
}

/** What {@link trainMamba} returns. */
export interface TrainResult {
  history: StepRecord[];
  state: TrainingState;
  /** Why the run ended. */
  stopped: "done" | "maxSteps" | "timeLimit" | "interrupted";
}

const TRAIN_KEYS = new Set([
  "batch",
  "schedule",
  "adamw",
  "clip",
  "variant",
  "scanStrategy",
  "chunkSize",
  "engine",
  "pool",
  "state",
  "seed",
  "maxSteps",
  "timeLimitSeconds",
  "display",
  "onStep",
  "signal",
]);

/**
 * Trains `model` in place. Each step: batch = options.batch(rng, step); (loss, grads) =
 * mambaLossAndGrads; clip the global norm; AdamW with lr = learningRate(step, schedule).
 *
 * The loop yields to the event loop between steps, so an interrupt (the kernel's stop button, or
 * Ctrl-C / SIGINT in a script) or `signal` ends it cleanly after the step in progress: the model
 * holds every completed step and the returned state continues the run.
 */
export async function trainMamba(model: MambaModel, options: TrainOptions): Promise<TrainResult> {
  const fn = "trainMamba";
  checkTrainOptions(fn, options, TRAIN_KEYS);
  const variant = resolveVariant(fn, model, options.variant);
  return trainingLoop(fn, model, options, variant, (batch) =>
    mambaLossAndGrads(model, batch.tokens, {
      targets: batch.targets,
      mask: batch.mask,
      variant,
      scanStrategy: options.scanStrategy,
      chunkSize: options.chunkSize,
      engine: options.engine,
      pool: options.pool,
    }),
  );
}

const TRANSFORMER_TRAIN_KEYS = new Set(
  [...TRAIN_KEYS].filter(
    (k) => !["variant", "scanStrategy", "chunkSize", "engine", "pool"].includes(k),
  ),
);

/**
 * Trains a Transformer++ in place with the loop of {@link trainMamba} (same batches, schedule,
 * clipping, AdamW, display, interrupts and resumable state); each step's loss and gradients come
 * from `transformerLossAndGrads` (attention weights kept: O(b·H·l²) memory per layer).
 */
export async function trainTransformer(
  model: TransformerModel,
  options: TransformerTrainOptions,
): Promise<TrainResult> {
  const fn = "trainTransformer";
  checkTransformerModel(fn, model);
  checkTrainOptions(fn, options, TRANSFORMER_TRAIN_KEYS);
  return trainingLoop(fn, model, options, "transformer", (batch) =>
    transformerLossAndGrads(model, batch.tokens, { targets: batch.targets, mask: batch.mask }),
  );
}

function checkTrainOptions(fn: string, options: unknown, keys: Set<string>): void {
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new Error(`${fn}: argument 'options' must be an object (got ${describe(options)})`);
  for (const k of Object.keys(options)) {
    if (!keys.has(k))
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${k}"; the keys are ${[...keys].join(", ")})`,
      );
  }
  const o = options as TrainOptions;
  if (typeof o.batch !== "function")
    throw new Error(
      `${fn}: argument 'options.batch' must be a function (rng, step) => { tokens, targets?, mask? }`,
    );
  assertInteger(`${fn}: options.schedule.totalSteps`, o.schedule?.totalSteps, 1);
  learningRate(0, o.schedule); // validates the schedule
  const clip = o.clip ?? 1;
  if (clip !== Infinity) assertPositive(`${fn}: options.clip`, clip);
}

/** The loop shared by every model: `lossAndGrads` is the only model-specific step. */
async function trainingLoop(
  fn: string,
  model: TrainableParams,
  options: TransformerTrainOptions,
  label: string,
  lossAndGrads: (batch: TrainBatch) => LossAndGrads,
): Promise<TrainResult> {
  const total = options.schedule.totalSteps;
  const clip = options.clip ?? 1;
  const state = options.state ?? {
    step: 0,
    optimizer: createAdamW(model.params),
    rng: new Rng(assertInteger(`${fn}: options.seed`, options.seed ?? 0)),
  };
  if (options.state) checkStateMatches(fn, "options.state", state, model);
  const maxSteps =
    options.maxSteps === undefined
      ? Infinity
      : assertInteger(`${fn}: options.maxSteps`, options.maxSteps, 0);
  const timeLimit =
    options.timeLimitSeconds === undefined
      ? Infinity
      : assertPositive(`${fn}: options.timeLimitSeconds`, options.timeLimitSeconds);
  const show = options.display !== false;
  const history: StepRecord[] = [];
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  const started = Date.now();
  const bar = show ? progress(`training (${label})`, total) : null;
  const plot = show && inKernel() ? livePlot() : null;
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
      const batch = options.batch(state.rng, state.step);
      const { loss, grads, count, correct } = lossAndGrads(batch);
      const gradNorm = clipGradNorm(grads, clip === Infinity ? Number.MAX_VALUE : clip);
      const lr = learningRate(state.step, options.schedule);
      adamwStep(model.params, grads, state.optimizer, { lr, ...options.adamw });
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
      if (bar) {
        const eta =
          ((Date.now() - started) / 1000 / done) * Math.min(total - state.step, maxSteps - done);
        bar.update(
          state.step,
          `loss ${loss.toFixed(3)} · acc ${(record.accuracy * 100).toFixed(1)}% · ${Math.round(record.tokensPerSecond)} tok/s · ETA ${eta.toFixed(0)}s`,
        );
      }
      plot?.update(history, false);
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
  const last = history[history.length - 1];
  const summary = last
    ? `${stopped} at step ${state.step}: loss ${last.loss.toFixed(3)}, acc ${(last.accuracy * 100).toFixed(1)}%`
    : stopped;
  // finish() draws a full bar: only for a run that reached the end of its schedule.
  if (stopped === "done") bar?.finish(summary);
  else if (bar) {
    await new Promise((resolve) => setTimeout(resolve, 110)); // past the bar's redraw throttle
    bar.update(state.step, summary);
  }
  plot?.update(history, true);
  return { history, state, stopped };
}

/** A loss/accuracy plot updated in place at most every 2 s. */
function livePlot(): { update(history: StepRecord[], final: boolean): void } {
  const displayId = `train-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  let last = 0;
  let first = true;
  return {
    update(history, final) {
      const now = Date.now();
      if (!final && now - last < 2000) return;
      if (history.length === 0) return;
      last = now;
      const steps = history.map((r) => r.step);
      const fig = lineChart(
        [
          { name: "loss (nats)", x: steps, y: history.map((r) => r.loss) },
          { name: "accuracy", x: steps, y: history.map((r) => r.accuracy) },
        ],
        { title: "training", xLabel: "step", height: 300 },
      );
      displayBundle(figureBundle(fig), { displayId, update: !first });
      first = false;
    },
  };
}

const STATE_FORMAT = "mamba-ts-training-state/1";

/**
 * Saves a training state next to a checkpoint: `dir/training_state.json` (format, step, RNG
 * state, parameter names and shapes) and `dir/optimizer.safetensors` (AdamW's m and v as
 * `exp_avg.<name>` / `exp_avg_sq.<name>`, PyTorch's names, in the parameters' float32). Save the
 * model itself with `saveMambaCheckpoint(model, dir)` (or `saveTransformerCheckpoint`).
 */
export function saveTrainingState(state: TrainingState, model: TrainableParams, dir: string): void {
  const fn = "saveTrainingState";
  if (!model || typeof model !== "object" || !(model.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<string, Tensor> } (got ${describe(model)})`,
    );
  }
  checkStateMatches(fn, "state", state, model);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  createOutputFolder(fn, dir);
  const tensors = new Map<string, Tensor>();
  for (const [name, p] of model.params) {
    tensors.set(`exp_avg.${name}`, { shape: p.shape, data: state.optimizer.m.get(name)! });
    tensors.set(`exp_avg_sq.${name}`, { shape: p.shape, data: state.optimizer.v.get(name)! });
  }
  writeSafetensors(path.join(dir, "optimizer.safetensors"), tensors, { format: STATE_FORMAT });
  const json = {
    format: STATE_FORMAT,
    step: state.step,
    optimizer_step: state.optimizer.step,
    rng: state.rng.getState(),
    params: Object.fromEntries([...model.params].map(([n, p]) => [n, p.shape])),
  };
  writeFileSync(path.join(dir, "training_state.json"), JSON.stringify(json, null, 2) + "\n");
}

/**
 * Loads a training state saved by {@link saveTrainingState} for `model`, refusing (naming the file
 * and what differs) a wrong format, parameters of other names or shapes, missing moments, a bad
 * step or RNG state.
 */
export function loadTrainingState(dir: string, model: TrainableParams): TrainingState {
  const fn = "loadTrainingState";
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  if (!model || typeof model !== "object" || !(model.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<string, Tensor> } (got ${describe(model)})`,
    );
  }
  const what = "a folder holding a training state";
  const bad = (file: string, problem: string): Error => fileError(fn, "dir", what, file, problem);
  const jsonPath = path.join(dir, "training_state.json");
  const stPath = path.join(dir, "optimizer.safetensors");
  for (const p of [jsonPath, stPath])
    if (!existsSync(p)) throw bad(p, "missing (saved by saveTrainingState?)");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch (e) {
    throw bad(jsonPath, `not valid JSON (${(e as Error).message})`);
  }
  if (raw.format !== STATE_FORMAT)
    throw bad(jsonPath, `format must be "${STATE_FORMAT}" (got ${describe(raw.format)})`);
  const [step, optStep] = inFile(fn, "dir", what, jsonPath, () => [
    assertInteger(`${fn}: step`, raw.step, 0),
    assertInteger(`${fn}: optimizer_step`, raw.optimizer_step, 0),
  ]);
  const saved = raw.params as Record<string, number[]> | undefined;
  if (!saved || typeof saved !== "object")
    throw bad(jsonPath, `params must be { name: shape } (got ${describe(saved)})`);
  for (const [name, p] of model.params) {
    const s = saved[name];
    if (!s) throw bad(jsonPath, `has no parameter "${name}": this state belongs to another model`);
    if (s.length !== p.shape.length || s.some((v, i) => v !== p.shape[i])) {
      throw bad(
        jsonPath,
        `parameter "${name}" had shape [${s.join(", ")}], the model's is [${p.shape.join(", ")}]`,
      );
    }
  }
  for (const name of Object.keys(saved)) {
    if (!model.params.has(name))
      throw bad(
        jsonPath,
        `parameter "${name}" is not in the model: this state belongs to another model`,
      );
  }
  const rng: Rng = inFile(fn, "dir", what, jsonPath, () =>
    Rng.fromState(raw.rng as { words: number[]; spareNormal: number | null }),
  );
  const tensors = inFile(fn, "dir", what, stPath, () => readSafetensors(stPath));
  const m = new Map<string, Float32Array | Float64Array>();
  const v = new Map<string, Float32Array | Float64Array>();
  for (const [name, p] of model.params) {
    for (const [prefix, into] of [
      ["exp_avg.", m],
      ["exp_avg_sq.", v],
    ] as const) {
      const t = tensors.get(prefix + name);
      if (!t) throw bad(stPath, `missing tensor "${prefix + name}"`);
      if (t.data.length !== p.data.length)
        throw bad(
          stPath,
          `tensor "${prefix + name}" has ${t.data.length} values, the parameter ${p.data.length}`,
        );
      const data =
        p.data instanceof Float32Array ? new Float32Array(t.data) : new Float64Array(t.data);
      into.set(name, data);
    }
  }
  return { step, optimizer: { step: optStep, m, v }, rng };
}

function checkStateMatches(
  fn: string,
  name: string,
  state: TrainingState,
  model: TrainableParams,
): void {
  if (!state || typeof state !== "object" || !(state.rng instanceof Rng) || !state.optimizer?.m) {
    throw new Error(
      `${fn}: argument '${name}' must be { step, optimizer, rng } (from trainMamba or loadTrainingState) (got ${describe(state)})`,
    );
  }
  assertInteger(`${fn}: ${name}.step`, state.step, 0);
  for (const [p, t] of model.params) {
    const m = state.optimizer.m.get(p);
    if (!m || m.length !== t.data.length)
      throw new Error(
        `${fn}: argument '${name}' must hold optimiser moments for the model's parameters (got none of the right size for "${p}": the state belongs to another model)`,
      );
  }
  if (state.optimizer.m.size !== model.params.size)
    throw new Error(
      `${fn}: argument '${name}' must hold optimiser moments for the model's ${model.params.size} parameters (got ${state.optimizer.m.size})`,
    );
}
