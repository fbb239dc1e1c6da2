/**
 * Lessons 09-10: the Mamba language model. `model.ts` is its one definition; the other files are
 * the public functions around it (forward, decoding, training loss, generation, checkpoints) and
 * their argument checks (`checks.ts`, internal).
 */
export {
  type MambaConfig,
  type MambaConfigInput,
  MAMBA_CONFIG_KEYS,
  MAMBA_CONFIG_TABLE,
  mambaConfig,
  mambaParamShapes,
  mambaParamCount,
} from "./config";
export { type MambaModel, type MixerVariant, MIXER_VARIANTS } from "./model";
export * from "./init";
export { type MambaEngine } from "./engine";
export {
  type MambaForwardOptions,
  type MambaBlockState,
  type LayerSelection,
  mambaMixer,
  mambaForward,
  mambaSelection,
} from "./forward";
export {
  type MambaCache,
  createMambaCache,
  mambaCacheBytes,
  mambaPrefill,
  mambaStep,
} from "./cache";
export { type LossAndGradsOptions, type TrainEngine, mambaLossAndGrads } from "./grads";
export {
  type MambaGenerateOptions,
  type MambaGenerateResult,
  mambaGenerate,
  mambaGenerateWithStats,
} from "./generate";
export * from "./checkpoint";
