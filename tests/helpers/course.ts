/**
 * The course server started the way a learner starts it (`npm start -- ...`), shared by the
 * set-up tests and the browser tests.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { ROOT } from "../../kernels/src/jupyter";
import { killGroup } from "../../kernels/src/process";

export { killGroup };

/** The line `npm start` prints once the server answers (documented in kernels/src/start.ts). */
const RUNNING = /^mamba-ts: (JupyterLab|Jupyter Notebook) is running at (http:\/\/\S+)$/m;

export interface Course {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the exit status, or with the signal's name when it was killed by one. */
  exited: Promise<number | string | null>;
  app: string;
  /** The printed URL (the welcome notebook, with the token). */
  url: URL;
  /** Server root URL (with base_url), ending in "/". */
  base: string;
  token: string;
  port: number;
}

/**
 * Starts `command args` in the repo, in its own process group, and waits for the "is running at"
 * line; rejects with the output when the line does not come within `timeoutMs` or the process
 * exits first.
 */
export function spawnCourse(
  command: string,
  args: string[],
  { timeoutMs = 120_000, env = {} as NodeJS.ProcessEnv } = {},
): Promise<Course> {
  const what = [path.basename(command), ...args].join(" ");
  const proc = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | string | null>((resolve) =>
    proc.on("exit", (code, signal) => resolve(code ?? signal)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(proc, "SIGKILL");
      reject(
        new Error(`${what} printed no "is running at" line within ${timeoutMs / 1000} s:\n${out}`),
      );
    }, timeoutMs);
    const poll = setInterval(() => {
      const m = RUNNING.exec(out);
      if (!m) return;
      clearInterval(poll);
      clearTimeout(timer);
      const url = new URL(m[2]);
      const cut = url.pathname.search(/\/(lab|notebooks|tree)(\/|$)/);
      resolve({
        proc,
        output: () => out,
        exited,
        app: m[1],
        url,
        base: `${url.origin}${url.pathname.slice(0, cut)}/`,
        token: url.searchParams.get("token") ?? "",
        port: Number(url.port),
      });
    }, 100);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      if (!RUNNING.test(out))
        reject(new Error(`${what} exited (${code}) before it was running:\n${out}`));
    });
  });
}
