/**
 * Initialisation of a Mamba-2 LM as `state-spaces/mamba` does it (`mamba_ssm/modules/mamba2.py`'s
 * `Mamba2.__init__`, then `mixer_seq_simple.py`'s `_init_weights` over the whole model).
 */
import { Rng } from "../rng";
import type { Tensor } from "../tensor";
import { initDtBias } from "../selective/s6";
import { describe } from "../validate";
import { MAX_MODEL_PARAMETERS, modelTooLarge } from "../checkpoint/safetensors";
import {
  type Mamba2Config,
  type Mamba2ConfigInput,
  mamba2Config,
  mamba2ParamCount,
  mamba2ParamShapes,
} from "./config";
import { mixerPrefix } from "../mamba/config";
import type { Mamba2Model } from "./model";

function uniform(rng: Rng, shape: number[], bound: number): Tensor<Float32Array> {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
  return { shape, data };
}

function filled(shape: number[], value: number): Tensor<Float32Array> {
  return { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) };
}

/**
 * A freshly initialised Mamba-2 LM (float32 parameters, HF names). Per layer:
 * - in_proj weight: PyTorch's Linear default U(±1/√d); out_proj U(±1/√E) divided by √n_layer
 *   (`rescale_prenorm_residual`, one residual per layer); Linear biases (use_bias) zero;
 * - conv1d weight and bias: PyTorch's Conv1d default, U(±1/√k);
 * - dt_bias = softplus⁻¹(Δ) with Δ log-uniform in [0.001, 0.1], floored at 1e-4;
 * - A_log = log(A) with A uniform in [1, 16] per head (`A_init_range`), D = 1;
 * - the gated norm's weight and the block norms 1; embedding N(0, 0.02²).
 * The head is the embedding (tied) or, untied, a bias-free Linear with the default U(±1/√d).
 *
 * @param config a full config or the fields for {@link mamba2Config}
 */
export function initMamba2(config: Mamba2ConfigInput | Mamba2Config, rng: Rng): Mamba2Model {
  const fn = "initMamba2";
  const cfg = mamba2Config(config, fn);
  const parameters = mamba2ParamCount(cfg);
  if (parameters > MAX_MODEL_PARAMETERS) throw modelTooLarge(fn, parameters);
  if (!(rng instanceof Rng))
    throw new Error(`${fn}: argument 'rng' must be an Rng (new Rng(seed)) (got ${describe(rng)})`);
  const shapes = mamba2ParamShapes(cfg);
  const params = new Map<string, Tensor<Float32Array>>();
  const { hidden_size: d, num_heads: H, num_hidden_layers: layers } = cfg;
  const emb = shapes.get("backbone.embeddings.weight")!;
  const embData = new Float32Array(emb[0] * emb[1]);
  for (let i = 0; i < embData.length; i++) embData[i] = rng.normal(0, 0.02);
  params.set("backbone.embeddings.weight", { shape: emb, data: embData });
  for (let i = 0; i < layers; i++) {
    const m = mixerPrefix(i);
    const s = (k: string) => shapes.get(m + k)!;
    const E = s("norm.weight")[0];
    const convBound = 1 / Math.sqrt(cfg.conv_kernel);
    params.set(`backbone.layers.${i}.norm.weight`, filled([d], 1));
    params.set(m + "in_proj.weight", uniform(rng, s("in_proj.weight"), 1 / Math.sqrt(d)));
    if (cfg.use_bias) params.set(m + "in_proj.bias", filled(s("in_proj.bias"), 0));
    params.set(m + "conv1d.weight", uniform(rng, s("conv1d.weight"), convBound));
    if (cfg.use_conv_bias) params.set(m + "conv1d.bias", uniform(rng, s("conv1d.bias"), convBound));
    params.set(m + "dt_bias", {
      shape: [H],
      data: Float32Array.from(initDtBias(rng, H).bias.data),
    });
    params.set(m + "A_log", {
      shape: [H],
      data: Float32Array.from({ length: H }, () => Math.log(rng.uniform(1, 16))),
    });
    params.set(m + "D", filled([H], 1));
    params.set(m + "norm.weight", filled([E], 1));
    params.set(
      m + "out_proj.weight",
      uniform(rng, s("out_proj.weight"), 1 / Math.sqrt(E) / Math.sqrt(layers)),
    );
    if (cfg.use_bias) params.set(m + "out_proj.bias", filled([d], 0));
  }
  params.set("backbone.norm_f.weight", filled([d], 1));
  if (!cfg.tie_word_embeddings)
    params.set("lm_head.weight", uniform(rng, [cfg.vocab_size, d], 1 / Math.sqrt(d)));
  return { config: cfg, params };
}
