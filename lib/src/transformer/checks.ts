/**
 * The checks of the Transformer++ functions' arguments, done once at the function the user
 * called: the model object and its values, and the sizes a call may allocate.
 */
import { type DType, dtypeOf } from "../tensor";
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
  const first = m.params.get("model.embed_tokens.weight");
  for (const [name, shape] of shapes) {
    const t = m.params.get(name);
    if (t === undefined)
      throw new Error(
        `${fn}: argument 'model.params' must hold every tensor of the config (got no tensor "${name}")`,
      );
    if (
      !(t.data instanceof Float32Array || t.data instanceof Float64Array) ||
      !dtypes.includes(dtypeOf(t))
    ) {
      throw new Error(
        `${fn}: argument 'model.params' must hold ${dtypes.join(" or ")} data in tensor "${name}" (got ${describe(t)})`,
      );
    }
    if (first && dtypeOf(t) !== dtypeOf(first)) {
      throw new Error(
        `${fn}: argument 'model.params' must hold tensors of one dtype (${dtypeOf(first)}) (got ${dtypeOf(t)} in tensor "${name}")`,
      );
    }
    if (
      t.shape.length !== shape.length ||
      t.shape.some((s, i) => s !== shape[i]) ||
      t.data.length !== shape.reduce((a, b) => a * b, 1)
    ) {
      throw new Error(
        `${fn}: argument 'model.params' must hold tensor "${name}" of shape [${shape.join(", ")}] (got shape [${t.shape.join(", ")}])`,
      );
    }
  }
  if (options.finite) checkFiniteParams(fn, m.params);
  for (const name of m.params.keys()) {
    if (!shapes.has(name)) {
      throw new Error(
        `${fn}: argument 'model.params' must hold only the tensors of the config (got an unexpected tensor "${name}"${name === "lm_head.weight" ? " (tie_word_embeddings is true)" : ""})`,
      );
    }
  }
  return config;
}

/** The largest activation (elements) a forward may allocate: 2^28 float32 numbers, 1 GiB. */
const MAX_ACTIVATION = 2 ** 28;

/** Refuses runaway sizes: `rows` token positions times the widest activation of the model. */
export function checkActivationSize(fn: string, config: LlamaConfig, rows: number): void {
  const widest = Math.max(
    config.vocab_size,
    config.intermediate_size,
    config.num_attention_heads * config.head_dim,
  );
  if (rows * widest > MAX_ACTIVATION) {
    throw new Error(
      `${fn}: tokens: ${rows} positions × ${widest} (the widest activation) = ${rows * widest} numbers is more than this library allocates (${MAX_ACTIVATION}); use a shorter or smaller batch`,
    );
  }
}
