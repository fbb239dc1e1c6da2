// `npm run kernel:install [-- options]`: installs the course's TypeScript kernel into the learner's
// own Jupyter (JupyterLab, the classic Notebook, VS Code...), so the lessons and the learner's own
// notebooks can use it without `npm start`.
//
// The kernelspec it writes is the repository's own (kernels/mamba-ts/kernel.json) with ABSOLUTE
// paths (this node executable, this folder's kernel launcher), so it works from anywhere. Moved the
// folder or switched node versions? Run it again: it replaces the old kernelspec.
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SetupError, parseOptions, runMain, say, warn } from "./cli";
import { ensureCourseReady } from "./course";
import {
  KERNEL_DISPLAY_NAME,
  KERNEL_NAME,
  REPO_KERNELSPEC,
  ROOT,
  findJupyter,
  venvBin,
} from "./jupyter";
import { capture, isExecutable } from "./process";

const USAGE = `Usage: npm run kernel:install [-- options]

Installs the "${KERNEL_DISPLAY_NAME}" kernel into a Jupyter installation.

Options:
  --jupyter <path>   the \`jupyter\` program to install into (default: \`jupyter\` on PATH);
                     a folder holding it, or a sibling such as jupyter-lab, also works
  --user             install for the current user (the default)
  --sys-prefix       install into the Python environment of that jupyter (conda env, venv)
  --prefix <dir>     install into <dir>/share/jupyter/kernels
  --help             show this help`;

/**
 * Resolves `--jupyter` (a program, a sibling program, or a folder) to the `jupyter` program;
 * without it, the `jupyter` of jupyter.ts's discovery order (the course's .venv, then PATH).
 */
function resolveJupyter(given: string | undefined): string {
  const exe = process.platform === "win32" ? "jupyter.exe" : "jupyter";
  if (given === undefined) {
    try {
      return findJupyter();
    } catch (err) {
      throw new SetupError(
        `${(err as Error).message}.\n  Activate the environment that holds your Jupyter ` +
          "(e.g. `conda activate mamba-ts`), or name it: `npm run kernel:install -- --jupyter /path/to/jupyter`",
      );
    }
  }
  const abs = path.resolve(given);
  if (!existsSync(abs)) {
    throw new SetupError(`--jupyter ${given}: no such file or folder`);
  }
  let candidate = abs;
  if (statSync(abs).isDirectory()) {
    const inside = [path.join(abs, exe), path.join(venvBin(abs), exe)].find(isExecutable);
    if (!inside) {
      throw new SetupError(
        `--jupyter ${given}: the folder holds no \`jupyter\` program (looked for ${exe} and ${path.join(path.basename(venvBin(abs)), exe)})`,
      );
    }
    candidate = inside;
  } else if (/^jupyter-/.test(path.basename(abs))) {
    // jupyter-lab, jupyter-notebook...: the `jupyter` program sits beside it.
    candidate = path.join(path.dirname(abs), exe);
  }
  if (!isExecutable(candidate)) {
    throw new SetupError(`--jupyter ${given}: ${candidate} is not an executable program`);
  }
  return candidate;
}

/**
 * The kernelspec to install: the repository's own (kernels/mamba-ts/kernel.json) with every path
 * made absolute: `node` becomes this node executable, `{resource_dir}` the repository's kernelspec
 * folder. Jupyter copies the spec elsewhere, so relative paths would no longer lead back here.
 */
function kernelSpec(): KernelSpec {
  let spec: KernelSpec;
  try {
    spec = JSON.parse(readFileSync(REPO_KERNELSPEC, "utf8"));
  } catch (err) {
    throw new SetupError(
      `cannot read the course kernelspec ${REPO_KERNELSPEC}: ${(err as Error).message}`,
    );
  }
  if (!Array.isArray(spec.argv) || spec.argv.length === 0) {
    throw new SetupError(`${REPO_KERNELSPEC}: expected an "argv" list`);
  }
  const resourceDir = path.dirname(REPO_KERNELSPEC);
  const argv = spec.argv.map((arg: string, i: number) => {
    if (i === 0 && (arg === "node" || arg === "nodejs")) return process.execPath;
    if (typeof arg === "string" && arg.includes("{resource_dir}")) {
      return path.resolve(arg.split("{resource_dir}").join(resourceDir));
    }
    return arg;
  });
  for (const arg of argv) {
    if (path.isAbsolute(arg) && !existsSync(arg)) {
      throw new SetupError(`the kernel needs ${arg}, which does not exist (run \`npm ci\`?)`);
    }
  }
  return {
    ...spec,
    argv,
    display_name: spec.display_name ?? KERNEL_DISPLAY_NAME,
    metadata: { ...(spec.metadata ?? {}), "mamba-ts": { root: ROOT } },
  };
}

/** `jupyter kernelspec list --json`, parsed; throws a SetupError when that does not work. */
async function listKernelspecs(
  jupyter: string,
  env: NodeJS.ProcessEnv,
): Promise<Record<string, { resource_dir?: string }>> {
  const r = await capture(jupyter, ["kernelspec", "list", "--json"], { env, timeoutMs: 60_000 });
  if (r.code !== 0) {
    const why = r.error
      ? r.error.message
      : (r.stderr || r.stdout).trim().split("\n").slice(-3).join("\n  ");
    throw new SetupError(
      `\`${jupyter} kernelspec list\` failed (is jupyter_client installed there?):\n  ${why}`,
    );
  }
  try {
    return JSON.parse(r.stdout).kernelspecs ?? {};
  } catch {
    throw new SetupError(
      `\`${jupyter} kernelspec list --json\` printed something that is not JSON`,
    );
  }
}

/** The fields of a kernelspec this command reads or writes. */
interface KernelSpec {
  argv: string[];
  display_name?: string;
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

async function main(): Promise<number> {
  const opts = parseOptions(
    process.argv.slice(2),
    {
      jupyter: { type: "string" },
      user: { type: "boolean" },
      "sys-prefix": { type: "boolean" },
      prefix: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    USAGE,
  );
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  const where = [
    opts.user && "--user",
    opts["sys-prefix"] && "--sys-prefix",
    opts.prefix !== undefined && "--prefix",
  ].filter(Boolean);
  if (where.length > 1) {
    throw new SetupError(
      `choose one of --user, --sys-prefix, --prefix (got ${where.join(", ")})\n\n${USAGE}`,
      2,
    );
  }
  if (opts.prefix === "") throw new SetupError("--prefix: expected a folder", 2);
  const target = opts["sys-prefix"]
    ? ["--sys-prefix"]
    : opts.prefix !== undefined
      ? ["--prefix", path.resolve(opts.prefix)]
      : ["--user"];

  const jupyter = resolveJupyter(opts.jupyter);
  await ensureCourseReady();

  const spec = kernelSpec();
  const staging = mkdtempSync(path.join(os.tmpdir(), "mamba-ts-kernelspec-"));
  try {
    const dir = path.join(staging, KERNEL_NAME);
    // Logos and any other resources of the repository's kernelspec travel along.
    cpSync(path.join(ROOT, "kernels", KERNEL_NAME), dir, { recursive: true });
    writeFileSync(path.join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
    say(`installing the "${KERNEL_DISPLAY_NAME}" kernel into ${jupyter} (${target.join(" ")})`);
    const r = await capture(
      jupyter,
      ["kernelspec", "install", "--replace", "--name", KERNEL_NAME, ...target, dir],
      { timeoutMs: 60_000 },
    );
    if (r.code !== 0) {
      const why = r.error ? r.error.message : (r.stderr || r.stdout).trim();
      const perm = /Permission denied|Errno 13/.test(why)
        ? "\n  (no permission there: use --user, or a --prefix you own)"
        : "";
      throw new SetupError(
        `\`${jupyter} kernelspec install\` failed (is it Jupyter's \`jupyter\` program, with jupyter_client?):\n  ${why}${perm}`,
      );
    }
    const m = /Installed kernelspec \S+ in (.+)/.exec(r.stdout + r.stderr);
    const installedDir = m ? m[1].trim() : null;

    // Which spec does this Jupyter pick now? Another mamba-ts kernelspec earlier in its search
    // path (e.g. a JUPYTER_PATH entry) would shadow the one just written.
    const specs = await listKernelspecs(jupyter, process.env);
    const active = specs[KERNEL_NAME]?.resource_dir;
    say(`kernelspec written to ${installedDir ?? "(see the jupyter output above)"}`);
    say(`  runs: ${spec.argv.slice(0, 2).join(" ")}`);
    if (installedDir && active && path.resolve(active) !== path.resolve(installedDir)) {
      warn(
        `this Jupyter picks another "${KERNEL_NAME}" kernelspec first: ${active}\n` +
          "  (an earlier entry of its search path: JUPYTER_PATH, the user folder, then the environment). " +
          `Remove it (\`${jupyter} kernelspec remove ${KERNEL_NAME}\`) or install with the same option it used.`,
      );
    } else if (!active && opts.prefix !== undefined) {
      warn(
        `Jupyter does not search ${path.resolve(opts.prefix)} by default: add ` +
          `${path.join(path.resolve(opts.prefix), "share", "jupyter")} to JUPYTER_PATH.`,
      );
    }
    printHowToUse();
    return 0;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

function printHowToUse() {
  const lines = [
    "",
    `Select the kernel "${KERNEL_DISPLAY_NAME}":`,
    "  JupyterLab:        Launcher > Notebook > " +
      KERNEL_DISPLAY_NAME +
      ", or Kernel > Change Kernel...",
    "  classic Notebook:  New > " + KERNEL_DISPLAY_NAME + ", or Kernel > Change kernel",
    "  VS Code:           Select Kernel (top right) > Jupyter Kernel... > " + KERNEL_DISPLAY_NAME,
    "",
    "Notes:",
    "  - The front end sets the kernel's working directory (normally the notebook's folder), and",
    `    \`import ... from "@mamba-ts/lib"\` resolves from node_modules above it. Notebooks that import`,
    `    the course library must therefore live inside ${ROOT}, or in a project where you ran`,
    `    \`npm install ${path.join(ROOT, "lib")}\`.`,
    "  - Moved this folder, or changed node version? Run `npm run kernel:install` again.",
    `  - After changing lib, rebuild it (\`npm run build\`) and restart the kernel.`,
  ];
  console.log(lines.join("\n"));
}

void runMain(main);
