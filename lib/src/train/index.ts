/** Training: backward passes, the optimiser, the schedule and the training loop (lesson 10). */
export {
  type AdamWOptions,
  type AdamWState,
  type LrSchedule,
  noWeightDecay,
  createAdamW,
  adamwStep,
  clipGradNorm,
  learningRate,
} from "./optim";
export * from "./ops-backward";
export * from "./loop";
export {
  type TrainableParams,
  type TrainingState,
  saveTrainingState,
  loadTrainingState,
} from "./state";
export * from "./tasks";
export { type TrainPool, type TrainPoolOptions, createTrainPool } from "../ops/simd/threads";
