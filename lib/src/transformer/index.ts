/**
 * Lessons 11-12: the Transformer++ baseline (LLaMA recipe, HF `LlamaForCausalLM` layout).
 * `model.ts` is its one definition; the other files are the public functions around it
 * (forward, decoding, training loss, generation, checkpoints, the lessons' attention and RoPE)
 * and their argument checks (`checks.ts`, internal).
 */
export {
  type LlamaConfig,
  LLAMA_CONFIG_FIELDS,
  LLAMA_CONFIG_TABLE,
  llamaConfig,
  transformerParamCount,
  transformerParamShapes,
} from "./config";
export { applyRope, applyRopeBackward, ropeInvFreq } from "./rope";
export { causalAttention, causalAttentionBackward } from "./attention";
export { type TransformerModel } from "./model";
export {
  type InferenceEngine,
  type TransformerForwardOptions,
  transformerForward,
} from "./forward";
export * from "./init";
export {
  type TransformerCache,
  type TransformerDecodeOptions,
  createTransformerCache,
  transformerStep,
  transformerPrefill,
  transformerCacheBytes,
} from "./kv-cache";
export * from "./generate";
export * from "./checkpoint";
export { type TransformerLossOptions, transformerLossAndGrads } from "./grads";
