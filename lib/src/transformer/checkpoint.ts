/**
 * Transformer++ checkpoints in the layout of Hugging Face `transformers`' `LlamaForCausalLM`:
 * a folder with `config.json` (LlamaConfig fields) and `model.safetensors` (the tensors named in
 * `transformerParamShapes`). A folder saved here loads with
 * `LlamaForCausalLM.from_pretrained(dir)`, and a float32/float16/bfloat16 Llama saved by
 * `save_pretrained` (single file, no rope scaling) loads here.
 */
import * as path from "node:path";
import { type Tensor } from "../tensor";
import { assertFiniteArray, describe } from "../validate";
import { readSafetensors, writeSafetensors } from "../checkpoint/safetensors";
import { readConfigJson, writeConfigJson } from "../checkpoint/config-json";
import { createOutputFolder, fileError, inFile } from "../checkpoint/file-errors";
import { LLAMA_CONFIG_FIELDS, checkLlamaConfig, transformerParamShapes } from "./config";
import { type TransformerModel, checkTransformerModel } from "./model";

/** What `dir` must be, in errors about a file inside it. */
const WHAT = "a valid checkpoint folder";

/** Runs `f`, re-labelling errors of lib's checkpoint helpers with the function the user called. */
function relabel<T>(fn: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const message = (e as Error).message.replace(/^(writeSafetensors|writeConfigJson): /, "");
    throw new Error(`${fn}: ${message}`);
  }
}

/**
 * Loads a checkpoint folder. Refuses, naming the file and the tensor or field: a missing or
 * unreadable file, a corrupt safetensors file, config fields out of range or describing an
 * architecture this model does not implement, a missing or unexpected tensor, a tensor whose
 * shape disagrees with the config, non-finite weights.
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
  if (extra.model_type !== undefined && extra.model_type !== "llama") {
    throw bad(configPath, `model_type must be "llama" (got ${JSON.stringify(extra.model_type)})`);
  }
  const tensors = inFile(fn, "dir", WHAT, weightsPath, () => readSafetensors(weightsPath));
  const shapes = transformerParamShapes(config);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of shapes) {
    const entry = tensors.get(name);
    if (entry === undefined) {
      const hint = name === "lm_head.weight" ? ` (config.json has tie_word_embeddings: false)` : "";
      throw bad(weightsPath, `missing tensor "${name}"${hint}`);
    }
    if (entry.shape.length !== shape.length || entry.shape.some((s, i) => s !== shape[i])) {
      throw bad(
        weightsPath,
        `tensor "${name}" has shape [${entry.shape.join(", ")}], but config.json implies [${shape.join(", ")}]`,
      );
    }
    inFile(fn, "dir", WHAT, weightsPath, () =>
      assertFiniteArray(`${fn}: tensor "${name}"`, entry.data),
    );
    params.set(name, { shape: [...entry.shape], data: entry.data });
  }
  for (const name of tensors.keys()) {
    if (!shapes.has(name)) {
      const hint = name === "lm_head.weight" ? ` (config.json has tie_word_embeddings: true)` : "";
      throw bad(weightsPath, `unexpected tensor "${name}"${hint}`);
    }
  }
  return { config, params, configExtra: extra };
}

/**
 * Saves a model as `dir/config.json` + `dir/model.safetensors` (float32), creating `dir`.
 * config.json gets every LlamaConfig field plus `architectures: ["LlamaForCausalLM"]` and
 * `model_type: "llama"`, and keeps the model's `configExtra`; the tensors are exactly those of
 * `transformerParamShapes` (no `lm_head.weight` when tied).
 */
export function saveTransformerCheckpoint(model: TransformerModel, dir: string): void {
  const fn = "saveTransformerCheckpoint";
  const config = checkTransformerModel(fn, model);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  for (const [name, t] of model.params) {
    const i = t.data.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) {
      throw new Error(
        `${fn}: argument 'model.params' must hold finite values (got ${t.data[i]} at flat index ${i} of "${name}")`,
      );
    }
  }
  createOutputFolder(fn, dir);
  const fields: Record<string, unknown> = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
  };
  for (const key of LLAMA_CONFIG_FIELDS) fields[key] = config[key];
  fields.hidden_act = "silu";
  fields.attention_bias = false;
  fields.mlp_bias = false;
  fields.torch_dtype = "float32";
  relabel(fn, () =>
    writeConfigJson(path.join(dir, "config.json"), fields, model.configExtra ?? {}),
  );
  relabel(fn, () =>
    writeSafetensors(path.join(dir, "model.safetensors"), model.params, { format: "pt" }),
  );
}
