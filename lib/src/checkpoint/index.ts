/**
 * Checkpoint files: safetensors and config.json (the Hugging Face layouts), and the type of the
 * per-architecture tables of config fields (`MAMBA_CONFIG_TABLE`, `LLAMA_CONFIG_TABLE`). The
 * float16 decoder, the config.json formatter and the atomic writer are internals of the
 * checkpoint code, importable from their modules.
 */
export {
  type SafetensorsEntry,
  readSafetensors,
  parseSafetensors,
  writeSafetensors,
  serializeSafetensors,
} from "./safetensors";
export { readConfigJson, writeConfigJson } from "./config-json";
export { type ConfigField, type ConfigFieldTable } from "./config-fields";
