/**
 * Running programs and managing processes, for the course's commands: capturing or showing a
 * program's output (through zx), finding programs on PATH, free ports, and signalling process
 * groups and their descendants (a Jupyter server starts its kernels in sessions of their own).
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export const isWindows = process.platform === "win32";

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

/** `JUPYTER_PATH` (or PATH) with `dir` first, keeping whatever the learner already had after it. */
export function prependPath(dir: string, existing: string | undefined): string {
  return existing ? `${dir}${path.delimiter}${existing}` : dir;
}

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
