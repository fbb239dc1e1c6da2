/**
 * Initialisation of a Transformer++, by one of two rules:
 *
 * - "hf" (the default): Hugging Face's `LlamaPreTrainedModel._init_weights`: every linear weight
 *   and the embedding drawn from N(0, initializer_range²) whatever its width, the embedding's
 *   `pad_token_id` row (if any) zero, every RMSNorm weight 1 (there are no biases). A fresh
 *   `LlamaForCausalLM` with the same config starts from the same distribution.
 * - "fan-in": the rule `state-spaces/mamba` applies to every model it builds, its own attention
 *   and MLP layers included (`mixer_seq_simple.py`'s `_init_weights`), and that `initMamba`
 *   applies to Mamba: each projection keeps PyTorch's `nn.Linear` default, U(±1/√fan_in)
 *   (std 1/√(3·fan_in)); the projections that write into the residual stream (o_proj and
 *   down_proj: upstream's `out_proj` and `fc2`) are then divided by √(2·n_layer), two residual
 *   branches per layer (GPT-2's scaled initialisation); the embedding N(0, initializer_range²).
 *
 * Why two: HF's default initializer_range of 0.02 was chosen for widths of hundreds to thousands,
 * where it is near 1/√d (0.036 at d = 768); at d = 64, 1/√d = 0.125 and 0.02 starts every
 * projection six times smaller, so each layer first passes almost nothing on. The "fan-in" rule
 * scales with each matrix's width. Either way the model is a plain `LlamaForCausalLM` checkpoint:
 * the rule only picks the starting point.
 */
import { Rng } from "../rng";
import { type Tensor } from "../tensor";
import { checkOptions, describe, schema } from "../validate";
import { type LlamaConfig, checkLlamaConfig, transformerParamShapes } from "./config";
import { type TransformerModel } from "./model";
import { MAX_MODEL_PARAMETERS, modelTooLarge } from "../checkpoint/safetensors";

/** The initialisation rules of {@link initTransformer}. */
export type TransformerInit = "hf" | "fan-in";

/** Options of {@link initTransformer}. */
export interface TransformerInitOptions {
  /** "hf" (default) or "fan-in" (see the module comment). */
  init?: TransformerInit;
}

const INIT_OPTIONS = schema.options({
  init: schema.optional(schema.oneOf<TransformerInit>(["hf", "fan-in"])),
});

/** The projections that write into the residual stream (upstream Mamba's `out_proj`, `fc2`). */
const RESIDUAL_OUTPUTS = /\.(self_attn\.o_proj|mlp\.down_proj)\.weight$/;

/**
 * A freshly initialised Transformer++.
 *
 * @param config a LlamaConfig (see `llamaConfig`), or its fields
 * @param rng draws, in checkpoint order (`transformerParamShapes`), every matrix's entries
 *   row-major: `rng.normal(0, initializer_range)` ("hf"), or for "fan-in" `rng.uniform(−b, b)`
 *   with b = 1/√fan_in (÷ √(2·n_layer) for o_proj and down_proj) and the embedding from
 *   `rng.normal(0, initializer_range)`; norms take no draws
 * @param options `init`: "hf" (default) or "fan-in"
 * @returns `{ config, params }` with float32 tensors keyed by the checkpoint names
 */
export function initTransformer(
  config: Partial<LlamaConfig>,
  rng: Rng,
  options: TransformerInitOptions = {},
): TransformerModel {
  const fn = "initTransformer";
  const c = checkLlamaConfig(fn, "config", config, { allowUnknown: false }).config;
  if (!(rng instanceof Rng))
    throw new Error(`${fn}: argument 'rng' must be an Rng (got ${describe(rng)})`);
  const init = checkOptions(fn, "options", options, INIT_OPTIONS).init ?? "hf";
  const shapes = transformerParamShapes(c);
  let total = 0;
  for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
  if (total > MAX_MODEL_PARAMETERS) throw modelTooLarge(fn, total);
  const residualScale = 1 / Math.sqrt(2 * c.num_hidden_layers);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) data.fill(1);
    else if (init === "hf" || name === "model.embed_tokens.weight") {
      for (let i = 0; i < data.length; i++) data[i] = rng.normal(0, c.initializer_range);
    } else {
      // (out, in): fan_in = in. An untied lm_head keeps nn.Linear's default too.
      const bound = (RESIDUAL_OUTPUTS.test(name) ? residualScale : 1) / Math.sqrt(shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
    }
    params.set(name, { shape: [...shape], data });
  }
  if (c.pad_token_id !== null) {
    // HF's nn.Embedding(padding_idx = pad_token_id) starts that row at zero (after the draws).
    const row = c.pad_token_id < 0 ? c.pad_token_id + c.vocab_size : c.pad_token_id;
    params
      .get("model.embed_tokens.weight")!
      .data.fill(0, row * c.hidden_size, (row + 1) * c.hidden_size);
  }
  return { config: c, params };
}
