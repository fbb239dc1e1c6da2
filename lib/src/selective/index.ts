/** Lessons 06 and 10: the selective SSM (S6), its scan, and the scan's backward pass. */
export * from "./activations";
export { type SelectiveScanArgs, type SelectiveScanResult, selectiveScan } from "./scan";
export {
  type ScanBackwardStrategy,
  type ScanTrainOptions,
  type ScanCache,
  type ScanGrads,
  type ScanMemoryConfig,
  selectiveScanForwardTrain,
  selectiveScanBackward,
  scanTrainingMemory,
} from "./scan-backward";
export type { ScanMatrixLayout, SelectiveScanShapes } from "../ops/reference/layout";
export * from "./step";
export * from "./matrix";
export * from "./s6";
