/**
 * The notebook runner: executes notebooks top to bottom on a Jupyter server with their kernel,
 * like "Run All", and reports what happened.
 *
 * A cell fails when it writes to stderr, produces an `error` output, gets a reply whose status is
 * not "ok", runs past the timeout, or kills its kernel. A notebook stops at its first failing cell
 * unless `keepGoing` is set (a timed-out cell whose kernel had to be shut down, and a dead kernel,
 * stop it anyway). Executed copies (outputs and execution counts) go to
 * `<outDir>/<notebook path relative to the course root>`, the summary to `<outDir>/summary.json`;
 * the notebooks themselves are only read.
 */
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { ServerConnection } from "@jupyterlab/services";
import { findNotebooks } from "./discover";
import {
  type Notebook,
  type Output,
  readNotebook,
  serializeNotebook,
  sourceText,
} from "./nbformat";
import { type ExerciseCheck, cellFailure, exerciseChecks } from "./outputs";
import {
  type JupyterServer,
  attachJupyterServer,
  courseRoot,
  serverHasFile,
  startJupyterServer,
} from "./server";
import { type Execution, NotebookKernel, kernelNames, serverSettings } from "./session";

/** Options of {@link runNotebooks}. */
export interface RunOptions {
  /** Attach to this Jupyter server instead of starting one; its root must be the course root. */
  url?: string;
  /** The attached server's token (default: the URL's `token` parameter, else empty). */
  token?: string;
  /** Per-cell timeout in seconds (default 300). */
  timeoutSeconds?: number;
  /** Run the rest of a notebook after a failing cell (default false: stop, like "Run All"). */
  keepGoing?: boolean;
  /** For folder inputs: their notebooks, those of `solutions/`, or both (default "learner"). */
  folders?: "learner" | "solutions" | "both";
  /** Where executed copies and summary.json go (default `<root>/.executed`); null: write nothing. */
  outDir?: string | null;
  /** The course root: the started server's root and JUPYTER_PATH (default: this repository). */
  root?: string;
  /** The `jupyter` executable to start (default: `<root>/.venv/bin/jupyter`, then PATH). */
  jupyter?: string;
  /** Kernel for every notebook (default: each notebook's kernelspec name, else "mamba-ts"). */
  kernelName?: string;
  /** Receives progress events (the CLI prints them). */
  onProgress?: (event: RunEvent) => void;
  /** Aborts the run: the current kernel and a started server are shut down, then it rejects. */
  signal?: AbortSignal;
}

/** Status of one code cell. */
export type CellStatus = "ok" | "failed" | "timed-out" | "kernel-died" | "not-run";

/** One code cell's run. */
export interface CellResult {
  /** Index in the notebook's `cells` (0-based; messages say "cell <index + 1>/<cells>"). */
  index: number;
  /** The cell's nbformat id. */
  id?: string;
  status: CellStatus;
  /** Why it failed (absent when ok or not run). */
  message?: string;
  seconds: number;
  executionCount: number | null;
  outputs: Output[];
}

/** Where and why a notebook failed. */
export interface NotebookFailure {
  /** Index of the failing cell in `cells` (0-based); null when no cell was at fault. */
  cellIndex: number | null;
  cellId?: string;
  message: string;
}

/** One notebook's run. */
export interface NotebookResult {
  /** Path relative to the course root, with "/" separators, e.g. "notebooks/00-welcome.ipynb". */
  path: string;
  /** Absolute path of the notebook. */
  file: string;
  /** Absolute path of the executed copy; null when none was written. */
  executedPath: string | null;
  status: "passed" | "failed";
  /** The first failure (the one that stopped the notebook); null when it passed. */
  failure: NotebookFailure | null;
  /** Every failure (more than one only with `keepGoing`). */
  failures: NotebookFailure[];
  /** The code cells, in order. */
  cells: CellResult[];
  /** The exercise check lines the notebook printed, in order. */
  checks: ExerciseCheck[];
  kernelName: string;
  seconds: number;
}

/** The result of {@link runNotebooks}. */
export interface RunReport {
  /** True when every notebook passed. */
  ok: boolean;
  notebooks: NotebookResult[];
  /** The server used (URL without token) and whether this run started it. */
  server: { url: string; started: boolean };
  outDir: string | null;
  summaryPath: string | null;
  seconds: number;
}

/** Progress of a run. */
export type RunEvent =
  | { type: "server"; url: string; started: boolean }
  | { type: "notebook-start"; path: string; cells: number; codeCells: number }
  | { type: "cell"; path: string; cell: CellResult; cells: number }
  | { type: "notebook-end"; result: NotebookResult };

/** Thrown by {@link runNotebooks} when its signal aborts the run. */
export class RunAbortedError extends Error {
  override name = "RunAbortedError";
}

/** tslab rejects requests for ~200 ms after an error; the next cell waits this long. */
const AFTER_ERROR_MS = 250;

/** A notebook ready to run. */
interface Plan {
  file: string;
  /** Relative to the root, "/"-separated: the session path and the executed copy's path. */
  relPath: string;
  notebook: Notebook;
  kernelName: string;
  executedPath: string | null;
}

/**
 * Runs notebooks (files, or folders: see `options.folders`) and returns what happened to each.
 * Every input is read and checked before a server starts; bad input (a missing path, a file that
 * is not a notebook, a notebook outside the course root, an output folder that would overwrite
 * notebooks) and an unusable server (unreachable, token rejected, failed start) throw. Cell
 * failures do not throw: they are in the report. A server this call started is always stopped.
 */
export async function runNotebooks(
  inputs: readonly string[],
  options: RunOptions = {},
): Promise<RunReport> {
  const started = Date.now();
  const root = path.resolve(options.root ?? courseRoot());
  const timeoutSeconds = options.timeoutSeconds ?? 300;
  if (!(Number.isFinite(timeoutSeconds) && timeoutSeconds > 0)) {
    throw new Error(
      `runNotebooks: timeoutSeconds: expected a positive number of seconds, got ${timeoutSeconds}`,
    );
  }
  const outDir =
    options.outDir === null ? null : path.resolve(options.outDir ?? path.join(root, ".executed"));
  if (outDir !== null) assertFolderOrAbsent(outDir);
  const plans = findNotebooks(inputs, options.folders).map((file) =>
    planNotebook(file, root, outDir, options),
  );

  const server = options.url
    ? await attachJupyterServer({ url: options.url, token: options.token })
    : await startJupyterServer({ root, jupyter: options.jupyter, signal: options.signal });
  const results: NotebookResult[] = [];
  try {
    options.onProgress?.({ type: "server", url: server.url, started: server.owned });
    if (!server.owned) await assertServesNotebooks(server, plans, root);
    const settings = serverSettings(server);
    const available = await kernelNames(settings);
    for (const plan of plans) {
      if (options.signal?.aborted) break;
      results.push(await runPlanned(plan, settings, available, timeoutSeconds, options));
    }
  } finally {
    await server.stop();
  }
  if (options.signal?.aborted) throw new RunAbortedError("the run was interrupted");
  const report: RunReport = {
    ok: results.every((r) => r.status === "passed"),
    notebooks: results,
    server: { url: server.url, started: server.owned },
    outDir,
    summaryPath: outDir === null ? null : path.join(outDir, "summary.json"),
    seconds: (Date.now() - started) / 1000,
  };
  if (report.summaryPath !== null)
    writeFile(report.summaryPath, JSON.stringify(summaryOf(report), null, 2) + "\n");
  return report;
}

/**
 * The output folder must be a folder or not exist yet (it is created), and so must each folder
 * above it: checked before any notebook runs, so a wrong `--out` costs nothing.
 */
function assertFolderOrAbsent(outDir: string): void {
  for (let dir = outDir; ; dir = path.dirname(dir)) {
    if (existsSync(dir)) {
      if (!statSync(dir).isDirectory()) {
        const what =
          dir === outDir ? `${outDir} is an existing file` : `${dir} (above it) is a file`;
        throw new Error(
          `runNotebooks: outDir: expected a folder for the executed copies, but ${what}; choose another --out`,
        );
      }
      return;
    }
    if (path.dirname(dir) === dir) return;
  }
}

/** An attached server must serve the notebooks at their paths relative to the course root. */
async function assertServesNotebooks(
  server: JupyterServer,
  plans: Plan[],
  root: string,
): Promise<void> {
  for (const plan of plans) {
    if (!(await serverHasFile(server, plan.relPath))) {
      throw new Error(
        `the Jupyter server at ${server.url} has no file ${plan.relPath}: its root must be the ` +
          `course folder ${root} (as with \`npm start\`)`,
      );
    }
  }
}

/** Reads a notebook and decides its kernel and executed copy; throws on bad input. */
function planNotebook(
  file: string,
  root: string,
  outDir: string | null,
  options: RunOptions,
): Plan {
  const notebook = readNotebook(file);
  const rel = path.relative(root, file);
  if (rel.startsWith("..") || path.isAbsolute(rel)) {
    throw new Error(
      `${file}: outside the course folder ${root}; the Jupyter server only serves files under it`,
    );
  }
  const kernelspec = notebook.metadata?.kernelspec as { name?: unknown } | undefined;
  const kernelName =
    options.kernelName ?? (typeof kernelspec?.name === "string" ? kernelspec.name : "mamba-ts");
  const executedPath = outDir === null ? null : path.join(outDir, rel);
  if (executedPath !== null) assertSafeOutput(executedPath, file, root);
  return { file, relPath: rel.split(path.sep).join("/"), notebook, kernelName, executedPath };
}

/** The runner never writes into `<root>/notebooks` nor next to the notebooks it runs. */
function assertSafeOutput(executedPath: string, file: string, root: string): void {
  const notebooksDir = path.join(root, "notebooks");
  const inside = (dir: string) => !path.relative(dir, executedPath).startsWith("..");
  if (inside(notebooksDir) || path.dirname(executedPath) === path.dirname(file)) {
    throw new Error(
      `--out: the executed copy of ${path.relative(root, file)} would be written to ${executedPath}, ` +
        `among the notebooks; choose an output folder outside them (default: ${path.join(root, ".executed")})`,
    );
  }
}

/** Runs one planned notebook and writes its executed copy. */
async function runPlanned(
  plan: Plan,
  settings: ServerConnection.ISettings,
  available: readonly string[],
  timeoutSeconds: number,
  options: RunOptions,
): Promise<NotebookResult> {
  const started = Date.now();
  const notebook = cleared(plan.notebook);
  const codeCells = notebook.cells.filter((c) => c.cell_type === "code").length;
  options.onProgress?.({
    type: "notebook-start",
    path: plan.relPath,
    cells: notebook.cells.length,
    codeCells,
  });
  const result: NotebookResult = {
    path: plan.relPath,
    file: plan.file,
    executedPath: plan.executedPath,
    status: "passed",
    failure: null,
    failures: [],
    cells: [],
    checks: [],
    kernelName: plan.kernelName,
    seconds: 0,
  };
  const fail = (failure: NotebookFailure) => {
    result.failures.push(failure);
    result.failure ??= failure;
    result.status = "failed";
  };

  const kernel =
    codeCells === 0 ? null : await startKernel(plan, settings, available, options, fail);
  if (kernel !== null) {
    try {
      await runCells(notebook, kernel, timeoutSeconds, options, result, fail);
    } finally {
      await kernel.shutdown();
    }
  }
  result.seconds = (Date.now() - started) / 1000;
  if (plan.executedPath !== null) writeFile(plan.executedPath, serializeNotebook(notebook));
  options.onProgress?.({ type: "notebook-end", result });
  return result;
}

/** Starts the notebook's kernel; on failure records why and returns null. */
async function startKernel(
  plan: Plan,
  settings: ServerConnection.ISettings,
  available: readonly string[],
  options: RunOptions,
  fail: (failure: NotebookFailure) => void,
): Promise<NotebookKernel | null> {
  if (!available.includes(plan.kernelName)) {
    fail({ cellIndex: null, message: missingKernelMessage(plan.kernelName, available) });
    return null;
  }
  try {
    return await NotebookKernel.start(settings, {
      path: plan.relPath,
      kernelName: plan.kernelName,
      signal: options.signal,
    });
  } catch (err) {
    if (options.signal?.aborted) throw new RunAbortedError("the run was interrupted");
    fail({
      cellIndex: null,
      message: `could not start the "${plan.kernelName}" kernel: ${(err as Error).message}`,
    });
    return null;
  }
}

/** Executes the code cells in order, recording outputs in `notebook` and outcomes in `result`. */
async function runCells(
  notebook: Notebook,
  kernel: NotebookKernel,
  timeoutSeconds: number,
  options: RunOptions,
  result: NotebookResult,
  fail: (failure: NotebookFailure) => void,
): Promise<void> {
  let stopped = false;
  let previousFailed = false;
  for (const [index, cell] of notebook.cells.entries()) {
    if (cell.cell_type !== "code") continue;
    const base = { index, id: cell.id, seconds: 0, executionCount: null, outputs: [] };
    if (stopped) {
      result.cells.push({ ...base, status: "not-run" });
      continue;
    }
    if (previousFailed) await sleep(AFTER_ERROR_MS);
    const execution = await kernel.execute(sourceText(cell), {
      timeoutMs: timeoutSeconds * 1000,
      signal: options.signal,
    });
    if (execution.outcome === "aborted" || options.signal?.aborted) {
      throw new RunAbortedError("the run was interrupted");
    }
    cell.outputs = execution.outputs;
    cell.execution_count = execution.executionCount;
    const where = `cell ${index + 1}/${notebook.cells.length}`;
    const cellResult = judge(execution, where, timeoutSeconds, base);
    result.cells.push(cellResult);
    result.checks.push(...exerciseChecks(execution.outputs, index));
    options.onProgress?.({
      type: "cell",
      path: result.path,
      cell: cellResult,
      cells: notebook.cells.length,
    });
    previousFailed = cellResult.status !== "ok";
    if (previousFailed) {
      fail({ cellIndex: index, cellId: cell.id, message: cellResult.message ?? "failed" });
      stopped = !options.keepGoing || !execution.kernelAlive;
    }
  }
}

/** The status and message of an executed cell (see the module comment). */
function judge(
  execution: Execution,
  where: string,
  timeoutSeconds: number,
  base: Pick<CellResult, "index" | "id">,
): CellResult {
  const cell = {
    ...base,
    seconds: execution.seconds,
    executionCount: execution.executionCount,
    outputs: execution.outputs,
  };
  if (execution.outcome === "timed-out") {
    const after = execution.kernelAlive
      ? "; the kernel was interrupted"
      : "; the kernel did not respond to an interrupt and was shut down";
    return {
      ...cell,
      status: "timed-out",
      message: `${where} timed out after ${timeoutSeconds} s${after}`,
    };
  }
  if (execution.outcome === "kernel-died" || execution.reply === null) {
    return { ...cell, status: "kernel-died", message: `kernel died while running ${where}` };
  }
  const problem = cellFailure(execution.outputs, execution.reply);
  return problem === null
    ? { ...cell, status: "ok" }
    : { ...cell, status: "failed", message: `${where} failed: ${problem}` };
}

function missingKernelMessage(name: string, available: readonly string[]): string {
  return (
    `the Jupyter server has no kernel named "${name}" (it has: ${available.join(", ") || "none"}); ` +
    `start Jupyter with JUPYTER_PATH set to the course folder (as \`npm start\` does), ` +
    `or install the kernel with \`npm run kernel:install\``
  );
}

/** A copy of the notebook with every code cell's outputs and execution count cleared. */
function cleared(notebook: Notebook): Notebook {
  const copy = structuredClone(notebook);
  for (const cell of copy.cells) {
    if (cell.cell_type !== "code") continue;
    cell.outputs = [];
    cell.execution_count = null;
  }
  return copy;
}

/** summary.json: the report without outputs. */
function summaryOf(report: RunReport): unknown {
  return {
    ok: report.ok,
    seconds: round(report.seconds),
    server: report.server,
    notebooks: report.notebooks.map((nb) => ({
      path: nb.path,
      executed:
        nb.executedPath === null || report.outDir === null
          ? null
          : path.relative(report.outDir, nb.executedPath),
      status: nb.status,
      seconds: round(nb.seconds),
      kernel: nb.kernelName,
      failure: nb.failure,
      failures: nb.failures,
      checks: nb.checks,
      cells: nb.cells.map(({ index, id, status, message, seconds, executionCount }) => ({
        index,
        id,
        status,
        message,
        seconds: round(seconds),
        executionCount,
      })),
    })),
  };
}

function round(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

function writeFile(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
