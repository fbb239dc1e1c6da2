/**
 * The loss and its gradients for a whole Mamba language model (`MambaForCausalLM` layout),
 * written llm.c style: one forward pass that keeps an explicit cache per layer, then the backward
 * pass walking the layers in reverse, each op's backward (`ops-backward.ts`, `scan-backward.ts`)
 * paired with the forward op (`nn/`) it differentiates.
 *
 * The block (Gu & Dao 2023, Fig. 3; `mamba_simple.py`), for each layer, on the residual stream
 * h (b, l, d):
 *
 *   x, z  = split(in_proj(rmsNorm(h)))               (b, l, E) each
 *   u     = silu(conv1d(x))                          (b, E, l), causal depthwise, width k
 *   δ, B, C = split(x_proj(u))                       (b, l, R), (b, l, N), (b, l, N)
 *   y     = selectiveScan(u, dt_proj.weight δ, A = −exp(A_log), B, C, D, z, dt_proj.bias, softplus)
 *   h     = h + out_proj(y)
 *
 * then logits = rmsNorm_f(h) Wᵀ with W the embedding (tied head) or lm_head.
 *
 * Two ablations of Table 1 (Gu & Dao 2023) use the same parameters and checkpoint layout:
 * - `"s6"`: no gate: the scan's output is not multiplied by silu(z) (the z half of in_proj is
 *   unused and gets zero gradient);
 * - `"lti"`: no gate and no selection, an S4D-like time-invariant layer: Δ = softplus(dt_proj.bias),
 *   B[e, n] = x_proj.weight[R + n, e] and C[e, n] = x_proj.weight[R + N + n, e] fixed per channel,
 *   the same at every position (the δ rows of x_proj and dt_proj.weight are unused).
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { assertInteger, assertPositive, describe, isAbsent } from "../validate";
import { gradsLike } from "../train-fast/engine";
import { simdEngineFor } from "../train-fast/engines";
import { type TrainPool, defaultTrainPool } from "../train-fast/threads";
import { type MambaTokens, readTokens } from "../mamba/forward";
import { linear } from "../nn/linear";
import { rmsNorm } from "../nn/rms-norm";
import { embedding } from "../nn/embedding";
import { causalDepthwiseConv1d } from "../nn/conv1d";
import { siluTensor } from "../nn/elementwise";
import { transpose12 } from "../nn/transpose";
import {
  type ScanBackwardStrategy,
  type ScanCache,
  selectiveScanBackward,
  selectiveScanForwardTrain,
} from "./scan-backward";
import {
  causalDepthwiseConv1dBackward,
  crossEntropy,
  embeddingBackward,
  linearBackward,
  rmsNormBackward,
  siluBackward,
} from "./ops-backward";

/** The mixer used in every layer: the full Mamba block or one of Table 1's ablations. */
export type MixerVariant = "mamba" | "s6" | "lti";

/** The configuration fields the training code reads (Hugging Face `MambaConfig` names). */
export interface MambaTrainConfig {
  vocab_size: number;
  hidden_size: number;
  state_size: number;
  num_hidden_layers: number;
  conv_kernel: number;
  time_step_rank: number;
  intermediate_size: number;
  layer_norm_epsilon: number;
  use_bias: boolean;
  use_conv_bias: boolean;
  tie_word_embeddings: boolean;
}

/** A model as plain data: its config and its parameters keyed by checkpoint tensor name. */
export interface TrainableMamba {
  config: MambaTrainConfig;
  params: Map<string, Tensor>;
  /** Unused config.json fields; `mamba_ts_variant` picks the mixer (see {@link resolveVariant}). */
  extraConfig?: Record<string, unknown>;
}

/** Options of {@link mambaLossAndGrads}. */
export interface LossAndGradsOptions {
  /** Target ids (b, l) (−100 = ignore); default: next token, the last position ignored. */
  targets?: TokenBatch;
  /** Weights (b·l) of the positions in the mean (0/1 masks); default all 1. */
  mask?: ArrayLike<number> | null;
  /** The mixer (default "mamba"). */
  variant?: MixerVariant;
  /** How the scan keeps its states for the backward pass (default "recompute"). */
  scanStrategy?: ScanBackwardStrategy;
  /** Chunk length of the recompute strategy (default 64). */
  chunkSize?: number;
  /**
   * Which implementation computes the step (default "typescript"):
   * - "typescript": this file, the reference (float64 accumulation, any dtype, every variant);
   * - "simd": WebAssembly SIMD kernels in float32 (`train-fast/engine.ts`), the same loss and
   *   gradients up to float32 rounding (tests: relative 1e-4), several times faster;
   * - "simd-threads": "simd" data-parallel over the batch on worker threads
   *   (`train-fast/threads.ts`), with `pool` or a shared default pool of
   *   `os.availableParallelism()` threads.
   * The reference stays the default: it is the one the lessons read and the gradient checks
   * (float64) test; the fast engines are checked against it.
   */
  engine?: TrainEngine;
  /** The worker pool of the "simd-threads" engine (from `createTrainPool`). */
  pool?: TrainPool;
}

/** The implementations of {@link mambaLossAndGrads} (see {@link LossAndGradsOptions.engine}). */
export type TrainEngine = "typescript" | "simd" | "simd-threads";

/** Token ids (b, l): a tensor-like `{ shape: [b, l], data: Int32Array }` or nested arrays. */
export type TokenBatch = MambaTokens;

/** What {@link mambaLossAndGrads} returns. */
export interface LossAndGrads {
  /** Mean cross-entropy (nats) over the counted positions. */
  loss: number;
  /** ∂loss/∂θ for every parameter, same names, shapes and dtypes as `model.params`. */
  grads: Map<string, Tensor>;
  /** Counted positions and how many of them the arg-max prediction gets right. */
  count: number;
  correct: number;
}

const OPTION_KEYS = new Set([
  "targets",
  "mask",
  "variant",
  "scanStrategy",
  "chunkSize",
  "engine",
  "pool",
]);

/**
 * The targets of a language-model loss, (b, l) flattened: `targets` when given (it must have the
 * tokens' shape), else the next token at positions 0..l−2 and −100 (ignored) at l−1, as Hugging
 * Face's `labels = input_ids` shifts them. Shared by every model's loss and gradients.
 */
export function lossTargets(
  fn: string,
  targets: unknown,
  ids: Int32Array,
  b: number,
  l: number,
  vocab: number,
): Int32Array {
  if (targets !== undefined) {
    const t = readTargets(fn, targets, vocab);
    if (t.b !== b || t.l !== l)
      throw new Error(
        `${fn}: argument 'options.targets' must be a (b, l) batch of shape [${b}, ${l}] like tokens (got [${t.b}, ${t.l}])`,
      );
    return t.ids;
  }
  const next = new Int32Array(b * l).fill(-100);
  for (let i = 0; i < b; i++) for (let j = 0; j + 1 < l; j++) next[i * l + j] = ids[i * l + j + 1];
  return next;
}

/** Target ids (b, l) as an Int32Array: ids in [0, vocab) or −100 (ignored), as PyTorch's labels. */
export function readTargets(
  fn: string,
  tokens: unknown,
  vocab: number,
): { ids: Int32Array; b: number; l: number } {
  const name = "options.targets";
  let ids: Int32Array;
  let b: number;
  let l: number;
  if (Array.isArray(tokens)) {
    b = tokens.length;
    l = b > 0 && Array.isArray(tokens[0]) ? tokens[0].length : -1;
    if (b === 0 || l <= 0 || !tokens.every((r) => Array.isArray(r) && r.length === l)) {
      throw new Error(
        `${fn}: argument '${name}' must be a non-empty (b, l) array of equal-length rows of ids`,
      );
    }
    ids = new Int32Array(b * l);
    tokens.forEach((r: number[], i) =>
      r.forEach((v, j) => {
        if (!Number.isInteger(v))
          throw new Error(
            `${fn}: argument '${name}' must be a batch of integer ids (got ${describe(v)})`,
          );
        ids[i * l + j] = v;
      }),
    );
  } else {
    const t = tokens as { shape?: unknown; data?: unknown } | null;
    if (!t || !Array.isArray(t.shape) || t.shape.length !== 2 || !(t.data instanceof Int32Array)) {
      throw new Error(
        `${fn}: argument '${name}' must be { shape: [b, l], data: Int32Array } or number[][] (got ${describe(tokens)})`,
      );
    }
    [b, l] = t.shape as number[];
    ids = t.data;
    if (ids.length !== b * l || b < 1 || l < 1) {
      throw new Error(
        `${fn}: ${name}: data has ${ids.length} ids, shape [${b}, ${l}] needs ${b * l} (b, l >= 1)`,
      );
    }
  }
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] !== -100 && (ids[i] < 0 || ids[i] >= vocab)) {
      throw new Error(
        `${fn}: ${name}: id ${ids[i]} at flat index ${i} is outside [0, ${vocab}) (vocab_size)`,
      );
    }
  }
  return { ids, b, l };
}

interface LayerCache {
  hIn: Tensor; // residual stream entering the layer, (b, l, d)
  hn: Tensor; // rmsNorm(hIn), (b, l, d)
  xConvIn: Tensor; // x half of in_proj, (b, E, l)
  xConv: Tensor; // conv1d output before SiLU, (b, E, l)
  u: Tensor; // silu(conv), (b, E, l)
  uT: Tensor; // u as (b, l, E), x_proj's input
  dtLow: Tensor | null; // δ, (b, l, R)
  scan: ScanCache;
  yT: Tensor; // scan output as (b, l, E), out_proj's input
}

/**
 * The mean cross-entropy of a Mamba LM on `tokens` and its gradient with respect to every
 * parameter (equations in the module comment; each op's backward in `ops-backward.ts` /
 * `scan-backward.ts`).
 *
 * tokens (b, l) ids. By default positions 0..l−2 predict tokens 1..l−1 (Hugging Face's
 * `labels = input_ids`); `targets` (b, l) gives the target of each position instead (−100 to
 * skip), `mask` (b·l) weights the positions. A tied head's gradient is added into
 * `backbone.embeddings.weight`. Arithmetic follows the parameters' dtype (float64 for gradient
 * checks, float32 for training); the scan runs in float64 either way. `engine` picks another
 * implementation of the same step ("simd", "simd-threads": float32 WebAssembly SIMD, one thread
 * or data-parallel over the batch; see {@link LossAndGradsOptions.engine}).
 */
export function mambaLossAndGrads(
  model: TrainableMamba,
  tokens: TokenBatch,
  options: LossAndGradsOptions = {},
): LossAndGrads {
  const fn = "mambaLossAndGrads";
  checkTrainableModel(fn, model);
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new Error(`${fn}: argument 'options' must be an object (got ${describe(options)})`);
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k))
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${k}"; the keys are ${[...OPTION_KEYS].join(", ")})`,
      );
  }
  const variant = resolveVariant(fn, model, options.variant);
  const cfg = model.config;
  const P = (name: string): Tensor => {
    const t = model.params.get(name);
    if (!t)
      throw new Error(
        `${fn}: argument 'model.params' must hold every tensor of the config (got no "${name}")`,
      );
    return t;
  };
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, cfg.vocab_size);
  const targets = lossTargets(fn, options.targets, ids, b, l, cfg.vocab_size);
  const scanOptions = {
    strategy: options.scanStrategy ?? "recompute",
    chunkSize: options.chunkSize ?? 64,
  };
  const engine = options.engine ?? "typescript";
  if (engine !== "typescript" && engine !== "simd" && engine !== "simd-threads") {
    throw new Error(
      `${fn}: options.engine: expected "typescript", "simd" or "simd-threads", got ${describe(engine)}`,
    );
  }
  if (options.pool !== undefined && engine !== "simd-threads") {
    throw new Error(`${fn}: options.pool: only the "simd-threads" engine uses a pool`);
  }
  if (engine !== "typescript") {
    if (scanOptions.strategy !== "recompute") {
      throw new Error(
        `${fn}: options.scanStrategy: the ${engine} engine keeps chunk-boundary states only ("recompute"), got ${describe(scanOptions.strategy)}`,
      );
    }
    assertInteger(`${fn}: options.chunkSize`, scanOptions.chunkSize, 1, 1 << 20);
    const step = {
      config: cfg,
      params: model.params,
      ids,
      targets,
      mask: options.mask ?? null,
      b,
      l,
      variant,
      chunkSize: scanOptions.chunkSize,
    };
    if (options.mask !== undefined && options.mask !== null && options.mask.length !== b * l) {
      throw new Error(
        `${fn}: options.mask: expected ${b * l} entries (one per position), got ${options.mask.length}`,
      );
    }
    const r =
      engine === "simd"
        ? simdEngineFor(cfg.state_size).step(step)
        : (options.pool ?? defaultTrainPool()).step(step);
    return {
      loss: r.loss,
      grads: gradsLike(model.params, r.grads),
      count: r.count,
      correct: r.correct,
    };
  }
  const { logits, caches, h, hf, head } = forwardWithCaches(model, ids, b, l, variant, scanOptions);
  const E = cfg.intermediate_size;
  const N = cfg.state_size;
  const R = cfg.time_step_rank;
  const eps = cfg.layer_norm_epsilon;
  const normF = P("backbone.norm_f.weight");
  const ce = crossEntropy(logits, targets, options.mask);

  // ---- backward ----
  const grads = new Map<string, Tensor>();
  const put = (name: string, g: Tensor): void => {
    const prev = grads.get(name);
    if (prev) for (let k = 0; k < g.data.length; k++) prev.data[k] += g.data[k];
    else grads.set(name, g);
  };
  const headG = linearBackward(hf, head, ce.dlogits);
  put(cfg.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight", headG.dweight);
  const nf = rmsNormBackward(h, normF, eps, headG.dx);
  put("backbone.norm_f.weight", nf.dweight);
  let gh = nf.dx; // ∂loss/∂h after the last layer
  for (let i = cfg.num_hidden_layers - 1; i >= 0; i--) {
    const c = caches[i];
    const m = `backbone.layers.${i}.mixer.`;
    // h_out = h_in + out_proj(yT): the residual passes gh straight through.
    const op = linearBackward(c.yT, P(m + "out_proj.weight"), gh, cfg.use_bias);
    put(m + "out_proj.weight", op.dweight);
    if (cfg.use_bias) put(m + "out_proj.bias", op.dbias!);
    const sg = selectiveScanBackward(c.scan, transpose12(op.dx));
    put(m + "D", sg.dD!);
    put(m + "dt_proj.bias", sg.ddeltaBias!);
    put(m + "A_log", mulTensors(sg.dA, c.scan.args.A)); // A = −exp(A_log): ∂A/∂A_log = A
    let du = sg.du;
    const xpw = P(m + "x_proj.weight");
    if (variant === "lti") {
      const dxp = new Float64Array(xpw.data.length);
      addRowsTransposed(dxp, sg.dB, R, N, E);
      addRowsTransposed(dxp, sg.dC, R + N, N, E);
      put(m + "x_proj.weight", fromF64(xpw, dxp));
      put(m + "dt_proj.weight", zerosLike(P(m + "dt_proj.weight")));
    } else {
      const dDelta = transpose12(sg.ddelta); // (b, l, E)
      const dtp = linearBackward(c.dtLow!, P(m + "dt_proj.weight"), dDelta);
      put(m + "dt_proj.weight", dtp.dweight);
      const dxdbl = concatLast([dtp.dx, transpose12(sg.dB), transpose12(sg.dC)]);
      const xp = linearBackward(c.uT, xpw, dxdbl);
      put(m + "x_proj.weight", xp.dweight);
      du = addTensors(du, transpose12(xp.dx));
    }
    const dConv = siluBackward(c.xConv, du);
    const cv = causalDepthwiseConv1dBackward(
      c.xConvIn,
      P(m + "conv1d.weight"),
      dConv,
      cfg.use_conv_bias,
    );
    put(m + "conv1d.weight", cv.dweight);
    if (cfg.use_conv_bias) put(m + "conv1d.bias", cv.dbias!);
    const dzPart = sg.dz ? transpose12(sg.dz) : zerosLike(transpose12(cv.dx));
    const dxz = concatLast([transpose12(cv.dx), dzPart]);
    const ip = linearBackward(c.hn, P(m + "in_proj.weight"), dxz, cfg.use_bias);
    put(m + "in_proj.weight", ip.dweight);
    if (cfg.use_bias) put(m + "in_proj.bias", ip.dbias!);
    const nb = rmsNormBackward(c.hIn, P(`backbone.layers.${i}.norm.weight`), eps, ip.dx);
    put(`backbone.layers.${i}.norm.weight`, nb.dweight);
    gh = addTensors(gh, nb.dx);
  }
  put("backbone.embeddings.weight", embeddingBackward(ids, cfg.vocab_size, gh));
  // Same dtype and order as the parameters.
  const ordered = new Map<string, Tensor>();
  for (const [name, p] of model.params) {
    const g = grads.get(name) ?? zerosLike(p);
    ordered.set(name, dtypeOf(g) === dtypeOf(p) ? g : fromF64(p, Float64Array.from(g.data)));
  }
  return { loss: ce.loss, grads: ordered, count: ce.count, correct: ce.correct };
}

/** Checks a model's shape as plain data: a params Map and a config whose sizes are integers. */
function checkTrainableModel(fn: string, model: unknown): void {
  const m = model as Partial<TrainableMamba> | null;
  if (!m || typeof m !== "object" || !(m.params instanceof Map) || !m.config) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<string, Tensor> } (got ${describe(model)})`,
    );
  }
  const sizes = [
    "vocab_size",
    "hidden_size",
    "state_size",
    "num_hidden_layers",
    "conv_kernel",
    "time_step_rank",
    "intermediate_size",
  ] as const;
  for (const k of sizes) assertInteger(`${fn}: model.config.${k}`, m.config[k], 1, 2 ** 24);
  assertPositive(`${fn}: model.config.layer_norm_epsilon`, m.config.layer_norm_epsilon);
}

/**
 * The mixer variant to run: the option if given, else the model's `extraConfig.mamba_ts_variant`
 * (saved in config.json by the Table 1 script), else "mamba".
 */
export function resolveVariant(fn: string, model: TrainableMamba, option: unknown): MixerVariant {
  const v = option ?? model.extraConfig?.mamba_ts_variant ?? "mamba";
  if (v !== "mamba" && v !== "s6" && v !== "lti") {
    const arg = isAbsent(option) ? "model.extraConfig.mamba_ts_variant" : "options.variant";
    throw new Error(`${fn}: argument '${arg}' must be "mamba", "s6" or "lti" (got ${describe(v)})`);
  }
  return v;
}

/**
 * The logits (b, l, vocab) of a model with any of the {@link MixerVariant}s (for "mamba" the same
 * as `mambaForward`); the forward half of {@link mambaLossAndGrads}. Used to evaluate Table 1's
 * ablations. tokens (b, l) ids.
 */
export function mambaVariantForward(
  model: TrainableMamba,
  tokens: TokenBatch,
  options: { variant?: MixerVariant } = {},
): Tensor {
  const fn = "mambaVariantForward";
  checkTrainableModel(fn, model);
  if (options === null || typeof options !== "object" || Array.isArray(options))
    throw new Error(`${fn}: argument 'options' must be { variant? } (got ${describe(options)})`);
  for (const k of Object.keys(options)) {
    if (k !== "variant")
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${k}"; the keys are variant)`,
      );
  }
  const variant = resolveVariant(fn, model, options.variant);
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, model.config.vocab_size);
  try {
    return forwardWithCaches(model, ids, b, l, variant, {
      strategy: "recompute",
      chunkSize: 1 << 20,
    }).logits;
  } catch (e) {
    // The shared forward names mambaLossAndGrads in its parameter checks: name the caller.
    const message = (e as Error).message;
    if (!message.startsWith("mambaLossAndGrads: ")) throw e;
    throw new Error(`${fn}: ${message.slice("mambaLossAndGrads: ".length)}`);
  }
}

/** The forward pass of {@link mambaLossAndGrads}, keeping each layer's cache. */
function forwardWithCaches(
  model: TrainableMamba,
  ids: Int32Array,
  b: number,
  l: number,
  variant: MixerVariant,
  scanOptions: { strategy: ScanBackwardStrategy; chunkSize: number },
) {
  const cfg = model.config;
  const P = (name: string): Tensor => {
    const t = model.params.get(name);
    if (!t)
      throw new Error(
        `mambaLossAndGrads: argument 'model.params' must hold every tensor of the config (got no "${name}")`,
      );
    return t;
  };
  const E = cfg.intermediate_size;
  const N = cfg.state_size;
  const R = cfg.time_step_rank;
  const eps = cfg.layer_norm_epsilon;

  // ---- forward, keeping the caches ----
  const emb = P("backbone.embeddings.weight");
  let h = embedding(ids, emb, [b, l]);
  const caches: LayerCache[] = [];
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    const m = `backbone.layers.${i}.mixer.`;
    const hIn = h;
    const hn = rmsNorm(hIn, P(`backbone.layers.${i}.norm.weight`), eps);
    const xz = linear(hn, P(m + "in_proj.weight"), cfg.use_bias ? P(m + "in_proj.bias") : null);
    const [xPart, zPart] = splitLast(xz, [E, E]);
    const xConvIn = transpose12(xPart);
    const xConv = causalDepthwiseConv1d(
      xConvIn,
      P(m + "conv1d.weight"),
      cfg.use_conv_bias ? P(m + "conv1d.bias") : null,
    );
    const u = siluTensor(xConv);
    const uT = transpose12(u);
    const A = aFromLogTensor(P(m + "A_log"));
    let dtLow: Tensor | null = null;
    let delta: Tensor;
    let Bm: Tensor;
    let Cm: Tensor;
    const xpw = P(m + "x_proj.weight");
    if (variant === "lti") {
      delta = { shape: [b, E, l], data: allocate(dtypeOf(u), b * E * l) };
      Bm = rowsTransposed(xpw, R, N, E);
      Cm = rowsTransposed(xpw, R + N, N, E);
    } else {
      const xdbl = linear(uT, xpw);
      const parts = splitLast(xdbl, [R, N, N]);
      dtLow = parts[0];
      delta = transpose12(linear(dtLow, P(m + "dt_proj.weight")));
      Bm = transpose12(parts[1]);
      Cm = transpose12(parts[2]);
    }
    const z = variant === "mamba" ? transpose12(zPart) : null;
    const { out: y, cache: scan } = selectiveScanForwardTrain(
      {
        u,
        delta,
        A,
        B: Bm,
        C: Cm,
        D: P(m + "D"),
        z,
        deltaBias: P(m + "dt_proj.bias"),
        deltaSoftplus: true,
      },
      scanOptions,
    );
    const yT = transpose12(y);
    const o = linear(yT, P(m + "out_proj.weight"), cfg.use_bias ? P(m + "out_proj.bias") : null);
    h = addTensors(hIn, o);
    caches.push({ hIn, hn, xConvIn, xConv, u, uT, dtLow, scan, yT });
  }
  const normF = P("backbone.norm_f.weight");
  const hf = rmsNorm(h, normF, eps);
  const head = cfg.tie_word_embeddings ? emb : P("lm_head.weight");
  const logits = linear(hf, head);
  return { logits, caches, h, hf, head, emb };
}

/** A = −exp(A_log), elementwise. */
function aFromLogTensor(aLog: Tensor): Tensor {
  const out = allocate(dtypeOf(aLog), aLog.data.length);
  for (let i = 0; i < out.length; i++) out[i] = -Math.exp(aLog.data[i]);
  return { shape: [...aLog.shape], data: out };
}

/** Splits the last axis into consecutive parts of the given sizes. */
function splitLast(x: Tensor, sizes: number[]): Tensor[] {
  const last = x.shape[x.shape.length - 1];
  const rows = x.data.length / last;
  let offset = 0;
  return sizes.map((s) => {
    const out = allocate(dtypeOf(x), rows * s);
    for (let r = 0; r < rows; r++)
      out.set(x.data.subarray(r * last + offset, r * last + offset + s), r * s);
    offset += s;
    return { shape: [...x.shape.slice(0, -1), s], data: out };
  });
}

/** Concatenates along the last axis (the inverse of {@link splitLast}). */
function concatLast(parts: Tensor[]): Tensor {
  const sizes = parts.map((p) => p.shape[p.shape.length - 1]);
  const total = sizes.reduce((a, s) => a + s, 0);
  const rows = parts[0].data.length / sizes[0];
  const out = allocate(dtypeOf(parts[0]), rows * total);
  let offset = 0;
  parts.forEach((p, k) => {
    for (let r = 0; r < rows; r++)
      out.set(p.data.subarray(r * sizes[k], (r + 1) * sizes[k]), r * total + offset);
    offset += sizes[k];
  });
  return { shape: [...parts[0].shape.slice(0, -1), total], data: out };
}

/** (E, N) matrix M[e, n] = W[start + n, e]: rows start..start+N of W (R + 2N, E), transposed. */
function rowsTransposed(w: Tensor, start: number, N: number, E: number): Tensor {
  const out = allocate(dtypeOf(w), E * N);
  for (let e = 0; e < E; e++)
    for (let n = 0; n < N; n++) out[e * N + n] = w.data[(start + n) * E + e];
  return { shape: [E, N], data: out };
}

function addRowsTransposed(dw: Float64Array, g: Tensor, start: number, N: number, E: number): void {
  for (let e = 0; e < E; e++)
    for (let n = 0; n < N; n++) dw[(start + n) * E + e] += g.data[e * N + n];
}

function addTensors(a: Tensor, b: Tensor): Tensor {
  const out = allocate(dtypeOf(a), a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] + b.data[i];
  return { shape: [...a.shape], data: out };
}

function mulTensors(a: Tensor, b: Tensor): Tensor {
  const out = allocate(dtypeOf(a), a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[i] * b.data[i];
  return { shape: [...a.shape], data: out };
}

function zerosLike(t: Tensor): Tensor {
  return { shape: [...t.shape], data: allocate(dtypeOf(t), t.data.length) };
}

function fromF64(like: Tensor, data: Float64Array): Tensor {
  const out = allocate(dtypeOf(like), data.length);
  out.set(data);
  return { shape: [...like.shape], data: out };
}
