/** The check of a model object's parameters against its config, for every model of lib. */
import { type DType, type Tensor, dtypeOf } from "../tensor";
import { describe } from "../validate";

/**
 * Checks that `params` holds exactly the tensors of `shapes` (name → shape, from the config),
 * each of one of `dtypes` and all of one dtype (the embedding's, `first`), with data that fits
 * its shape. Errors name `fn` (the function the user called) and 'model.params'. Values are not
 * scanned for NaN and ±∞ here (`checkFiniteParams` does that).
 */
export function checkModelParams(
  fn: string,
  params: Map<string, Tensor>,
  shapes: Map<string, number[]>,
  dtypes: readonly DType[],
  first: string,
): void {
  const firstType = params.get(first)?.data instanceof Float64Array ? "float64" : "float32";
  for (const [name, shape] of shapes) {
    const t = params.get(name);
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
  for (const name of params.keys())
    if (!shapes.has(name))
      throw new Error(
        `${fn}: argument 'model.params' must hold only the tensors of the config (got an unexpected "${name}")`,
      );
}
