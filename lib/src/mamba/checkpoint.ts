/**
 * Mamba checkpoints in the Hugging Face `MambaForCausalLM` layout: a folder with `config.json`
 * and `model.safetensors` (what the `state-spaces/mamba-*-hf` repositories hold), so a model
 * trained here loads in PyTorch and one trained there loads here.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { Tensor } from "../tensor";
import { checkFiniteParams, describe, firstNonFinite } from "../validate";
import { plausibleSafetensorsBytes, readSafetensors, serialize } from "../checkpoint/safetensors";
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
 */
export function loadMambaCheckpoint(dir: string): MambaModel {
  const fn = "loadMambaCheckpoint";
  const bad = (file: string, problem: string): Error => fileError(fn, "dir", WHAT, file, problem);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
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
  const tensors: Map<string, { dtype: string; shape: number[]; data: Float32Array }> = inFile(
    fn,
    "dir",
    WHAT,
    weightsPath,
    () => readSafetensors(weightsPath, { maxBytes }),
  );
  if (tensors.has(EMBEDDING_ALIAS) && !tensors.has("backbone.embeddings.weight")) {
    tensors.set("backbone.embeddings.weight", tensors.get(EMBEDDING_ALIAS)!);
    tensors.delete(EMBEDDING_ALIAS);
  }
  const shapes = mambaParamShapes(config);
  if (config.tie_word_embeddings && tensors.has("lm_head.weight")) {
    // Some exports store the tied head too; accept it only if it really is the embedding.
    const head = tensors.get("lm_head.weight")!.data;
    const emb = tensors.get("backbone.embeddings.weight")?.data;
    if (!emb || head.length !== emb.length || head.some((v, i) => v !== emb[i])) {
      throw bad(
        weightsPath,
        `tensor "lm_head.weight" differs from the embedding, but ${configPath} says tie_word_embeddings: true`,
      );
    }
    tensors.delete("lm_head.weight");
  }
  const params = new Map<string, Tensor<Float32Array>>();
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
    const i = firstNonFinite(t.data);
    if (i >= 0) throw bad(weightsPath, `tensor "${name}" holds ${t.data[i]} at flat index ${i}`);
    params.set(name, { shape: t.shape, data: t.data });
  }
  for (const name of tensors.keys()) {
    if (!shapes.has(name)) {
      throw bad(
        weightsPath,
        `unexpected tensor "${name}" for ${configPath} (num_hidden_layers ${config.num_hidden_layers}, use_bias ${config.use_bias}, use_conv_bias ${config.use_conv_bias}, tie_word_embeddings ${config.tie_word_embeddings})`,
      );
    }
  }
  return { config, params, extraConfig: extra };
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
