/**
 * Mamba checkpoints in the Hugging Face `MambaForCausalLM` layout: a folder with `config.json`
 * and `model.safetensors` (what the `state-spaces/mamba-*-hf` repositories hold), so a model
 * trained here loads in PyTorch and one trained there loads here.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { Tensor } from "../tensor";
import { checkFiniteParams, checkOptions, describe, firstNonFinite, schema } from "../validate";
import { type HalfFormat, type HalfTensor, firstNonFiniteHalf } from "../half";
import {
  type Safetensors16Entry,
  type SafetensorsEntry,
  plausibleSafetensorsBytes,
  readSafetensorsKeeping16,
  serialize,
} from "../checkpoint/safetensors";
import { formatConfigJson, readConfigJson } from "../checkpoint/config-json";
import { fileError, inFile } from "../checkpoint/file-errors";
import { saveFilesAtomically } from "../checkpoint/write-files";
import {
  configToSave,
  floatFields,
  keptFields,
  refusedFieldError,
} from "../checkpoint/config-fields";
import {
  MAMBA_CONFIG_TABLE,
  MAMBA_CONFIG_KEYS,
  type MambaConfig,
  type MambaConfigInput,
  mambaConfig,
  mambaParamCount,
  mambaParamShapes,
} from "./config";
import type { MambaModel } from "./model";
import { checkMambaModel } from "./checks";

/** What `dir` must be, in errors about a file inside it. */
const WHAT = "a valid checkpoint folder";
/** `state-spaces/mamba`'s own name for the embedding, accepted on load. */
const EMBEDDING_ALIAS = "backbone.embedding.weight";

/**
 * Loads `dir/config.json` + `dir/model.safetensors`. config.json's fields are treated as
 * `MAMBA_CONFIG_TABLE` says: the `MambaConfig` fields are read with upstream defaults for the
 * missing ones (`time_step_rank: "auto"` included); a field that would change the maths into
 * something lib does not implement (`hidden_act` other than "silu") is refused naming the field
 * and its value; fields that only describe the files (`architectures`, `dtype`) are dropped; the
 * rest (token ids, init-only settings, fields in no table) go to `extraConfig`, written back by a
 * later save. Tensors may be F32, F16 or BF16 (held as float32). Refused, with the file and the
 * tensor or field named: a missing or extra tensor, a shape that disagrees with the config,
 * non-finite values, a file that is not a regular file or far larger than the config's tensors,
 * and everything `readSafetensors` refuses (truncated or corrupt files, bad headers, a tensor
 * listed twice, unknown dtypes).
 *
 * `options.keep`: "bf16" (or "f16") keeps the weight matrices (the embedding, the head and the
 * four projections of every block: all but a few thousandths of the bytes) as the file stores
 * them, 16-bit, in `model.half` instead of `model.params`: half the memory, and half the bytes a
 * decoding step reads (what bounds its speed). The values are the same as float32 loading gives
 * (every bfloat16 and float16 is a float32), so the logits are too, up to summation order; such
 * a model serves inference only (`mambaForward`, `mambaPrefill`, `mambaStep`, `mambaGenerate`;
 * the simd engines read the 16-bit weights directly). Every matrix must be stored in that width.
 */
export function loadMambaCheckpoint(dir: string, options: { keep?: HalfFormat } = {}): MambaModel {
  const fn = "loadMambaCheckpoint";
  const bad = (file: string, problem: string): Error => fileError(fn, "dir", WHAT, file, problem);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  const { keep } = checkOptions(fn, "options", options, LOAD_OPTIONS);
  const configPath = path.join(dir, "config.json");
  const weightsPath = path.join(dir, "model.safetensors");
  for (const p of [configPath, weightsPath]) {
    if (!existsSync(p))
      throw bad(p, "missing (a checkpoint folder holds config.json and model.safetensors)");
  }
  const raw = inFile(fn, "dir", WHAT, configPath, () => readConfigJson(configPath));
  inFile(fn, "dir", WHAT, configPath, () => {
    const refused = refusedFieldError(fn, "config", MAMBA_CONFIG_TABLE, raw);
    if (refused) throw refused;
  });
  const known: Record<string, unknown> = {};
  for (const k of MAMBA_CONFIG_KEYS) if (k in raw) known[k] = raw[k];
  const extra = keptFields(MAMBA_CONFIG_TABLE, raw);
  const config: MambaConfig = inFile(fn, "dir", WHAT, configPath, () =>
    mambaConfig(known as MambaConfigInput, fn),
  );
  // Every parameter, and a tied head that some exports store too.
  const maxBytes = plausibleSafetensorsBytes(
    mambaParamCount(config) + config.vocab_size * config.hidden_size,
  );
  const tensors: Map<string, SafetensorsEntry | Safetensors16Entry> = inFile(
    fn,
    "dir",
    WHAT,
    weightsPath,
    () =>
      readSafetensorsKeeping16(
        weightsPath,
        maxBytes,
        (name) => keep !== undefined && isMatrix(name),
      ),
  );
  if (tensors.has(EMBEDDING_ALIAS) && !tensors.has("backbone.embeddings.weight")) {
    tensors.set("backbone.embeddings.weight", tensors.get(EMBEDDING_ALIAS)!);
    tensors.delete(EMBEDDING_ALIAS);
  }
  const shapes = mambaParamShapes(config);
  if (config.tie_word_embeddings && tensors.has("lm_head.weight")) {
    // Some exports store the tied head too; accept it only if it really is the embedding.
    const values = (e: SafetensorsEntry | Safetensors16Entry | undefined) =>
      e && ("bits" in e ? e.bits : e.data);
    const head = values(tensors.get("lm_head.weight"))!;
    const emb = values(tensors.get("backbone.embeddings.weight"));
    if (!emb || head.length !== emb.length || head.some((v, i) => v !== emb[i])) {
      throw bad(
        weightsPath,
        `tensor "lm_head.weight" differs from the embedding, but ${configPath} says tie_word_embeddings: true`,
      );
    }
    tensors.delete("lm_head.weight");
  }
  const params = new Map<string, Tensor<Float32Array>>();
  const half = new Map<string, HalfTensor>();
  const describeConfig = `hidden_size ${config.hidden_size}, intermediate_size ${config.intermediate_size}, state_size ${config.state_size}, time_step_rank ${config.time_step_rank}, conv_kernel ${config.conv_kernel}, vocab_size ${config.vocab_size}`;
  for (const [name, shape] of shapes) {
    const t = tensors.get(name);
    if (!t)
      throw bad(
        weightsPath,
        `missing tensor "${name}" (shape [${shape.join(", ")}] from ${configPath})`,
      );
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw bad(
        weightsPath,
        `tensor "${name}" has shape [${t.shape.join(", ")}] but ${configPath} (${describeConfig}) implies [${shape.join(", ")}]`,
      );
    }
    if (keep !== undefined && isMatrix(name)) {
      const stored = keep === "bf16" ? "BF16" : "F16";
      if (t.dtype !== stored || !("bits" in t))
        throw new Error(
          `${fn}: argument 'options.keep' must be the width the checkpoint stores its weight matrices in (got "${keep}", but ${weightsPath} stores "${name}" as ${t.dtype}; load without keep to read it as float32)`,
        );
      const i = firstNonFiniteHalf(t.bits, keep);
      if (i >= 0)
        throw bad(
          weightsPath,
          `tensor "${name}" holds a non-finite ${stored} value at flat index ${i}`,
        );
      half.set(name, { shape: t.shape, format: keep, data: t.bits });
      continue;
    }
    const data = (t as SafetensorsEntry).data;
    const i = firstNonFinite(data);
    if (i >= 0) throw bad(weightsPath, `tensor "${name}" holds ${data[i]} at flat index ${i}`);
    params.set(name, { shape: t.shape, data });
  }
  for (const name of tensors.keys()) {
    if (!shapes.has(name)) {
      throw bad(
        weightsPath,
        `unexpected tensor "${name}" for ${configPath} (num_hidden_layers ${config.num_hidden_layers}, use_bias ${config.use_bias}, use_conv_bias ${config.use_conv_bias}, tie_word_embeddings ${config.tie_word_embeddings})`,
      );
    }
  }
  return keep
    ? { config, params, half, extraConfig: extra }
    : { config, params, extraConfig: extra };
}

const LOAD_OPTIONS = schema.options({
  keep: schema.optional(schema.oneOf<HalfFormat>(["bf16", "f16"])),
});

/** Whether a checkpoint tensor is a weight matrix (what `keep` keeps in 16 bits). */
function isMatrix(name: string): boolean {
  return (
    name === "backbone.embeddings.weight" ||
    name === EMBEDDING_ALIAS ||
    name === "lm_head.weight" ||
    /^backbone\.layers\.\d+\.mixer\.(in|x|dt|out)_proj\.weight$/.test(name)
  );
}

/**
 * Saves `model` as `dir/config.json` and `dir/model.safetensors` (F32, HF names; no
 * `lm_head.weight` when tied), creating `dir`. config.json holds every `MambaConfig` field, the
 * model's `extraConfig` and what `MAMBA_CONFIG_TABLE` says a save writes (`model_type: "mamba"`,
 * `architectures: ["MambaForCausalLM"]`, `dtype: "float32"`, `hidden_act: "silu"`), with float
 * fields written as floats (`time_step_scale: 1.0`), so that transformers 5 loads it.
 *
 * Nothing is created when the model is invalid (wrong tensors, NaN or ∞ weights). Both files are
 * written whole to temporary files in `dir` and then renamed into place, the tensors before the
 * config: a save that fails part way (a full disk) leaves an earlier checkpoint in `dir` as it
 * was, loadable.
 */
export function saveMambaCheckpoint(model: MambaModel, dir: string): void {
  const fn = "saveMambaCheckpoint";
  checkMambaModel(fn, model);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  checkFiniteParams(fn, model.params);
  const weightsPath = path.join(dir, "model.safetensors");
  const tensors = serialize(fn, model.params, { format: "pt" }, weightsPath);
  const fields = configToSave(MAMBA_CONFIG_TABLE, { ...model.config }, model.extraConfig ?? {});
  const config = formatConfigJson(fields, floatFields(MAMBA_CONFIG_TABLE));
  saveFilesAtomically(fn, "dir", dir, [
    { name: "model.safetensors", bytes: tensors },
    { name: "config.json", bytes: new TextEncoder().encode(config) },
  ]);
}
