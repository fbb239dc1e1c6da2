/**
 * Mamba-2 checkpoints in the Hugging Face `Mamba2ForCausalLM` layout: a folder with `config.json`
 * and `model.safetensors`, so a model trained here loads in PyTorch and one trained there loads
 * here.
 */
import { existsSync } from "node:fs";
import * as path from "node:path";
import { checkFiniteParams, describe } from "../validate";
import { plausibleSafetensorsBytes, readSafetensors, serialize } from "../checkpoint/safetensors";
import { formatConfigJson, readConfigJson } from "../checkpoint/config-json";
import { fileError, inFile } from "../checkpoint/file-errors";
import { saveFilesAtomically } from "../checkpoint/write-files";
import { paramsFromTensors } from "../checkpoint/params";
import {
  configToSave,
  floatFields,
  keptFields,
  refusedFieldError,
} from "../checkpoint/config-fields";
import {
  MAMBA2_CONFIG_KEYS,
  MAMBA2_CONFIG_TABLE,
  type Mamba2Config,
  type Mamba2ConfigInput,
  mamba2Config,
  mamba2ParamCount,
  mamba2ParamShapes,
} from "./config";
import type { Mamba2Model } from "./model";
import { checkMamba2Model } from "./checks";

/** What `dir` must be, in errors about a file inside it. */
const WHAT = "a valid checkpoint folder";
/** `state-spaces/mamba`'s own name for the embedding, accepted on load (transformers' load_hook). */
const EMBEDDING_ALIAS = "backbone.embedding.weight";

/**
 * A float of config.json as transformers 5 writes it: a number, or `{"__float__": "Infinity"}`
 * for the values JSON has no literal for (its default `time_step_limit` is `[0.0, inf]`).
 */
function readFloat(v: unknown): unknown {
  if (v !== null && typeof v === "object" && "__float__" in v) {
    const text = (v as { __float__: unknown }).__float__;
    if (text === "Infinity") return Infinity;
    if (text === "-Infinity") return -Infinity;
  }
  return v;
}

/** The inverse of {@link readFloat}: ±∞ as transformers 5 writes them. */
function writeFloat(v: number): number | { __float__: string } {
  return Number.isFinite(v) ? v : { __float__: v > 0 ? "Infinity" : "-Infinity" };
}

/**
 * Loads `dir/config.json` + `dir/model.safetensors`. config.json's fields are treated as
 * `MAMBA2_CONFIG_TABLE` says: the `Mamba2Config` fields are read (transformers' defaults for
 * missing ones; `time_step_limit`'s `{"__float__": "Infinity"}` as ∞); a field that would change
 * the maths into something lib does not implement (`hidden_act` other than "silu", another
 * `model_type`) is refused naming the field and its value; `architectures` and `dtype` are
 * dropped; the rest go to `extraConfig`, written back by a later save. Tensors may be F32, F16 or
 * BF16 (held as float32). Refused, with the file and the tensor or field named: a missing or
 * extra tensor, a shape that disagrees with the config, non-finite values, and everything
 * `readSafetensors` refuses.
 */
export function loadMamba2Checkpoint(dir: string): Mamba2Model {
  const fn = "loadMamba2Checkpoint";
  const bad = (file: string, problem: string): Error => fileError(fn, "dir", WHAT, file, problem);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  const configPath = path.join(dir, "config.json");
  const weightsPath = path.join(dir, "model.safetensors");
  for (const p of [configPath, weightsPath])
    if (!existsSync(p))
      throw bad(p, "missing (a checkpoint folder holds config.json and model.safetensors)");
  const raw = inFile(fn, "dir", WHAT, configPath, () => readConfigJson(configPath));
  inFile(fn, "dir", WHAT, configPath, () => {
    const refused = refusedFieldError(fn, "config", MAMBA2_CONFIG_TABLE, raw);
    if (refused) throw refused;
  });
  const known: Record<string, unknown> = {};
  for (const k of MAMBA2_CONFIG_KEYS) if (k in raw) known[k] = raw[k];
  if (Array.isArray(known.time_step_limit))
    known.time_step_limit = known.time_step_limit.map(readFloat);
  const config: Mamba2Config = inFile(fn, "dir", WHAT, configPath, () =>
    mamba2Config(known as Mamba2ConfigInput, fn),
  );
  const extra = keptFields(MAMBA2_CONFIG_TABLE, raw);
  // Every parameter, and a tied head that some exports store too.
  const maxBytes = plausibleSafetensorsBytes(
    mamba2ParamCount(config) + config.vocab_size * config.hidden_size,
  );
  const tensors = inFile(fn, "dir", WHAT, weightsPath, () =>
    readSafetensors(weightsPath, { maxBytes }),
  );
  if (tensors.has(EMBEDDING_ALIAS) && !tensors.has("backbone.embeddings.weight")) {
    tensors.set("backbone.embeddings.weight", tensors.get(EMBEDDING_ALIAS)!);
    tensors.delete(EMBEDDING_ALIAS);
  }
  const c = config;
  const params = paramsFromTensors(
    tensors,
    {
      shapes: mamba2ParamShapes(c),
      embedding: "backbone.embeddings.weight",
      head: "lm_head.weight",
      tied: c.tie_word_embeddings,
      configPath,
      sizes: `hidden_size ${c.hidden_size}, expand ${c.expand}, num_heads ${c.num_heads}, head_dim ${c.head_dim}, n_groups ${c.n_groups}, state_size ${c.state_size}, conv_kernel ${c.conv_kernel}, vocab_size ${c.vocab_size}`,
      switches: `num_hidden_layers ${c.num_hidden_layers}, use_bias ${c.use_bias}, use_conv_bias ${c.use_conv_bias}, tie_word_embeddings ${c.tie_word_embeddings}`,
    },
    (problem) => bad(weightsPath, problem),
  );
  return { config, params, extraConfig: extra };
}

/**
 * Saves `model` as `dir/config.json` and `dir/model.safetensors` (F32, HF names; no
 * `lm_head.weight` when tied), creating `dir`. config.json holds every `Mamba2Config` field, the
 * model's `extraConfig` and what `MAMBA2_CONFIG_TABLE` says a save writes (`model_type:
 * "mamba2"`, `architectures: ["Mamba2ForCausalLM"]`, `dtype: "float32"`, `hidden_act: "silu"`),
 * floats written as floats and ∞ as transformers 5 writes it (`{"__float__": "Infinity"}`), so
 * that transformers 5 loads it.
 *
 * Nothing is created when the model is invalid (wrong tensors, NaN or ∞ weights). Both files are
 * written whole to temporary files in `dir` and then renamed into place, the tensors before the
 * config: a save that fails part way leaves an earlier checkpoint in `dir` as it was.
 */
export function saveMamba2Checkpoint(model: Mamba2Model, dir: string): void {
  const fn = "saveMamba2Checkpoint";
  const m = checkMamba2Model(fn, model);
  if (typeof dir !== "string")
    throw new Error(`${fn}: argument 'dir' must be a folder path (got ${describe(dir)})`);
  checkFiniteParams(fn, m.params);
  const weightsPath = path.join(dir, "model.safetensors");
  const tensors = serialize(fn, m.params, { format: "pt" }, weightsPath);
  const fields = configToSave(
    MAMBA2_CONFIG_TABLE,
    { ...m.config, time_step_limit: m.config.time_step_limit.map(writeFloat) },
    m.extraConfig ?? {},
  );
  const floats = [...floatFields(MAMBA2_CONFIG_TABLE), "time_step_limit"];
  saveFilesAtomically(fn, "dir", dir, [
    { name: "model.safetensors", bytes: tensors },
    { name: "config.json", bytes: new TextEncoder().encode(formatConfigJson(fields, floats)) },
  ]);
}
