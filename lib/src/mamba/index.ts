/**
 * Lesson 09: the Mamba block and language model, decoding, checkpoints. The modules' own
 * argument checks (`checkMambaModel`, `checkForwardOptions`, `checkHidden`) and layout helpers
 * (`mixerPrefix`, `lmHeadWeight`) are internals: importable from their modules, not exported here.
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
export { type MambaModel } from "./model";
export * from "./init";
export {
  type MambaScan,
  type MambaForwardOptions,
  type MambaTokens,
  type MambaBlockState,
  mambaMixer,
  mambaForward,
  mambaForwardWithState,
} from "./forward";
export * from "./cache";
export {
  type MambaGenerateOptions,
  type MambaGenerateResult,
  mambaGenerate,
  mambaGenerateWithStats,
  sampleNextToken,
} from "./generate";
export * from "./checkpoint";
