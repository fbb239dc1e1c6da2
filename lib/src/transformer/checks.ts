/**
 * The checks of the Transformer++ functions' arguments, done once at the function the user
 * called: the model object and its values, and the sizes a call may allocate.
 */
import type { DType } from "../tensor";
import { checkModelParams } from "../lm/model-params";
import { checkFiniteParams, describe } from "../validate";
import { type LlamaConfig, checkLlamaConfig, transformerParamShapes } from "./config";
import type { TransformerModel } from "./model";

/**
 * Checks a model object: config fields; every tensor present, of its checkpoint shape, of one of
 * `dtypes` (default float32) and all of the same dtype; no unknown tensor. With `finite`, also
 * scans every weight for NaN and ±∞ (a pass over the parameters: the forward, training and
 * prefill functions do it, a decoding step does not). Returns the config. `fn` is the function
 * the user called.
 */
export function checkTransformerModel(
  fn: string,
  model: unknown,
  options: { dtypes?: readonly DType[]; finite?: boolean } = {},
): LlamaConfig {
  const dtypes = options.dtypes ?? ["float32"];
  if (model === null || typeof model !== "object" || !(model as TransformerModel).params) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<name, tensor> } (from initTransformer or loadTransformerCheckpoint) (got ${describe(model)})`,
    );
  }
  const m = model as TransformerModel;
  if (!(m.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model.params' must be a Map from tensor name to tensor (got ${describe(m.params)})`,
    );
  }
  const config = checkLlamaConfig(fn, "model.config", m.config, { allowUnknown: false }).config;
  const shapes = transformerParamShapes(config);
  const tiedHead = config.tie_word_embeddings ? "lm_head.weight" : undefined;
  checkModelParams(fn, m.params, shapes, dtypes, "model.embed_tokens.weight", tiedHead);
  if (options.finite) checkFiniteParams(fn, m.params);
  return config;
}

/** The largest activation (elements) a forward may allocate: 2^28 float32 numbers, 1 GiB. */
const MAX_ACTIVATION = 2 ** 28;

/** Refuses runaway sizes: `rows` token positions times the widest activation of the model. */
export function checkActivationSize(
  fn: string,
  config: LlamaConfig,
  rows: number,
  arg = "tokens",
): void {
  const widest = Math.max(
    config.vocab_size,
    config.intermediate_size,
    config.num_attention_heads * config.head_dim,
  );
  if (rows * widest > MAX_ACTIVATION) {
    throw new Error(
      `${fn}: ${arg}: ${rows} positions × ${widest} (the widest activation) = ${rows * widest} numbers is more than this library allocates (${MAX_ACTIVATION}); use a shorter or smaller batch`,
    );
  }
}
