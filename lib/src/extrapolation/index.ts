/** Length extrapolation on induction heads: last-position logits in bounded memory (lesson 11). */
export {
  DEFAULT_ATTENTION_CHUNK,
  DEFAULT_MAMBA_PREFILL,
  attentionEvalBytes,
  mamba2LastLogits,
  mambaLastLogits,
  transformerLastLogits,
} from "./last-logits";
export * from "./evaluate";
export { meanFillerDelta } from "./timescales";
