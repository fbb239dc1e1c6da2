/**
 * The optimiser side of training: AdamW (Loshchilov & Hutter 2019, Algorithm 2: Adam with weight
 * decay decoupled from the gradient), gradient clipping by the global norm, and the learning-rate
 * schedule (linear warmup, then cosine decay), as used to train Mamba.
 *
 * Parameters and gradients are `Map<string, Tensor>` keyed by checkpoint tensor names; the
 * optimiser updates the parameter tensors in place.
 */
import { type FloatArray, type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, checkOptions, describe, schema } from "../validate";

/** Hyper-parameters of {@link adamwStep}. */
export interface AdamWOptions {
  /** Learning rate η of this step (see {@link learningRate} for the schedule). */
  lr: number;
  /** β₁ (default 0.9). */
  beta1?: number;
  /** β₂ (default 0.95, the usual choice for language models; Adam's paper uses 0.999). */
  beta2?: number;
  /** ε (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay λ (default 0.1); not applied where {@link noWeightDecay} says so. */
  weightDecay?: number;
}

/**
 * AdamW's state: the step count t and the moment estimates m, v of every parameter, kept in the
 * parameter's dtype (as PyTorch does), so a float32 model's state saves exactly as F32.
 */
export interface AdamWState {
  step: number;
  m: Map<string, FloatArray>;
  v: Map<string, FloatArray>;
}

/**
 * Whether a parameter is exempt from weight decay: A_log and D (upstream Mamba marks them
 * `_no_weight_decay` in `mamba_simple.py`), Mamba-2's dt_bias (likewise in `mamba2.py`), and, as
 * the GPT training recipe, every bias and the norms' weights (the embeddings, which that recipe
 * also exempts, are decayed).
 */
export function noWeightDecay(name: string): boolean {
  return !decays(checkArg("noWeightDecay", "name", name, schema.string()));
}

/** Whether weight decay applies to the parameter `name` (see {@link noWeightDecay}). */
function decays(name: string): boolean {
  return !(
    name.endsWith(".A_log") ||
    name.endsWith(".D") ||
    name.endsWith(".dt_bias") ||
    name.endsWith(".bias") ||
    /(^|\.)(norm|norm_f|input_layernorm|post_attention_layernorm)\.weight$/.test(name)
  );
}

const ANY_TENSOR = schema.tensor();

/** Rejects anything but a Map (of parameter name to tensor). */
function checkMap(fn: string, arg: string, value: unknown): void {
  if (!(value instanceof Map)) {
    throw argumentError(fn, arg, `a Map<string, Tensor> (got ${describe(value)})`);
  }
}

/** A fresh AdamW state (t = 0, m = v = 0) for the given parameters. */
export function createAdamW(params: Map<string, Tensor>): AdamWState {
  checkMap("createAdamW", "params", params);
  const m = new Map<string, FloatArray>();
  const v = new Map<string, FloatArray>();
  for (const [name, p] of params) {
    checkArg("createAdamW", `params["${name}"]`, p, ANY_TENSOR);
    m.set(name, allocate(dtypeOf(p), p.data.length));
    v.set(name, allocate(dtypeOf(p), p.data.length));
  }
  return { step: 0, m, v };
}

/**
 * One AdamW step (Algorithm 2 of Loshchilov & Hutter), in place on `params` and `state`:
 *
 *   t ← t + 1;  m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²
 *   m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ)
 *   θ ← θ − η (m̂ / (√v̂ + ε) + λ θ)        (λ = 0 where {@link noWeightDecay})
 *
 * Every parameter needs a gradient of its shape. The update is computed in float64.
 */
export function adamwStep(
  params: Map<string, Tensor>,
  grads: Map<string, Tensor>,
  state: AdamWState,
  options: AdamWOptions,
): void {
  const fn = "adamwStep";
  checkMap(fn, "params", params);
  checkMap(fn, "grads", grads);
  const st = state as Partial<AdamWState> | null;
  if (
    st === null ||
    typeof st !== "object" ||
    typeof st.step !== "number" ||
    !(st.m instanceof Map) ||
    !(st.v instanceof Map)
  ) {
    throw argumentError(fn, "state", `an AdamWState from createAdamW (got ${describe(state)})`);
  }
  const settings = parseAdamW(fn, "options", options, true);
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) {
      throw argumentError(
        fn,
        "grads",
        `a Map holding a gradient for every parameter (got none for "${name}")`,
      );
    }
    checkArg(fn, `grads["${name}"]`, g, schema.tensor({ shape: p.shape }));
    if (!state.m.has(name)) {
      throw argumentError(
        fn,
        "state",
        `an AdamWState with moments for every parameter (got none for "${name}": made for other parameters?)`,
      );
    }
  }
  adamwUpdate(params, grads, state, settings);
}

/** AdamW's settings with their defaults (see {@link AdamWOptions}). */
export interface AdamWSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/**
 * AdamW's options checked for the function `fn` the user called (`arg` names the object), with
 * the defaults filled in; `withLr`: the learning rate is part of it (adamwStep), else it must be
 * absent (the training loop takes it from the schedule) and is returned as 0.
 */
export function parseAdamW(
  fn: string,
  arg: string,
  options: unknown,
  withLr: boolean,
): AdamWSettings {
  const o = checkOptions(fn, arg, options, withLr ? ADAMW_OPTIONS : ADAMW_WITHOUT_LR);
  const settings = {
    lr: withLr ? (o as { lr: number }).lr : 0,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.95,
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? 0.1,
  };
  for (const k of ["beta1", "beta2"] as const) {
    const x = settings[k];
    // [0, 1): a β of 1 would never forget (a half-open range the number schema does not state).
    if (!(typeof x === "number" && x >= 0 && x < 1)) {
      throw argumentError(fn, `${arg}.${k}`, `a number in [0, 1) (got ${describe(x)})`);
    }
  }
  return settings;
}

/** The update of {@link adamwStep} on checked arguments (every parameter has its gradient). */
export function adamwUpdate(
  params: Map<string, Tensor>,
  grads: Map<string, Tensor>,
  state: AdamWState,
  { lr, beta1: b1, beta2: b2, eps, weightDecay: wd }: AdamWSettings,
): void {
  state.step += 1;
  const t = state.step;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  for (const [name, p] of params) {
    const g = grads.get(name)!.data;
    const m = state.m.get(name)!;
    const v = state.v.get(name)!;
    const decay = decays(name) ? wd : 0;
    const w = p.data;
    for (let i = 0; i < w.length; i++) {
      const mi = b1 * m[i] + (1 - b1) * g[i];
      const vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
      m[i] = mi;
      v[i] = vi;
      const update = mi / c1 / (Math.sqrt(vi / c2) + eps);
      w[i] = w[i] - lr * (update + decay * w[i]);
    }
  }
}

/**
 * Clips gradients by their global norm (as `torch.nn.utils.clip_grad_norm_`): with
 * ‖g‖ = sqrt(Σ over all tensors of Σ g²), every gradient is scaled by min(1, maxNorm / ‖g‖), in
 * place. Returns ‖g‖ before clipping (worth logging: spikes show instability).
 */
export function clipGradNorm(grads: Map<string, Tensor>, maxNorm: number): number {
  checkMap("clipGradNorm", "grads", grads);
  const max = checkArg("clipGradNorm", "maxNorm", maxNorm, schema.positive());
  for (const [name, g] of grads) checkArg("clipGradNorm", `grads["${name}"]`, g, ANY_TENSOR);
  return clipGlobalNorm(grads, max);
}

/** {@link clipGradNorm} on checked arguments. */
export function clipGlobalNorm(grads: Map<string, Tensor>, max: number): number {
  let ss = 0;
  for (const g of grads.values())
    for (let i = 0; i < g.data.length; i++) ss += g.data[i] * g.data[i];
  const norm = Math.sqrt(ss);
  if (norm > max) {
    const s = max / norm;
    for (const g of grads.values()) for (let i = 0; i < g.data.length; i++) g.data[i] *= s;
  }
  return norm;
}

/** The schedule of {@link learningRate}. */
export interface LrSchedule {
  /** Peak learning rate (>= 0), reached at the end of warmup. */
  peakLr: number;
  /** Steps of linear warmup from 0 (may be 0). */
  warmupSteps: number;
  /** Total steps; the cosine ends here at minLr. */
  totalSteps: number;
  /** Final learning rate (>= 0; default peakLr / 10). */
  minLr?: number;
}

/**
 * The learning rate at step s (0-based): linear warmup η = peak · (s + 1) / warmup for
 * s < warmup, then cosine decay η = min + ½ (peak − min)(1 + cos(π p)) with
 * p = (s − warmup) / (total − warmup) ∈ [0, 1]; minLr after the last step.
 */
export function learningRate(step: number, schedule: LrSchedule): number {
  const fn = "learningRate";
  const s = checkArg(fn, "step", step, schema.integer({ min: 0 }));
  return learningRateAt(s, parseSchedule(fn, "schedule", schedule));
}

/**
 * A schedule checked for the function `fn` the user called (`arg` names it), minLr defaulted:
 * totalSteps ≥ 1, warmupSteps in [0, totalSteps], finite rates.
 */
export function parseSchedule(fn: string, arg: string, schedule: unknown): Required<LrSchedule> {
  const sc = checkOptions(fn, arg, schedule, LR_SCHEDULE);
  const total = sc.totalSteps!;
  const warm = sc.warmupSteps!;
  if (warm > total) {
    throw argumentError(
      fn,
      `${arg}.warmupSteps`,
      `an integer in [0, ${total}] (totalSteps) (got ${warm})`,
    );
  }
  return {
    totalSteps: total,
    warmupSteps: warm,
    peakLr: sc.peakLr!,
    minLr: sc.minLr ?? sc.peakLr! / 10,
  };
}

/** {@link learningRate} on a checked schedule. */
export function learningRateAt(step: number, sc: Required<LrSchedule>): number {
  const { totalSteps: total, warmupSteps: warm, peakLr: peak, minLr: min } = sc;
  if (step < warm) return (peak * (step + 1)) / warm;
  if (total === warm) return min;
  const p = Math.min(1, (step - warm) / (total - warm));
  return min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * p));
}

const ADAMW_SETTINGS = {
  beta1: schema.optional(schema.present<number>()),
  beta2: schema.optional(schema.present<number>()),
  eps: schema.optional(schema.positive()),
  weightDecay: schema.optional(schema.number({ min: 0 })),
};
const ADAMW_OPTIONS = schema.options({ lr: schema.number({ min: 0 }), ...ADAMW_SETTINGS });
const ADAMW_WITHOUT_LR = schema.options(
  ADAMW_SETTINGS,
  "AdamW's settings without lr (the schedule sets the learning rate)",
);

// In the order learningRate reads them: totalSteps bounds warmupSteps.
const LR_SCHEDULE = schema.options(
  {
    totalSteps: schema.integer({ min: 1 }),
    warmupSteps: schema.integer({ min: 0 }),
    peakLr: schema.number({ min: 0 }),
    minLr: schema.optional(schema.number({ min: 0 })),
  },
  "a learning-rate schedule",
);
