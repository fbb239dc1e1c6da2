/**
 * @mamba-ts/kernels: the course's Jupyter tooling, for scripts and tests (learners use it through
 * `npm start`, `npm run kernel:install`, `npm run lessons` and `npm run exercises`):
 * - the headless notebook runner (`runNotebooks`) and its report;
 * - the Jupyter server it starts or attaches to;
 * - finding Jupyter and waiting for a server (jupyter.ts, one discovery order); running programs,
 *   free ports and process groups (process.ts); the course's readiness (course.ts);
 * - the learner-version generator of the lessons (`releaseAll`).
 * The kernel itself is `kernels/adapter/` (tslab behind a protocol-conforming loop).
 */
export { runNotebooks, RunAbortedError } from "./runner/runner";
export type {
  RunOptions,
  RunReport,
  RunEvent,
  NotebookResult,
  NotebookFailure,
  CellResult,
  CellStatus,
} from "./runner/runner";
export type { ExerciseCheck } from "./runner/outputs";
export { findNotebooks } from "./runner/discover";
export { formatProgress, formatSummary } from "./runner/report";
export {
  startJupyterServer,
  attachJupyterServer,
  courseRoot,
  killAllJupyterServersNow,
} from "./runner/server";
export type { JupyterServer, StartServerOptions, AttachServerOptions } from "./runner/server";
export { glModuleLoads } from "./course";
export {
  ROOT,
  KERNEL_NAME,
  findJupyter,
  jupyterCandidates,
  jupyterProgramOf,
  waitForStatus,
  fetchStatus,
} from "./jupyter";
export { freePort, killGroup, signalGroup, descendants, isExecutable, findOnPath } from "./process";
export type { JupyterCandidate, ReadyState, StatusAnswer } from "./jupyter";
export { releaseAll, releaseNotebook } from "./exercises/release";
