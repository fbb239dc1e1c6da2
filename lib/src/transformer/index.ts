/** The Transformer++ baseline (LLaMA recipe, HF `LlamaForCausalLM` layout), lessons 11-12. */
export * from "./config";
export { applyRope, ropeInvFreq } from "./rope";
export { causalAttention } from "./attention";
export { type TransformerModel, transformerForward } from "./model";
export * from "./init";
export {
  type TransformerCache,
  createTransformerCache,
  transformerStep,
  transformerPrefill,
  transformerCacheBytes,
} from "./kv-cache";
export * from "./generate";
export * from "./checkpoint";
export {
  type TransformerLossOptions,
  applyRopeBackward,
  causalAttentionBackward,
  transformerLossAndGrads,
} from "./grads";
