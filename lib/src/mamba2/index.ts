/**
 * Lesson 13: Mamba-2 and state space duality. `ssd.ts` holds the SSD operator's forms (the
 * recurrence, the quadratic form, the chunked algorithm) and the segment sum; `model.ts` is the
 * Mamba-2 LM's one definition; the other files are the public functions around it (forward,
 * decoding, training loss, generation, checkpoints) and their argument checks (`checks.ts`,
 * internal).
 */
export {
  type SsdInputs,
  type SsdResult,
  segsum,
  segsumNaive,
  ssdRecurrence,
  ssdQuadratic,
  ssdChunked,
} from "./ssd";
export {
  type Mamba2Config,
  type Mamba2ConfigInput,
  MAMBA2_CONFIG_KEYS,
  MAMBA2_CONFIG_TABLE,
  mamba2Config,
  mamba2ParamShapes,
  mamba2ParamCount,
} from "./config";
export { type Mamba2Model } from "./model";
export { initMamba2 } from "./init";
export { type Mamba2LayerSelection, mamba2Forward, mamba2Selection } from "./forward";
export {
  type Mamba2Cache,
  createMamba2Cache,
  mamba2CacheBytes,
  mamba2Prefill,
  mamba2Step,
} from "./cache";
export { type Mamba2LossOptions, mamba2LossAndGrads } from "./grads";
export { type Mamba2GenerateOptions, mamba2Generate } from "./generate";
export { loadMamba2Checkpoint, saveMamba2Checkpoint } from "./checkpoint";
