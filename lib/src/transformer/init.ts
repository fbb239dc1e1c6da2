/**
 * Initialisation of a Transformer++ as Hugging Face's `LlamaPreTrainedModel._init_weights` does
 * it: every linear weight and the embedding drawn from N(0, initializer_range²), the embedding's
 * `pad_token_id` row (if any) zero, every RMSNorm weight 1 (there are no biases).
 */
import { Rng } from "../rng";
import { type Tensor } from "../tensor";
import { describe } from "../validate";
import { type LlamaConfig, checkLlamaConfig, transformerParamShapes } from "./config";
import { type TransformerModel } from "./model";
import { MAX_MODEL_PARAMETERS, modelTooLarge } from "../checkpoint/safetensors";

/**
 * A freshly initialised Transformer++.
 *
 * @param config a LlamaConfig (see `llamaConfig`), or its fields
 * @param rng draws, in checkpoint order (`transformerParamShapes`), every matrix's entries
 *   row-major from `rng.normal(0, initializer_range)`; norms take no draws
 * @returns `{ config, params }` with float32 tensors keyed by the checkpoint names
 */
export function initTransformer(config: Partial<LlamaConfig>, rng: Rng): TransformerModel {
  const fn = "initTransformer";
  const c = checkLlamaConfig(fn, "config", config, { allowUnknown: false }).config;
  if (!(rng instanceof Rng))
    throw new Error(`${fn}: argument 'rng' must be an Rng (got ${describe(rng)})`);
  const shapes = transformerParamShapes(c);
  let total = 0;
  for (const shape of shapes.values()) total += shape.reduce((a, b) => a * b, 1);
  if (total > MAX_MODEL_PARAMETERS) throw modelTooLarge(fn, total);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) data.fill(1);
    else for (let i = 0; i < data.length; i++) data[i] = rng.normal(0, c.initializer_range);
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
