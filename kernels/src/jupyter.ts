// Helpers shared by the learner's set-up commands (`npm start`, `npm run kernel:install`):
// where the course lives, how to talk to the learner, how to run and find programs, and what a
// given Jupyter front end is.
import { spawn } from "node:child_process";
import { existsSync, statSync, accessSync, constants } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The course's root folder (this file lives in `<root>/kernels/`). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Name and display name of the course's kernel. */
export const KERNEL_NAME = "mamba-ts";
export const KERNEL_DISPLAY_NAME = "TypeScript (mamba-ts)";

/** The repository's own kernelspec, found by Jupyter through `JUPYTER_PATH=<root>`. */
export const REPO_KERNELSPEC = path.join(ROOT, "kernels", KERNEL_NAME, "kernel.json");

/** The tslab launcher the kernel runs. */
export const TSLAB = path.join(ROOT, "node_modules", "tslab", "bin", "tslab");

const isWindows = process.platform === "win32";

/** Prints one line prefixed with `mamba-ts:` so the learner can tell our messages from Jupyter's. */
export function say(message) {
  console.log(`mamba-ts: ${message}`);
}

/** Prints a warning line on stderr. */
export function warn(message) {
  console.error(`mamba-ts: warning: ${message}`);
}

/** An error meant for the learner: printed as is, without a stack trace. */
export class SetupError extends Error {
  constructor(message, exitCode = 1) {
    super(message);
    this.name = "SetupError";
    this.exitCode = exitCode;
  }
}

/**
 * Runs `main()` and turns a SetupError into a clear message and a non-zero exit status.
 * Any other error is a bug: it is printed with its stack.
 */
export async function runMain(main) {
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
 * The command-line arguments given to the script, whether it runs as `zx <script> ...args` (as the
 * package.json entries do) or `node <script> ...args`.
 */
export function scriptArgs(scriptUrl) {
  const script = fileURLToPath(scriptUrl);
  const at = process.argv.findIndex((a, i) => i > 0 && path.resolve(a) === script);
  return process.argv.slice(at >= 0 ? at + 1 : 2);
}

/**
 * Parses options with node's parseArgs, reporting unknown options and stray arguments as a
 * SetupError that shows the usage text.
 */
export function parseOptions(args, options, usage) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new SetupError(`${err.message}\n\n${usage}`, 2);
  }
}

/**
 * Runs a program without a shell and collects its output. Never throws for a non-zero exit:
 * returns `{ code, stdout, stderr, error }` (`error` when it could not start or timed out).
 */
export function capture(command, args, { env, cwd, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    let settled = false;
    let child;
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ stdout, stderr, ...result });
    };
    const timer = setTimeout(() => {
      child?.kill("SIGKILL");
      finish({ code: null, error: new Error(`timed out after ${timeoutMs / 1000} s`) });
    }, timeoutMs);
    try {
      child = spawn(command, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      finish({ code: null, error });
      return;
    }
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", (error) => finish({ code: null, error }));
    child.on("close", (code) => finish({ code }));
  });
}

/**
 * Runs a program with its output shown to the learner (stdout and stderr inherited) and resolves
 * with its exit status (null when it could not start).
 */
export function runVisible(command, args, { env, cwd } = {}) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { env, cwd, stdio: ["ignore", "inherit", "inherit"] });
    } catch {
      resolve(null);
      return;
    }
    child.on("error", () => resolve(null));
    child.on("close", (code) => resolve(code));
  });
}

/** True when `file` is an existing regular file we may execute. */
export function isExecutable(file) {
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
export function findOnPath(name, envPath = process.env.PATH ?? "") {
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
export function venvBin(venv) {
  return path.join(venv, isWindows ? "Scripts" : "bin");
}

/**
 * The course's own virtual environment, created by `npm start` when no Jupyter is found:
 * `<root>/.venv`, or the folder named by env MAMBA_TS_VENV.
 */
export const VENV = process.env.MAMBA_TS_VENV
  ? path.resolve(process.env.MAMBA_TS_VENV)
  : path.join(ROOT, ".venv");

/**
 * Builds lib when `lib/dist/index.js` is missing (a fresh clone where `npm ci` did not run its
 * postinstall, or after a clean). Also checks that the npm dependencies are installed.
 */
export async function ensureCourseReady() {
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

/**
 * The version a Jupyter program reports with `--version` (last line that looks like a version),
 * as `{ text, major, minor }`, or null when it does not run.
 */
export async function programVersion(program, env) {
  const r = await capture(program, ["--version"], { env, timeoutMs: 60_000 });
  if (r.code !== 0) return null;
  const lines = r.stdout.trim().split(/\r?\n/).reverse();
  for (const line of lines) {
    const m = /(\d+)\.(\d+)(?:\.\d+)?\S*/.exec(line);
    if (m) return { text: m[0], major: Number(m[1]), minor: Number(m[2]) };
  }
  return null;
}

/** `JUPYTER_PATH` with `dir` first, keeping whatever the learner already had after it. */
export function prependPath(dir, existing) {
  return existing ? `${dir}${path.delimiter}${existing}` : dir;
}
