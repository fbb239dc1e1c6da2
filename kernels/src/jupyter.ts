/**
 * The one place that knows how to find and drive Jupyter, shared by `npm start` (start.ts),
 * `npm run kernel:install` (install.ts), the notebook runner (runner/server.ts) and the tests:
 * where the course lives, which Jupyter to use, free ports, waiting for `/api/status`, killing
 * process groups, running programs (through zx) and talking to the learner.
 *
 * Discovery order (one order for every command, see {@link jupyterCandidates}):
 * 1. the course's own virtual environment (`<root>/.venv`, or env MAMBA_TS_VENV): its
 *    `jupyter-lab`, then its bare `jupyter`;
 * 2. `jupyter-lab` on PATH (JupyterLab 4, e.g. from the conda env of environment.yml);
 * 3. `jupyter-notebook` on PATH (the classic Notebook);
 * 4. `jupyter` on PATH.
 * `npm start` takes the first front end (`jupyter-lab`, `jupyter-notebook`); the runner and the
 * kernel install take the `jupyter` program of the first candidate that has one (a front end's
 * sibling, or a bare `jupyter`: enough for `jupyter server` and `jupyter kernelspec`).
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** The course's root folder (this file lives in `<root>/kernels/{src,dist}/`). */
export const ROOT = path.resolve(__dirname, "..", "..");

/** Name and display name of the course's kernel. */
export const KERNEL_NAME = "mamba-ts";
export const KERNEL_DISPLAY_NAME = "TypeScript (mamba-ts)";

/** The repository's own kernelspec, found by Jupyter through `JUPYTER_PATH=<root>`. */
export const REPO_KERNELSPEC = path.join(ROOT, "kernels", KERNEL_NAME, "kernel.json");

/** The tslab launcher the kernel runs. */
export const TSLAB = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");

const isWindows = process.platform === "win32";

/** Prints one line prefixed with `mamba-ts:` so the learner can tell our messages from Jupyter's. */
export function say(message: string): void {
  console.log(`mamba-ts: ${message}`);
}

/** Prints a warning line on stderr. */
export function warn(message: string): void {
  console.error(`mamba-ts: warning: ${message}`);
}

/** An error meant for the learner: printed as is, without a stack trace. */
export class SetupError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "SetupError";
  }
}

/**
 * Runs `main()` and turns a SetupError into a clear message and a non-zero exit status.
 * Any other error is a bug: it is printed with its stack.
 */
export async function runMain(main: () => Promise<number | void>): Promise<void> {
  try {
    const code = await main();
    process.exitCode = typeof code === "number" ? code : 0;
  } catch (err) {
    if (err instanceof SetupError) {
      console.error(`mamba-ts: error: ${err.message}`);
      process.exitCode = err.exitCode;
    } else {
      console.error(err);
      process.exitCode = 1;
    }
  }
}

/**
 * Parses options with node's parseArgs, reporting unknown options and stray arguments as a
 * SetupError that shows the usage text.
 */
export function parseOptions<O extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: O,
  usage: string,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new SetupError(`${(err as Error).message}\n\n${usage}`, 2);
  }
}

// ---------------------------------------------------------------------------------------------
// Programs

/** What {@link capture} collected. */
export interface Captured {
  /** Exit status; null when the program could not start or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Why there is no exit status (could not start, timed out). */
  error?: Error;
}

/** Options of {@link capture} and {@link runVisible}. */
export interface RunProgramOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the program after this long (capture only; default 120 s). */
  timeoutMs?: number;
}

/**
 * zx's `$`, with bash found even when PATH does not lead to it (zx looks bash up on PATH when it
 * loads; a learner's PATH may be odd, and the set-up tests run with a PATH that holds nothing).
 */
async function zx() {
  const { $, quote } = await import("zx");
  if (typeof $.shell !== "string") {
    const bash = ["/bin/bash", "/usr/bin/bash"].find(isExecutable);
    if (bash !== undefined) {
      // What zx's own useBash() sets, with bash's absolute path.
      $.shell = bash;
      $.prefix = "set -euo pipefail;";
      $.postfix = "";
      $.quote = quote;
    }
  }
  return $;
}

/**
 * Runs a program (through zx, every argument quoted) and collects its output. Never throws for a
 * non-zero exit: returns `{ code, stdout, stderr, error }`.
 */
export async function capture(
  command: string,
  args: readonly string[],
  { env, cwd, timeoutMs = 120_000 }: RunProgramOptions = {},
): Promise<Captured> {
  const $ = await zx();
  try {
    const out = await $({
      env: env ?? process.env,
      cwd,
      nothrow: true,
      quiet: true,
      timeout: timeoutMs,
      stdio: ["ignore", "pipe", "pipe"],
    })`${command} ${args}`;
    const result: Captured = { code: out.exitCode, stdout: out.stdout, stderr: out.stderr };
    if (out.exitCode === null) {
      result.error = new Error(
        out.signal === "SIGTERM"
          ? `timed out after ${timeoutMs / 1000} s`
          : out.signal
            ? `killed by ${out.signal}`
            : `could not run ${command}${out.stderr ? `: ${out.stderr.trim()}` : ""}`,
      );
    } else if (out.exitCode === 127 && !isExecutable(command) && !findOnPath(command)) {
      result.error = new Error(`${command}: no such program`);
    }
    return result;
  } catch (error) {
    return { code: null, stdout: "", stderr: "", error: error as Error };
  }
}

/**
 * Runs a program with its output shown to the learner (stdout and stderr inherited) and resolves
 * with its exit status (null when it could not start).
 */
export async function runVisible(
  command: string,
  args: readonly string[],
  { env, cwd }: RunProgramOptions = {},
): Promise<number | null> {
  const $ = await zx();
  try {
    const out = await $({
      env: env ?? process.env,
      cwd,
      nothrow: true,
      stdio: ["ignore", "inherit", "inherit"],
    })`${command} ${args}`;
    return out.exitCode;
  } catch {
    return null;
  }
}

/** True when `file` is an existing regular file we may execute. */
export function isExecutable(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    if (isWindows) return true;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Finds a program on PATH (like `which`); returns its absolute path or null. */
export function findOnPath(name: string, envPath: string = process.env.PATH ?? ""): string | null {
  const exts = isWindows ? (process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";") : [""];
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.resolve(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

/** The folder of a Python virtual environment that holds its programs. */
export function venvBin(venv: string): string {
  return path.join(venv, isWindows ? "Scripts" : "bin");
}

/**
 * The course's own virtual environment, created by `npm start` when no Jupyter is found:
 * `<root>/.venv`, or the folder named by env MAMBA_TS_VENV.
 */
export function courseVenv(root: string = ROOT, env: NodeJS.ProcessEnv = process.env): string {
  return env.MAMBA_TS_VENV ? path.resolve(env.MAMBA_TS_VENV) : path.join(root, ".venv");
}

/** {@link courseVenv} of this checkout. */
export const VENV = courseVenv();

/** A program name with the platform's executable suffix. */
function exe(name: string): string {
  return isWindows ? `${name}.exe` : name;
}

// ---------------------------------------------------------------------------------------------
// Finding Jupyter

/** One place where a Jupyter may be, in the discovery order (see the module comment). */
export interface JupyterCandidate {
  /** Where it was looked for, for messages, e.g. ".venv/bin/jupyter-lab", "jupyter-lab on PATH". */
  origin: string;
  /** What the program is: a front end, or the bare `jupyter` command. */
  kind: "lab" | "notebook" | "jupyter";
  /** Its absolute path, or null when it is not there. */
  program: string | null;
}

/** Every place of the discovery order, found or not (see the module comment). */
export function jupyterCandidates(
  root: string = ROOT,
  env: NodeJS.ProcessEnv = process.env,
): JupyterCandidate[] {
  const inVenv = (name: string) => {
    const file = path.join(venvBin(courseVenv(root, env)), exe(name));
    return isExecutable(file) ? file : null;
  };
  const onPath = (name: string) => findOnPath(name, env.PATH ?? "");
  return [
    { origin: ".venv/bin/jupyter-lab", kind: "lab", program: inVenv("jupyter-lab") },
    { origin: ".venv/bin/jupyter", kind: "jupyter", program: inVenv("jupyter") },
    { origin: "jupyter-lab on PATH", kind: "lab", program: onPath("jupyter-lab") },
    { origin: "jupyter-notebook on PATH", kind: "notebook", program: onPath("jupyter-notebook") },
    { origin: "jupyter on PATH", kind: "jupyter", program: onPath("jupyter") },
  ];
}

/** The `jupyter` program that belongs to a candidate (the one beside a front end), or null. */
export function jupyterProgramOf(candidate: JupyterCandidate): string | null {
  if (candidate.program === null) return null;
  if (candidate.kind === "jupyter") return candidate.program;
  const sibling = path.join(path.dirname(candidate.program), exe("jupyter"));
  return isExecutable(sibling) ? sibling : null;
}

/** How to get Jupyter, for error messages. */
export const HOW_TO_GET_JUPYTER =
  "Install Jupyter (e.g. `conda env create -f environment.yml`, or " +
  "`python3 -m venv .venv && .venv/bin/pip install jupyterlab`), or let `npm start` get one";

/**
 * The `jupyter` program of the first candidate in the discovery order that has one. Throws a
 * message that lists where it looked and says how to get Jupyter when there is none.
 */
export function findJupyter(root: string = ROOT, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = jupyterCandidates(root, env);
  for (const c of candidates) {
    const jupyter = jupyterProgramOf(c);
    if (jupyter !== null) return jupyter;
  }
  throw new Error(
    `Jupyter not found (looked for ${candidates.map((c) => c.origin).join(", ")}). ${HOW_TO_GET_JUPYTER}`,
  );
}

/**
 * The version a Jupyter program reports with `--version` (last line that looks like a version),
 * as `{ text, major, minor }`, or null when it does not run.
 */
export async function programVersion(
  program: string,
  env?: NodeJS.ProcessEnv,
): Promise<{ text: string; major: number; minor: number } | null> {
  const r = await capture(program, ["--version"], { env, timeoutMs: 60_000 });
  if (r.code !== 0) return null;
  const lines = r.stdout.trim().split(/\r?\n/).reverse();
  for (const line of lines) {
    const m = /(\d+)\.(\d+)(?:\.\d+)?\S*/.exec(line);
    if (m) return { text: m[0], major: Number(m[1]), minor: Number(m[2]) };
  }
  return null;
}

/** `JUPYTER_PATH` (or PATH) with `dir` first, keeping whatever the learner already had after it. */
export function prependPath(dir: string, existing: string | undefined): string {
  return existing ? `${dir}${path.delimiter}${existing}` : dir;
}

// ---------------------------------------------------------------------------------------------
// Ports, readiness, process groups

/**
 * A free TCP port on 127.0.0.1: `preferred` when it is free, else one the OS picks; null when
 * even that fails. With no `preferred`, always the OS's pick.
 */
export async function freePort(preferred = 0): Promise<number | null> {
  const tryPort = (port: number) =>
    new Promise<number | null>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(null));
      srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
        const address = srv.address();
        const got = typeof address === "object" && address !== null ? address.port : null;
        srv.close(() => resolve(got));
      });
    });
  const got = await tryPort(preferred);
  return got ?? (preferred === 0 ? null : tryPort(0));
}

/** What `GET <url>api/status` gave: an HTTP status, or why there was none. */
export interface StatusAnswer {
  ok: boolean;
  status?: number;
  statusText?: string;
  /** Why the request failed (no HTTP answer), e.g. "connection refused". */
  failure?: string;
}

/** One `GET <url>api/status` with the token. */
export async function fetchStatus(url: string, token: string): Promise<StatusAnswer> {
  try {
    const res = await fetch(new URL("api/status", url), {
      headers: { Authorization: `token ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return { ok: res.ok, status: res.status, statusText: res.statusText };
  } catch (err) {
    return { ok: false, failure: networkFailure(err) };
  }
}

/** A readable reason for a failed fetch (Node wraps the socket error in `cause`). */
function networkFailure(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return "no answer within 10 s";
  switch (e.cause?.code) {
    case "ECONNREFUSED":
      return "connection refused (is the server running, and is the port right?)";
    case "ENOTFOUND":
      return "host not found";
    case "ECONNRESET":
      return "connection reset";
  }
  if (e.cause?.message === "bad port")
    return "fetch refuses to connect to this port (a reserved port)";
  return e.cause?.message ?? e.message ?? String(err);
}

/** How {@link waitForStatus} ended. */
export type ReadyState =
  | { ready: true }
  | { exited: true }
  | { aborted: true }
  | { timedOut: true; lastStatus: number | null };

/**
 * Polls `/api/status` until the server answers 200 with the token, the child exits, `signal`
 * aborts or `timeoutMs` passes.
 */
export async function waitForStatus(
  url: string,
  token: string,
  child: ChildProcess,
  { timeoutMs = 120_000, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ReadyState> {
  const deadline = Date.now() + timeoutMs;
  let lastStatus: number | null = null;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  while (Date.now() < deadline) {
    if (signal?.aborted) return { aborted: true };
    if (exited()) return { exited: true };
    const answer = await fetchStatus(url, token);
    if (answer.ok) return { ready: true };
    if (answer.status !== undefined) lastStatus = answer.status;
    await new Promise((r) => setTimeout(r, 150));
  }
  return { timedOut: true, lastStatus };
}

/** Sends `signal` to the process group led by `pid` (falls back to the process alone). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    if (isWindows) throw new Error("no process groups");
    process.kill(-pid, signal);
  } catch {
    signalProcess(pid, signal);
  }
}

/** Sends `signal` to one process; a process already gone is no error. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Sends `signal` to the whole group of a child started with `detached: true`. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) signalGroup(child.pid, signal);
}

/**
 * The process ids below `pid` (e.g. the kernels of a Jupyter server, which Jupyter starts in
 * sessions of their own, so that signalling the server's group does not reach them). Empty where
 * `ps` is unavailable.
 */
export function descendants(pid: number): number[] {
  let table: string;
  try {
    table = execFileSync("ps", ["-A", "-o", "pid=,ppid="], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch {
    return [];
  }
  const children = new Map<number, number[]>();
  for (const line of table.split("\n")) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!Number.isInteger(child) || !Number.isInteger(parent)) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of children.get(queue.shift() as number) ?? []) {
      found.push(c);
      queue.push(c);
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The course itself

/** Whether gpu.js's optional `gl` module (the headlessgl backend) loads here. */
export function glModuleLoads(root: string = ROOT): boolean {
  try {
    require(require.resolve("gl", { paths: [root] }));
    return true;
  } catch {
    return false;
  }
}

/** What to tell a learner whose `gl` module does not load (lesson 08's headlessgl backend). */
export const GL_MISSING_MESSAGE =
  "gpu.js's headlessgl backend is unavailable: the optional `gl` module did not build or does " +
  "not load, so lesson 08 times only the cpu and webasm backends. To get it on Debian/Ubuntu: " +
  "`sudo apt-get install libxi-dev libglu1-mesa-dev libglew-dev pkg-config`, then `npm ci` " +
  "again; headlessgl also needs an X display (run under `xvfb-run -a` where there is none).";

/**
 * Builds lib and the tooling when they are missing (a fresh clone where `npm ci` did not run its
 * postinstall, or after a clean). Also checks that the npm dependencies are installed.
 */
export async function ensureCourseReady(): Promise<void> {
  if (!existsSync(TSLAB)) {
    throw new SetupError(
      `the kernel's tslab is missing (${path.relative(ROOT, TSLAB)}): run \`npm ci\` in ${ROOT} first`,
    );
  }
  if (existsSync(path.join(ROOT, "lib", "dist", "index.js"))) return;
  say("lib is not built yet: running `npm run build`");
  const npm = findOnPath("npm") ?? "npm";
  const code = await runVisible(npm, ["run", "build"], { cwd: ROOT });
  if (code !== 0 || !existsSync(path.join(ROOT, "lib", "dist", "index.js"))) {
    throw new SetupError("`npm run build` failed: fix the errors above, then run this again");
  }
}
