/**
 * Transformer++ checkpoints in the layout of Hugging Face `transformers`' `LlamaForCausalLM`:
 * a folder with `config.json` (LlamaConfig fields) and `model.safetensors` (the tensors named in
 * `transformerParamShapes`). A folder saved here loads with
 * `LlamaForCausalLM.from_pretrained(dir)` in transformers 4.x and 5.x, and a float32/float16/
 * bfloat16 Llama saved by `save_pretrained` (single file, plain RoPE) loads here; config.json's
 * fields are treated as `LLAMA_CONFIG_TABLE` says.
 */
import * as path from "node:path";
import { checkFiniteParams, describe } from "../validate";
import { plausibleSafetensorsBytes, readSafetensors, serialize } from "../checkpoint/safetensors";
import { formatConfigJson, readConfigJson } from "../checkpoint/config-json";
import { fileError, inFile } from "../checkpoint/file-errors";
import { configToSave, floatFields } from "../checkpoint/config-fields";
import { saveFilesAtomically } from "../checkpoint/write-files";
import { paramsFromTensors } from "../checkpoint/params";
import {
  LLAMA_CONFIG_FIELDS,
  LLAMA_CONFIG_TABLE,
  type LlamaConfig,
  checkLlamaConfig,
  transformerParamCount,
  transformerParamShapes,
} from "./config";
import type { TransformerModel } from "./model";
import { checkTransformerModel } from "./checks";

/** What `dir` must be, in errors about a file inside it. */
const WHAT = "a valid checkpoint folder";

/**
 * Loads a checkpoint folder saved by transformers 4.x or 5.x or by
 * {@link saveTransformerCheckpoint}. config.json is read as `LLAMA_CONFIG_TABLE` says: RoPE's
 * θ from `rope_parameters` (5.x) or `rope_theta`/`rope_scaling` (4.x), `pad_token_id` into the
 * config, and any field that would change the maths into something this model does not
 * implement (a rope_type other than "default", biases, an activation other than silu, attention
 * dropout, a partial rotary factor) refused naming the field and its value, never ignored.
 * Also refused, naming the file and the tensor or field: a missing or unreadable file, one that
 * is not a regular file or far larger than the config's tensors, a corrupt safetensors file (a
 * tensor listed twice included), config fields out of range, a missing or unexpected tensor, a
 * tensor whose shape disagrees with the config, non-finite weights.
 *
 * @param dir folder with config.json and model.safetensors
 * @returns `{ config, params, configExtra }` (float32 tensors; configExtra: the fields of
 *   config.json this model does not read, written back by `saveTransformerCheckpoint`)
 */
export function loadTransformerCheckpoint(dir: string): TransformerModel {
  const fn = "loadTransformerCheckpoint";
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  const configPath = path.join(dir, "config.json");
  const weightsPath = path.join(dir, "model.safetensors");
  const bad = (file: string, problem: string): Error => fileError(fn, "dir", WHAT, file, problem);
  const json = inFile(fn, "dir", WHAT, configPath, () => readConfigJson(configPath));
  const { config, extra } = inFile(fn, "dir", WHAT, configPath, () =>
    checkLlamaConfig(fn, "config", json, { allowUnknown: true }),
  );
  // Every parameter, and a tied head stored anyway (refused later, but not for its size).
  const maxBytes = plausibleSafetensorsBytes(
    transformerParamCount(config) + config.vocab_size * config.hidden_size,
  );
  const tensors = inFile(fn, "dir", WHAT, weightsPath, () =>
    readSafetensors(weightsPath, { maxBytes }),
  );
  const params = paramsFromTensors(
    tensors,
    {
      config,
      configPath,
      shapes: transformerParamShapes(config),
      embedding: "model.embed_tokens.weight",
      sizes: [
        "hidden_size",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
        "intermediate_size",
        "vocab_size",
      ],
      switches: ["num_hidden_layers", "tie_word_embeddings"],
      storedTiedHead: false,
    },
    (problem) => bad(weightsPath, problem),
  );
  return { config, params, configExtra: extra };
}

/**
 * Saves a model as `dir/config.json` + `dir/model.safetensors` (float32), creating `dir`.
 * config.json gets every LlamaConfig field, RoPE's θ both under `rope_parameters` (as
 * transformers 5 writes it) and as top-level `rope_theta` (what 4.x reads), the fields
 * `LLAMA_CONFIG_TABLE` says a save writes (`architectures: ["LlamaForCausalLM"]`,
 * `model_type: "llama"`, `dtype: "float32"`, `hidden_act: "silu"`, no biases) and the model's
 * `configExtra`, float fields written as floats; the tensors are exactly those of
 * `transformerParamShapes` (no `lm_head.weight` when tied).
 *
 * Nothing is created when the model is invalid (wrong tensors, NaN or ∞ weights). Both files are
 * written whole to temporary files in `dir` and then renamed into place, the tensors before the
 * config: a save that fails part way (a full disk) leaves an earlier checkpoint in `dir` as it
 * was, loadable.
 */
export function saveTransformerCheckpoint(model: TransformerModel, dir: string): void {
  const fn = "saveTransformerCheckpoint";
  const config = checkTransformerModel(fn, model);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  checkFiniteParams(fn, model.params);
  const weightsPath = path.join(dir, "model.safetensors");
  const tensors = serialize(fn, model.params, { format: "pt" }, weightsPath);
  const json = llamaConfigJson(config, model.configExtra ?? {});
  const text = formatConfigJson(json, floatFields(LLAMA_CONFIG_TABLE));
  saveFilesAtomically(fn, "dir", dir, [
    { name: "model.safetensors", bytes: tensors },
    { name: "config.json", bytes: new TextEncoder().encode(text) },
  ]);
}

/**
 * The config.json object `saveTransformerCheckpoint` writes for `config` and the kept `extra`
 * fields: every LlamaConfig field, RoPE's θ both as transformers 5 writes it
 * (`rope_parameters: { rope_theta, rope_type: "default" }`) and as 4.x reads it (top-level
 * `rope_theta`), and the table's saved fields (architecture, dtype float32, hidden_act "silu", no
 * biases, no attention dropout).
 */
function llamaConfigJson(
  config: LlamaConfig,
  extra: Record<string, unknown>,
): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const key of LLAMA_CONFIG_FIELDS) fields[key] = config[key];
  fields.rope_parameters = { rope_theta: config.rope_theta, rope_type: "default" };
  return configToSave(LLAMA_CONFIG_TABLE, fields, extra);
}
