/**
 * The checks of the Mamba functions' arguments, done once at the function the user called: the
 * model object, its values, the mixer variant, the options shared by the forward functions.
 */
import { type DType, dtypeOf } from "../tensor";
import { describe, isAbsent } from "../validate";
import { mambaConfig, mambaParamShapes } from "./config";
import type { HalfTensor } from "../half";
import { MIXER_VARIANTS, type MambaModel, type MixerVariant } from "./model";

/**
 * Checks that `model` holds exactly the parameters its config implies, with the right shapes and
 * data of one of `dtypes` (float32 by default; the training functions also take float64, for
 * gradient checks), all of one dtype. Weight matrices kept in 16 bits (`model.half`, from
 * `loadMambaCheckpoint`'s `keep`) are accepted by the inference functions (`options.half`) and
 * refused with an explanation by the others. Values are scanned for NaN and ±∞ only by
 * `checkFiniteParams` (validate.ts). `fn` is the function the user called.
 */
export function checkMambaModel(
  fn: string,
  model: unknown,
  dtypes: readonly DType[] = ["float32"],
  options: { half?: boolean } = {},
): MambaModel {
  const m = model as Partial<MambaModel> | null;
  if (m === null || typeof m !== "object" || !m.config || !(m.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<string, Tensor> } (from initMamba or loadMambaCheckpoint) (got ${describe(model)})`,
    );
  }
  mambaConfig(m.config, fn, "model.config"); // a hand-edited config fails here with the field named
  const shapes = mambaParamShapes(m.config);
  const half = checkHalf(fn, m, shapes, options.half === true);
  const embedding = m.params.get("backbone.embeddings.weight");
  const first = embedding?.data instanceof Float64Array ? "float64" : "float32";
  for (const [name, shape] of shapes) {
    if (half.has(name)) continue;
    const t = m.params.get(name);
    if (!t)
      throw new Error(
        `${fn}: argument 'model.params' must hold every tensor of the config (got no "${name}" of shape [${shape.join(", ")}])`,
      );
    if (
      !(t.data instanceof Float32Array || t.data instanceof Float64Array) ||
      !dtypes.includes(dtypeOf(t))
    ) {
      throw new Error(
        `${fn}: argument 'model.params' must hold ${dtypes.join(" or ")} data (got ${describe(t.data)} in "${name}")`,
      );
    }
    if (dtypeOf(t) !== first) {
      throw new Error(
        `${fn}: argument 'model.params' must hold tensors of one dtype (${first}) (got ${dtypeOf(t)} in "${name}")`,
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

/** The checked `model.half` (empty when absent); see {@link checkMambaModel}. */
function checkHalf(
  fn: string,
  m: Partial<MambaModel>,
  shapes: Map<string, number[]>,
  allowed: boolean,
): Map<string, HalfTensor> {
  const half = m.half;
  if (half === undefined) return new Map();
  if (!(half instanceof Map))
    throw new Error(
      `${fn}: argument 'model.half' must be a Map of 16-bit weights from loadMambaCheckpoint (got ${describe(half)})`,
    );
  if (half.size > 0 && !allowed)
    throw new Error(
      `${fn}: argument 'model' must hold float32 or float64 weights (got weights kept in 16 bits by loadMambaCheckpoint's keep option, which serve inference only: mambaForward, mambaPrefill, mambaStep, mambaGenerate; load the checkpoint without keep to train or save it)`,
    );
  for (const [name, t] of half) {
    const shape = shapes.get(name);
    if (!shape)
      throw new Error(
        `${fn}: argument 'model.half' must hold only tensors of the config (got an unexpected "${name}")`,
      );
    if (m.params!.has(name))
      throw new Error(
        `${fn}: argument 'model' must hold "${name}" once (got it in both params and half)`,
      );
    const n = shape.reduce((a, b) => a * b, 1);
    if (
      !t ||
      !(t.data instanceof Uint16Array) ||
      (t.format !== "bf16" && t.format !== "f16") ||
      !Array.isArray(t.shape) ||
      t.shape.length !== shape.length ||
      t.shape.some((s, i) => s !== shape[i]) ||
      t.data.length !== n
    )
      throw new Error(
        `${fn}: argument 'model.half' must hold "${name}" as { shape: [${shape.join(", ")}], format: "bf16" | "f16", data: Uint16Array(${n}) } (got ${describe(t)})`,
      );
  }
  return half;
}

/**
 * The mixer variant to run: the option if given, else the model's `extraConfig.mamba_ts_variant`
 * (saved in config.json by the Table 1 script), else "mamba".
 */
export function resolveVariant(fn: string, model: MambaModel, option: unknown): MixerVariant {
  const v = option ?? model.extraConfig?.mamba_ts_variant ?? "mamba";
  if (!(MIXER_VARIANTS as readonly unknown[]).includes(v)) {
    const arg = isAbsent(option) ? "model.extraConfig.mamba_ts_variant" : "options.variant";
    throw new Error(
      `${fn}: argument '${arg}' must be one of ${MIXER_VARIANTS.map((x) => `"${x}"`).join(", ")} (got ${describe(v)})`,
    );
  }
  return v as MixerVariant;
}
