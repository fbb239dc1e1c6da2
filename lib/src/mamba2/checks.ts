/**
 * The checks of the Mamba-2 functions' arguments, done once at the function the user called:
 * the model object and its tensors.
 */
import type { DType } from "../tensor";
import { describe } from "../validate";
import { checkModelParams } from "../lm/model-params";
import { mamba2Config, mamba2ParamShapes } from "./config";
import type { Mamba2Model } from "./model";

/**
 * Checks that `model` holds exactly the parameters its config implies, with the right shapes and
 * data of one of `dtypes` (float32 by default; the training and forward functions also take
 * float64, for gradient checks), all of one dtype. Values are scanned for NaN and ±∞ only by
 * `checkFiniteParams` (validate.ts). `fn` is the function the user called.
 */
export function checkMamba2Model(
  fn: string,
  model: unknown,
  dtypes: readonly DType[] = ["float32"],
): Mamba2Model {
  const m = model as Partial<Mamba2Model> | null;
  if (m === null || typeof m !== "object" || !m.config || !(m.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<string, Tensor> } (from initMamba2 or loadMamba2Checkpoint) (got ${describe(model)})`,
    );
  }
  const config = mamba2Config(m.config, fn, "model.config");
  checkModelParams(fn, m.params, mamba2ParamShapes(config), dtypes, "backbone.embeddings.weight");
  return { config, params: m.params, extraConfig: m.extraConfig };
}
