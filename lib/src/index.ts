/**
 * @mamba-ts/lib: the library behind the lessons. Modules mirror the syllabus; see README.md for
 * the map from lesson to module.
 */
export * from "./tensor";
export * from "./validate";
export * from "./rng";
export * from "./display/jupyter";
export * from "./display/plot";
export * from "./display/progress";
export * from "./exercises/check";
export { exercises } from "./exercises/registry";
export { exponentialMovingAverage } from "./exercises/00-welcome";
export * from "./datasets/index";
export * from "./datasets/ecg";
export * from "./conv/fft";
export * from "./conv/kernel";
export * from "./conv/convolve";
export * from "./ssm/recurrence";
export * from "./linalg/matrix";
export * from "./linalg/lu";
export * from "./linalg/eig";
export * from "./ssm/expm";
export * from "./ssm/discretize";
export * from "./ssm/ode";
export * from "./ssm/continuous";
export * from "./selective/index";
export * from "./tasks/index";
export * from "./lti/index";
export * from "./hippo/legendre";
export * from "./hippo/legs";
export * from "./hippo/memory";
export * from "./hippo/s4d";
export * from "./timing";
export * from "./scan/combine";
export * from "./scan/linear-scan";
export * from "./scan/schedule";
export * from "./scan/random-args";
export {
  selectiveScanFast,
  type FastScanEngine,
  type FastScanOptions,
  type FastScanResult,
} from "./selective-fast/fast-scan";
export { wasmSimdSupported } from "./selective-fast/wasm";
export * from "./selective-fast/limits";
export * from "./gpu/backends";
export * from "./gpu/scan-kernels";
export * from "./gpu/selective-scan";
export * from "./gpu/decode";
export * from "./gpu/kernel";
export { runNotebooks, RunAbortedError } from "./notebook/runner";
export type {
  RunOptions,
  RunReport,
  RunEvent,
  NotebookResult,
  NotebookFailure,
  CellResult,
  CellStatus,
} from "./notebook/runner";
export type { ExerciseCheck } from "./notebook/outputs";
export { findNotebooks } from "./notebook/discover";
export { formatProgress, formatSummary } from "./notebook/report";
export {
  startJupyterServer,
  attachJupyterServer,
  findJupyter,
  courseRoot,
  killAllJupyterServersNow,
} from "./notebook/server";
export type { JupyterServer, StartServerOptions, AttachServerOptions } from "./notebook/server";
export * from "./nn/index";
export * from "./checkpoint/index";
export * from "./mamba/index";
export * from "./transformer/index";
export * from "./train/index";
