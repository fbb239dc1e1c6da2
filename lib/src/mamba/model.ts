/**
 * A Mamba language model as plain data, and its checks. Parameters are float32 tensors keyed by
 * the Hugging Face checkpoint names (see `mambaParamShapes`), so a checkpoint maps onto a model
 * one to one and gradients can be keyed by the same names.
 */
import type { Tensor } from "../tensor";
import { describe } from "../validate";
import { type MambaConfig, mambaConfig, mambaParamShapes } from "./config";

/** A Mamba LM: its config and its parameters (float32, HF names). */
export interface MambaModel {
  config: MambaConfig;
  params: Map<string, Tensor<Float32Array>>;
  /** config.json fields we do not use, kept so that a save writes them back. */
  extraConfig?: Record<string, unknown>;
}

/**
 * Checks that `model` holds exactly the parameters its config implies, with the right shapes and
 * float32 data (values are not scanned: `initMamba` and `loadMambaCheckpoint` produce finite
 * ones). `fn` names the caller in errors.
 */
export function checkMambaModel(fn: string, model: unknown): MambaModel {
  const m = model as Partial<MambaModel> | null;
  if (m === null || typeof m !== "object" || !m.config || !(m.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<string, Tensor> } (from initMamba or loadMambaCheckpoint) (got ${describe(model)})`,
    );
  }
  mambaConfig(m.config, fn, "model.config"); // a hand-edited config fails here with the field named
  const shapes = mambaParamShapes(m.config);
  for (const [name, shape] of shapes) {
    const t = m.params.get(name);
    if (!t)
      throw new Error(
        `${fn}: argument 'model.params' must hold every tensor of the config (got no "${name}" of shape [${shape.join(", ")}])`,
      );
    if (!(t.data instanceof Float32Array)) {
      throw new Error(
        `${fn}: argument 'model.params' must hold Float32Array data (got ${describe(t.data)} in "${name}")`,
      );
    }
    if (
      t.shape.length !== shape.length ||
      t.shape.some((s, i) => s !== shape[i]) ||
      t.data.length !== shape.reduce((a, b) => a * b, 1)
    ) {
      throw new Error(
        `${fn}: argument 'model.params' must hold "${name}" of shape [${shape.join(", ")}] from the config (got shape [${t.shape.join(", ")}])`,
      );
    }
  }
  for (const name of m.params.keys()) {
    if (!shapes.has(name))
      throw new Error(
        `${fn}: argument 'model.params' must hold only the tensors of the config (got an unexpected "${name}")`,
      );
  }
  return m as MambaModel;
}

/** The output head's weight (V, d): the embedding when tied. */
export function lmHeadWeight(model: MambaModel): Tensor<Float32Array> {
  return model.config.tie_word_embeddings
    ? model.params.get("backbone.embeddings.weight")!
    : model.params.get("lm_head.weight")!;
}
