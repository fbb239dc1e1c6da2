/**
 * Initialisation of a Mamba LM exactly as upstream (`state-spaces/mamba`: `mamba_simple.py`'s
 * `Mamba.__init__`, then `mixer_seq_simple.py`'s `_init_weights` over the whole model).
 */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { initALog, initDtBias } from "../selective/s6";
import { checkOptions, describe, schema } from "../validate";
import { MAX_MODEL_PARAMETERS, modelTooLarge } from "../checkpoint/safetensors";
import {
  type MambaConfig,
  type MambaConfigInput,
  mambaConfig,
  mambaParamCount,
  mambaParamShapes,
  mixerPrefix,
} from "./config";
import { MIXER_VARIANTS, type MambaModel, type MixerVariant } from "./model";

const INIT_OPTIONS = schema.options({ variant: schema.optional(schema.oneOf(MIXER_VARIANTS)) });

function uniform(rng: Rng, shape: number[], bound: number): Tensor<Float32Array> {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.uniform(-bound, bound);
  return { shape, data };
}

function filled(shape: number[], value: number): Tensor<Float32Array> {
  return { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) };
}

/**
 * A freshly initialised Mamba LM (float32 parameters, HF names). Per layer:
 * - in_proj, x_proj, out_proj weights: PyTorch's Linear default, kaiming_uniform(a = √5), i.e.
 *   U(±1/√fan_in); out_proj then divided by √n_layer (`rescale_prenorm_residual`, one residual
 *   per layer); Linear biases (use_bias) zero;
 * - conv1d weight and bias: PyTorch's Conv1d default, U(±1/√k) (fan_in = k for a depthwise conv);
 * - dt_proj.weight U(±R^−½) (`dt_init="random"`, dt_scale 1); dt_proj.bias = softplus⁻¹(Δ) with
 *   Δ log-uniform in [0.001, 0.1], floored at 1e-4 (kept by `_no_reinit`);
 * - A_log[e, n] = log(n + 1) (S4D-Real), D = 1; norms 1; embedding N(0, 0.02²).
 * The head is the embedding (tied) or, untied, a bias-free Linear with the default U(±1/√d).
 *
 * With `variant` (one of Table 1's ablations, see `MixerVariant`), the model records it in
 * `extraConfig.mamba_ts_variant` (saved in config.json, read back by every function). A
 * time-invariant variant ("lti", "mamba-lti") starts as S4D-Real (Gu et al. 2022): its B = 1 and
 * C ~ N(0, 1) per channel and state (the x_proj rows that hold them), A = −(1, …, N) as above, Δ
 * log-uniform as above; upstream's Linear default would start B and C near 0 (±1/√E), a layer
 * that passes almost nothing through its state.
 *
 * @param config a full config or the fields for {@link mambaConfig}
 */
export function initMamba(
  config: MambaConfigInput | MambaConfig,
  rng: Rng,
  options: { variant?: MixerVariant } = {},
): MambaModel {
  const fn = "initMamba";
  const cfg = mambaConfig(config, fn);
  const parameters = mambaParamCount(cfg);
  if (parameters > MAX_MODEL_PARAMETERS) throw modelTooLarge(fn, parameters);
  if (!(rng instanceof Rng))
    throw new Error(`${fn}: argument 'rng' must be an Rng (new Rng(seed)) (got ${describe(rng)})`);
  const { variant } = checkOptions(fn, "options", options, INIT_OPTIONS);
  const shapes = mambaParamShapes(cfg);
  const params = new Map<string, Tensor<Float32Array>>();
  const { hidden_size: d, intermediate_size: E, num_hidden_layers: L } = cfg;
  const emb = shapes.get("backbone.embeddings.weight")!;
  const embData = new Float32Array(emb[0] * emb[1]);
  for (let i = 0; i < embData.length; i++) embData[i] = rng.normal(0, 0.02);
  params.set("backbone.embeddings.weight", { shape: emb, data: embData });
  for (let i = 0; i < L; i++) {
    const m = mixerPrefix(i);
    const s = (k: string) => shapes.get(m + k)!;
    params.set(`backbone.layers.${i}.norm.weight`, filled([d], 1));
    params.set(m + "in_proj.weight", uniform(rng, s("in_proj.weight"), 1 / Math.sqrt(d)));
    if (cfg.use_bias) params.set(m + "in_proj.bias", filled([2 * E], 0));
    params.set(
      m + "conv1d.weight",
      uniform(rng, s("conv1d.weight"), 1 / Math.sqrt(cfg.conv_kernel)),
    );
    if (cfg.use_conv_bias)
      params.set(m + "conv1d.bias", uniform(rng, [E], 1 / Math.sqrt(cfg.conv_kernel)));
    params.set(m + "x_proj.weight", uniform(rng, s("x_proj.weight"), 1 / Math.sqrt(E)));
    params.set(m + "dt_proj.weight", uniform(rng, s("dt_proj.weight"), cfg.time_step_rank ** -0.5));
    params.set(m + "dt_proj.bias", {
      shape: [E],
      data: Float32Array.from(initDtBias(rng, E).bias.data),
    });
    params.set(m + "A_log", {
      shape: [E, cfg.state_size],
      data: Float32Array.from(initALog(E, cfg.state_size).data),
    });
    params.set(m + "D", filled([E], 1));
    params.set(
      m + "out_proj.weight",
      uniform(rng, s("out_proj.weight"), 1 / Math.sqrt(E) / Math.sqrt(L)),
    );
    if (cfg.use_bias) params.set(m + "out_proj.bias", filled([d], 0));
  }
  params.set("backbone.norm_f.weight", filled([d], 1));
  if (!cfg.tie_word_embeddings)
    params.set("lm_head.weight", uniform(rng, [cfg.vocab_size, d], 1 / Math.sqrt(d)));
  if (variant === "lti" || variant === "mamba-lti") {
    const { time_step_rank: R, state_size: N } = cfg;
    for (let i = 0; i < L; i++) {
      const x = params.get(`${mixerPrefix(i)}x_proj.weight`)!.data; // (R + 2N, E)
      for (let e = 0; e < E; e++) {
        for (let n = 0; n < N; n++) {
          x[(R + n) * E + e] = 1; //           B[e, n]
          x[(R + N + n) * E + e] = rng.normal(); // C[e, n]
        }
      }
    }
  }
  return variant
    ? { config: cfg, params, extraConfig: { mamba_ts_variant: variant } }
    : { config: cfg, params };
}
