/**
 * A training state saved next to a checkpoint, so that a run continues exactly where it stopped:
 * `training_state.json` (format, step, RNG state, parameter names and shapes) and
 * `optimizer.safetensors` (AdamW's moments, PyTorch's names).
 */
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { checkArg, describe, schema } from "../validate";
import { readSafetensors, serialize } from "../checkpoint/safetensors";
import { checkFileToRead, fileError, inFile } from "../checkpoint/file-errors";
import { saveFilesAtomically } from "../checkpoint/write-files";
import type { AdamWState } from "./optim";

/** Any model the loop trains: its parameters keyed by checkpoint tensor name. */
export interface TrainableParams {
  params: Map<string, Tensor>;
}

/** Everything needed to continue a run exactly: optimiser, step count, the batch RNG. */
export interface TrainingState {
  /** Steps completed. */
  step: number;
  optimizer: AdamWState;
  /** The generator batches are drawn from (its state advances with every batch). */
  rng: Rng;
}

const STATE_FORMAT = "mamba-ts-training-state/1";

/** A step count. */
const STEP = schema.integer({ min: 0 });

/** Largest training_state.json read (its parameter list grows with the model: 16 MiB is ample). */
const MAX_STATE_JSON_BYTES = 1 << 24;

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
  const tensors = new Map<string, Tensor>();
  for (const [name, p] of model.params) {
    tensors.set(`exp_avg.${name}`, { shape: p.shape, data: state.optimizer.m.get(name)! });
    tensors.set(`exp_avg_sq.${name}`, { shape: p.shape, data: state.optimizer.v.get(name)! });
  }
  const moments = serialize(fn, tensors, { format: STATE_FORMAT }, "optimizer.safetensors");
  const json = {
    format: STATE_FORMAT,
    step: state.step,
    optimizer_step: state.optimizer.step,
    rng: state.rng.getState(),
    params: Object.fromEntries([...model.params].map(([n, p]) => [n, p.shape])),
  };
  // Both files or neither: the moments first, then the file that says what they are.
  saveFilesAtomically(fn, "dir", dir, [
    { name: "optimizer.safetensors", bytes: moments },
    {
      name: "training_state.json",
      bytes: new TextEncoder().encode(JSON.stringify(json, null, 2) + "\n"),
    },
  ]);
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
  checkFileToRead(fn, "dir", what, jsonPath, MAX_STATE_JSON_BYTES);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch (e) {
    throw bad(jsonPath, `not valid JSON (${(e as Error).message})`);
  }
  if (raw.format !== STATE_FORMAT)
    throw bad(jsonPath, `format must be "${STATE_FORMAT}" (got ${describe(raw.format)})`);
  const [step, optStep] = inFile(fn, "dir", what, jsonPath, () => [
    checkArg(fn, "step", raw.step, STEP),
    checkArg(fn, "optimizer_step", raw.optimizer_step, STEP),
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

export function checkStateMatches(
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
  checkArg(fn, `${name}.step`, state.step, STEP);
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
