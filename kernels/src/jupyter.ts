/**
 * Finding and talking to Jupyter, shared by `npm start` (start.ts), `npm run kernel:install`
 * (install.ts), the notebook runner (runner/server.ts) and the tests: where the course lives,
 * which Jupyter to use, and waiting for a server's `/api/status`.
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
import type { ChildProcess } from "node:child_process";
import * as path from "node:path";
import { capture, findOnPath, isExecutable, isWindows } from "./process";

/** The course's root folder (this file lives in `<root>/kernels/{src,dist}/`). */
export const ROOT = path.resolve(__dirname, "..", "..");

/** Name and display name of the course's kernel. */
export const KERNEL_NAME = "mamba-ts";
export const KERNEL_DISPLAY_NAME = "TypeScript (mamba-ts)";

/** The repository's own kernelspec, found by Jupyter through `JUPYTER_PATH=<root>`. */
export const REPO_KERNELSPEC = path.join(ROOT, "kernels", KERNEL_NAME, "kernel.json");

/** The tslab launcher the kernel runs. */
export const TSLAB = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");

/** The folder of a Python virtual environment that holds its programs. */
export function venvBin(venv: string): string {
  return path.join(venv, isWindows ? "Scripts" : "bin");
}

/**
 * The course's own virtual environment, created by `npm start` when no Jupyter is found:
 * `<root>/.venv`, or the folder named by env MAMBA_TS_VENV.
 */
function courseVenv(root: string = ROOT, env: NodeJS.ProcessEnv = process.env): string {
  return env.MAMBA_TS_VENV ? path.resolve(env.MAMBA_TS_VENV) : path.join(root, ".venv");
}

/** {@link courseVenv} of this checkout. */
export const VENV = courseVenv();

/** A program name with the platform's executable suffix. */
function exe(name: string): string {
  return isWindows ? `${name}.exe` : name;
}

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
const HOW_TO_GET_JUPYTER =
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
