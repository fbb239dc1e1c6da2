/**
 * Checkpoint files: safetensors and config.json (the Hugging Face layouts). The float16 decoder
 * (`float16ToNumber`) is an internal of the reader, importable from its module.
 */
export {
  type SafetensorsEntry,
  readSafetensors,
  parseSafetensors,
  writeSafetensors,
  serializeSafetensors,
} from "./safetensors";
export * from "./config-json";
