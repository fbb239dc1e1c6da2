/**
 * @mamba-ts/lib: what a learner imports, in lessons and in scripts. Modules mirror the syllabus
 * (see README.md for the map from lesson to module):
 * - tensors, the seeded RNG and `describe` (how errors show a value);
 * - display: plots, progress bars and rich output in Jupyter;
 * - the exercises' `check` and the course's exercises;
 * - loading the course's datasets (checked against their manifest);
 * - the numerics of lessons 00-08: linear algebra, continuous and discrete SSMs, convolution,
 *   HiPPO/S4D, synthetic tasks, the selective scan, linear scans, the fast CPU scan, the gpu.js
 *   scans, timing;
 * - lessons 09-12: the Mamba and Transformer++ models (one definition each), their checkpoints,
 *   training, length extrapolation and the character LM.
 *
 * Nothing here starts servers or spawns processes: the Jupyter tooling is the package
 * `@mamba-ts/kernels` (kernels/), and build-time scripts live in lib/scripts/. Files are written
 * only by the functions that say so in their names (`save...`, `write...`: checkpoints, training
 * states, safetensors and config.json files), each atomically (a temporary file renamed into
 * place). Argument checks and kernels are internals: importable by the tests through relative
 * paths, not exported here.
 */
export * from "./tensor";
export { describe } from "./validate";
export * from "./rng";
export { type MimeBundle, displayBundle, html, markdown } from "./display/jupyter";
export {
  type ChartOptions,
  type Figure,
  type Series,
  type Trace,
  MAX_PLOT_POINTS,
  heatmap,
  lineChart,
  show,
} from "./display/plot";
export { type Progress, progress } from "./display/progress";
export {
  type CheckOutcome,
  type CheckResult,
  type Exercise,
  type ExerciseCase,
  type ExerciseFunction,
  CHECK_MIME,
  CHECK_SEED,
  CheckFailedError,
  NotImplementedError,
  check,
  checkBundle,
  evaluateExercise,
  notImplemented,
} from "./exercises/check";
export { exercises, findExercise } from "./exercises/registry";
export { exponentialMovingAverage } from "./exercises/00-welcome";
export {
  type DatasetEntry,
  type DatasetManifest,
  type VerifiedDataset,
  DATASET_META_FILES,
  datasetsDir,
  datasetPath,
  loadDatasetBytes,
  loadDatasetText,
  loadDatasetJSON,
  readManifest,
  sha256Hex,
  verifyDatasets,
} from "./datasets/index";
export * from "./datasets/ecg";
export {
  type ComplexArray,
  MAX_FFT_LENGTH,
  fft,
  fftPlan,
  ifft,
  irfft,
  nextPow2,
  rfft,
  rfftPlan,
} from "./conv/fft";
export * from "./conv/kernel";
export * from "./conv/convolve";
export * from "./ssm/recurrence";
export * from "./linalg/matrix";
export * from "./linalg/lu";
export * from "./linalg/eig";
export * from "./ssm/expm";
export {
  type Discretized,
  DISCRETIZATION_METHODS,
  discreteStates,
  discretize,
  discretizeDiagonal,
} from "./ssm/discretize";
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
export { wasmSimdSupported } from "./ops/simd/wasm";
export * from "./selective-fast/limits";
export {
  type GpuBackend,
  type GpuMode,
  type SyncGpuBackend,
  type BackendAvailability,
  GPU_MODES,
  GPU_BACKENDS,
  gpuBackends,
  bestGpuBackend,
  maxTextureSize,
} from "./gpu/backends";
// Of the kernel-source generators, only the one lesson 08 prints; the launch plan and its traffic.
export {
  type ScanDims,
  type ScanKernelName,
  type KernelLaunch,
  type ScanTraffic,
  chunkedOutputSource,
  scanLaunchPlan,
  summarizeTraffic,
  trafficByKernel,
} from "./gpu/scan-kernels";
export * from "./gpu/selective-scan";
export * from "./gpu/selective-scan-async";
export { type WebGpuInfo, installWebGpu, measureWebGpuSubmit, releaseWebGpu } from "./gpu/webgpu";
export * from "./gpu/fused-scan";
export * from "./gpu/wgsl-scan";
export * from "./gpu/ssd";
export { type SsdKernelName, type SsdKernelLaunch, MAX_GPU_SSD_CHUNK } from "./gpu/ssd-kernels";
export { type DeviceGpuMode, DEVICE_GPU_MODES } from "./gpu/device-kernels";
export * from "./gpu/measured-scan-types";
export * from "./gpu/measured-scans";
export * from "./gpu/decode";
export * from "./gpu/kernel";
// Lessons 09-12: the building blocks, checkpoints, the Mamba LM, training, the Transformer++.
export * from "./nn/index";
export * from "./checkpoint/index";
export * from "./lm/index";
export * from "./mamba/index";
export * from "./transformer/index";
export * from "./train/index";
// Lesson 11: length extrapolation on induction heads.
export * from "./extrapolation/index";
// Lesson 12: the character-level language model.
export * from "./charlm/index";
export { type KneserNeyModel, kneserNey, kneserNeyBitsPerChar } from "./charlm/ngram";
// Lesson 13: Mamba-2 and state space duality.
export * from "./mamba2/index";
