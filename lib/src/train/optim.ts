/**
 * The optimiser side of training: AdamW (Loshchilov & Hutter 2019, Algorithm 2: Adam with weight
 * decay decoupled from the gradient), gradient clipping by the global norm, and the learning-rate
 * schedule (linear warmup, then cosine decay), as used to train Mamba.
 *
 * Parameters and gradients are `Map<string, Tensor>` keyed by checkpoint tensor names; the
 * optimiser updates the parameter tensors in place.
 */
import { type FloatArray, type Tensor, allocate, dtypeOf } from "../tensor";
import {
  argumentError,
  assertFiniteNumber,
  assertInteger,
  assertTensor,
  checkArg,
  describe,
  schema,
} from "../validate";

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
 * `_no_weight_decay` in `mamba_simple.py`), and, as the GPT training recipe, every bias and the
 * norms' weights (the embeddings, which that recipe also exempts, are decayed).
 */
export function noWeightDecay(name: string): boolean {
  checkArg("noWeightDecay", "name", name, schema.string());
  return (
    name.endsWith(".A_log") ||
    name.endsWith(".D") ||
    name.endsWith(".bias") ||
    /(^|\.)(norm|norm_f|input_layernorm|post_attention_layernorm)\.weight$/.test(name)
  );
}

/** Rejects anything but a Map (of parameter name to tensor). */
function checkMap(fn: string, arg: string, value: unknown): void {
  if (!(value instanceof Map)) {
    throw argumentError(fn, arg, `a Map<string, Tensor> (got ${describe(value)})`);
  }
}

/** A fresh AdamW state (t = 0, m = v = 0) for the given parameters. */
export function createAdamW(params: Map<string, Tensor>): AdamWState {
  if (!(params instanceof Map)) {
    throw new Error(
      `createAdamW: argument 'params' must be a Map<string, Tensor> (got ${describe(params)})`,
    );
  }
  const m = new Map<string, FloatArray>();
  const v = new Map<string, FloatArray>();
  for (const [name, p] of params) {
    assertTensor(`createAdamW: params["${name}"]`, p);
    m.set(name, allocate(dtypeOf(p), p.data.length));
    v.set(name, allocate(dtypeOf(p), p.data.length));
  }
  return { step: 0, m, v };
}

const ADAMW_KEYS = new Set(["lr", "beta1", "beta2", "eps", "weightDecay"]);

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
    throw new Error(
      `${fn}: argument 'state' must be an AdamWState from createAdamW (got ${describe(state)})`,
    );
  }
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(
      `${fn}: argument 'options' must be { lr, beta1?, beta2?, eps?, weightDecay? } (got ${describe(options)})`,
    );
  }
  for (const k of Object.keys(options)) {
    if (!ADAMW_KEYS.has(k))
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${k}"; the keys are lr, beta1, beta2, eps, weightDecay)`,
      );
  }
  const lr = assertFiniteNumber(`${fn}: options.lr`, options.lr);
  const b1 = options.beta1 ?? 0.9;
  const b2 = options.beta2 ?? 0.95;
  const eps = options.eps ?? 1e-8;
  const wd = options.weightDecay ?? 0.1;
  for (const [k, x] of [
    ["beta1", b1],
    ["beta2", b2],
  ] as const) {
    if (!(typeof x === "number" && x >= 0 && x < 1))
      throw new Error(
        `${fn}: argument 'options.${k}' must be a number in [0, 1) (got ${describe(x)})`,
      );
  }
  if (!(lr >= 0)) throw new Error(`${fn}: argument 'options.lr' must be a number >= 0 (got ${lr})`);
  if (!(assertFiniteNumber(`${fn}: options.eps`, eps) > 0))
    throw new Error(`${fn}: argument 'options.eps' must be a positive number (got ${eps})`);
  if (!(assertFiniteNumber(`${fn}: options.weightDecay`, wd) >= 0)) {
    throw new Error(`${fn}: argument 'options.weightDecay' must be a number >= 0 (got ${wd})`);
  }
  for (const [name, p] of params) {
    const g = grads.get(name);
    if (!g) {
      throw new Error(
        `${fn}: argument 'grads' must hold a gradient for every parameter (got none for "${name}")`,
      );
    }
    assertTensor(`${fn}: grads["${name}"]`, g, { shape: p.shape });
    if (!state.m.has(name))
      throw new Error(
        `${fn}: argument 'state' must hold moments for every parameter (got none for "${name}": made for other parameters?)`,
      );
  }
  state.step += 1;
  const t = state.step;
  const c1 = 1 - b1 ** t;
  const c2 = 1 - b2 ** t;
  for (const [name, p] of params) {
    const g = grads.get(name)!.data;
    const m = state.m.get(name)!;
    const v = state.v.get(name)!;
    const decay = noWeightDecay(name) ? 0 : wd;
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
  const max = assertFiniteNumber("clipGradNorm: maxNorm", maxNorm);
  if (!(max > 0))
    throw new Error(`clipGradNorm: argument 'maxNorm' must be a positive number (got ${max})`);
  let ss = 0;
  for (const [name, g] of grads) {
    assertTensor(`clipGradNorm: grads["${name}"]`, g);
    for (let i = 0; i < g.data.length; i++) ss += g.data[i] * g.data[i];
  }
  const norm = Math.sqrt(ss);
  if (norm > max) {
    const s = max / norm;
    for (const g of grads.values()) for (let i = 0; i < g.data.length; i++) g.data[i] *= s;
  }
  return norm;
}

/** The schedule of {@link learningRate}. */
export interface LrSchedule {
  /** Peak learning rate, reached at the end of warmup. */
  peakLr: number;
  /** Steps of linear warmup from 0 (may be 0). */
  warmupSteps: number;
  /** Total steps; the cosine ends here at minLr. */
  totalSteps: number;
  /** Final learning rate (default peakLr / 10). */
  minLr?: number;
}

/**
 * The learning rate at step s (0-based): linear warmup η = peak · (s + 1) / warmup for
 * s < warmup, then cosine decay η = min + ½ (peak − min)(1 + cos(π p)) with
 * p = (s − warmup) / (total − warmup) ∈ [0, 1]; minLr after the last step.
 */
export function learningRate(step: number, schedule: LrSchedule): number {
  const fn = "learningRate";
  const s = assertInteger(`${fn}: step`, step, 0);
  const total = assertInteger(`${fn}: schedule.totalSteps`, schedule?.totalSteps, 1);
  const warm = assertInteger(`${fn}: schedule.warmupSteps`, schedule.warmupSteps, 0, total);
  const peak = assertFiniteNumber(`${fn}: schedule.peakLr`, schedule.peakLr);
  const min = assertFiniteNumber(`${fn}: schedule.minLr`, schedule.minLr ?? peak / 10);
  if (s < warm) return (peak * (s + 1)) / warm;
  if (total === warm) return min;
  const p = Math.min(1, (s - warm) / (total - warm));
  return min + 0.5 * (peak - min) * (1 + Math.cos(Math.PI * p));
}
