/** Training: backward passes, the optimiser, the schedule and the training loop (lesson 10). */
export * from "./scan-backward";
export * from "./optim";
export * from "./ops-backward";
export {
  type LossAndGrads,
  type LossAndGradsOptions,
  type MambaTrainConfig,
  type MixerVariant,
  type TokenBatch,
  type TrainEngine,
  type TrainableMamba,
  mambaLossAndGrads,
  mambaVariantForward,
} from "./mamba-grads";
export * from "./loop";
export * from "./tasks";
export { type TrainPool, type TrainPoolOptions, createTrainPool } from "../train-fast/threads";
