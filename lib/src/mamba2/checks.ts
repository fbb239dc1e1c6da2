/**
 * The checks of the Mamba-2 functions' arguments, done once at the function the user called:
 * the model object and its tensors.
 */
import { type DType, dtypeOf } from "../tensor";
import { describe } from "../validate";
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
  const shapes = mamba2ParamShapes(config);
  const first = m.params.get("backbone.embeddings.weight");
  const firstType = first?.data instanceof Float64Array ? "float64" : "float32";
  for (const [name, shape] of shapes) {
    const t = m.params.get(name);
    if (!t)
      throw new Error(
        `${fn}: argument 'model.params' must hold every tensor of the config (got no "${name}" of shape [${shape.join(", ")}])`,
      );
    if (
      !(t.data instanceof Float32Array || t.data instanceof Float64Array) ||
      !dtypes.includes(dtypeOf(t))
    )
      throw new Error(
        `${fn}: argument 'model.params' must hold ${dtypes.join(" or ")} data (got ${describe(t.data)} in "${name}")`,
      );
    if (dtypeOf(t) !== firstType)
      throw new Error(
        `${fn}: argument 'model.params' must hold tensors of one dtype (${firstType}) (got ${dtypeOf(t)} in "${name}")`,
      );
    if (
      !Array.isArray(t.shape) ||
      t.shape.length !== shape.length ||
      t.shape.some((s, i) => s !== shape[i]) ||
      t.data.length !== shape.reduce((a, b) => a * b, 1)
    )
      throw new Error(
        `${fn}: argument 'model.params' must hold "${name}" of shape [${shape.join(", ")}] from the config (got shape [${t.shape?.join(", ")}])`,
      );
  }
  for (const name of m.params.keys())
    if (!shapes.has(name))
      throw new Error(
        `${fn}: argument 'model.params' must hold only the tensors of the config (got an unexpected "${name}")`,
      );
  return { config, params: m.params, extraConfig: m.extraConfig };
}
