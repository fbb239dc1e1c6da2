/**
 * Mamba checkpoints in the Hugging Face `MambaForCausalLM` layout: a folder with `config.json`
 * and `model.safetensors` (what the `state-spaces/mamba-*-hf` repositories hold), so a model
 * trained here loads in PyTorch and one trained there loads here.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import type { Tensor } from "../tensor";
import { describe } from "../validate";
import { readSafetensors, writeSafetensors } from "../checkpoint/safetensors";
import { readConfigJson, writeConfigJson } from "../checkpoint/config-json";
import { createOutputFolder, fileError, inFile } from "../checkpoint/file-errors";
import {
  MAMBA_CONFIG_KEYS,
  type MambaConfig,
  type MambaConfigInput,
  mambaConfig,
  mambaParamShapes,
} from "./config";
import type { MambaModel } from "./model";
import { checkMambaModel } from "./checks";

/** `state-spaces/mamba`'s own name for the embedding, accepted on load. */
/** What `dir` must be, in errors about a file inside it. */
const WHAT = "a valid checkpoint folder";
const EMBEDDING_ALIAS = "backbone.embedding.weight";

/**
 * Loads `dir/config.json` + `dir/model.safetensors`. The config's known fields (see
 * `MambaConfig`) are read with upstream defaults for the missing ones, `time_step_rank: "auto"`
 * included; unknown fields are ignored for computing and kept in `extraConfig` for a later save.
 * Tensors may be F32, F16 or BF16 (held as float32). Refused, with the file and the tensor or
 * field named: a missing or extra tensor, a shape that disagrees with the config, non-finite
 * values, and everything `readSafetensors` refuses (truncated or corrupt files, bad headers,
 * unknown dtypes).
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
  const known: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    if ((MAMBA_CONFIG_KEYS as readonly string[]).includes(k)) known[k] = v;
    else extra[k] = v;
  }
  const config: MambaConfig = inFile(fn, "dir", WHAT, configPath, () =>
    mambaConfig(known as MambaConfigInput, fn),
  );
  const tensors: Map<string, { dtype: string; shape: number[]; data: Float32Array }> = inFile(
    fn,
    "dir",
    WHAT,
    weightsPath,
    () => readSafetensors(weightsPath),
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
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]))
        throw bad(weightsPath, `tensor "${name}" holds ${t.data[i]} at flat index ${i}`);
    }
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
 * Writes `dir/config.json` (every `MambaConfig` field, plus `model_type: "mamba"`,
 * `architectures: ["MambaForCausalLM"]` and the model's `extraConfig`, unknown fields kept) and
 * `dir/model.safetensors` (F32, HF names; no `lm_head.weight` when tied). Creates `dir`.
 */
export function saveMambaCheckpoint(model: MambaModel, dir: string): void {
  const fn = "saveMambaCheckpoint";
  checkMambaModel(fn, model);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  createOutputFolder(fn, dir);
  for (const [name, t] of model.params) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]))
        throw new Error(
          `${fn}: argument 'model.params' must hold finite values (got ${t.data[i]} at flat index ${i} of "${name}")`,
        );
    }
  }
  const keep = {
    architectures: ["MambaForCausalLM"],
    model_type: "mamba",
    ...(model.extraConfig ?? {}),
  };
  writeConfigJson(path.join(dir, "config.json"), { ...model.config }, keep);
  writeSafetensors(path.join(dir, "model.safetensors"), model.params, { format: "pt" });
}
