/** Checkpoint files: safetensors and config.json (the Hugging Face layouts). */
export * from "./safetensors";
export * from "./config-json";
