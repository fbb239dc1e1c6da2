// `npm start [-- options]`: opens the course in Jupyter.
//
// 1. builds lib if it is not built yet;
// 2. finds a Jupyter front end in the discovery order of jupyter.ts: this folder's
//    `.venv/bin/jupyter-lab`, `jupyter-lab` on PATH (JupyterLab 4, e.g. from the conda env of
//    environment.yml), then the classic Notebook (`jupyter-notebook` on PATH);
// 3. when there is none, gets one and says so: a `.venv` with JupyterLab 4 + plotly through pip,
//    else Debian/Ubuntu's packages through apt-get, else explains the options;
// 4. starts it on 127.0.0.1 with a random token, the course folder as its root and JUPYTER_PATH
//    pointing at this folder (so the `mamba-ts` kernelspec in kernels/ is found), prints the URL
//    of the welcome notebook and opens it in the browser. Ctrl-C stops the server and its kernels.
//
// Once the server answers, exactly one line of this form is printed (tools may parse it):
//   mamba-ts: JupyterLab is running at http://127.0.0.1:<port>/lab/tree/notebooks/00-welcome.ipynb?token=<hex>
//   mamba-ts: Jupyter Notebook is running at http://127.0.0.1:<port>/notebooks/notebooks/00-welcome.ipynb?token=<hex>
// i.e. /^mamba-ts: (JupyterLab|Jupyter Notebook) is running at (http:\/\/\S+)$/m
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SetupError, parseOptions, runMain, say, warn } from "./cli";
import { GL_MISSING_MESSAGE, ensureCourseReady, glModuleLoads } from "./course";
import {
  KERNEL_NAME,
  REPO_KERNELSPEC,
  ROOT,
  VENV,
  jupyterCandidates,
  programVersion,
  venvBin,
  waitForStatus,
} from "./jupyter";
import {
  capture,
  findOnPath,
  freePort,
  isExecutable,
  killGroup,
  prependPath,
  runVisible,
} from "./process";

const ROUTES = ["auto", "lab", "notebook", "pip", "apt"] as const;
type Route = (typeof ROUTES)[number];
const WELCOME = "notebooks/00-welcome.ipynb";
const DEFAULT_PORT = 8888;
const PIP_PACKAGES = ["jupyterlab>=4,<5", "plotly>=5"];
const APT_PACKAGES = ["jupyter-notebook", "jupyter-server", "jupyter-client"];
const READY_TIMEOUT_MS = 120_000;

const USAGE = `Usage: npm start [-- options]

Starts Jupyter on this course (JupyterLab 4 when available, else the classic Notebook) and opens
${WELCOME}.

Options:
  --jupyter=<route>  which Jupyter to use (default: auto; also env MAMBA_TS_JUPYTER):
                       auto      .venv/bin/jupyter-lab, jupyter-lab on PATH, jupyter-notebook on
                                 PATH; if none: pip, then apt
                       lab       JupyterLab (.venv's, else the one on PATH)
                       notebook  Jupyter Notebook on PATH (jupyter-notebook: the classic 6.x, or 7)
                       pip       JupyterLab 4 + plotly in ./.venv (created or reused)
                       apt       Debian/Ubuntu's jupyter-notebook (installed with apt-get if needed)
  --no-browser       only print the URL (also env MAMBA_TS_NO_BROWSER=1)
  --port=<n>         listen on this port (default ${DEFAULT_PORT} when free, else any free port)
  --help             show this help
Python for the pip route: python3 on PATH, or env MAMBA_TS_PYTHON=/path/to/python; the venv is
./.venv, or env MAMBA_TS_VENV=/path/to/venv.`;

const INSTALL_OPTIONS = `Ways to get Jupyter, then run \`npm start\` again:
  conda/mamba:    conda env create -f environment.yml && conda activate mamba-ts
  pip (Python >= 3.9 with venv):
                  python3 -m venv .venv && .venv/bin/pip install "jupyterlab>=4,<5" plotly
  Debian/Ubuntu:  sudo apt-get install jupyter-notebook jupyter-server jupyter-client
Or use your own Jupyter: \`npm run kernel:install\`, then open ${WELCOME} in it.`;

// ---------------------------------------------------------------------------------------------
// Front ends

/** A front end found and runnable, or why not. */
type FrontEnd =
  | {
      bin: string;
      origin: string;
      version: Version;
      app: "JupyterLab" | "Jupyter Notebook";
      server: "ServerApp" | "NotebookApp";
      filePrefix: string;
      folderPrefix: string;
      missing?: undefined;
    }
  | { bin?: undefined; missing: string };

type Found = Extract<FrontEnd, { bin: string }>;
type Version = { text: string; major: number; minor: number };

/**
 * A front end we can launch: `app` is what the learner sees ("JupyterLab" / "Jupyter Notebook"),
 * `server` says which option names it takes ("ServerApp": jupyter_server, i.e. JupyterLab 3/4 and
 * Notebook 7; "NotebookApp": the classic Notebook <= 6), `filePrefix` / `folderPrefix` are the URL
 * paths under which it opens a notebook / a folder.
 */
async function describeFrontEnd(
  bin: string | null,
  kind: "lab" | "notebook",
  origin: string,
): Promise<FrontEnd> {
  if (!bin || !isExecutable(bin)) return { missing: `${origin}: not found` };
  const version = await programVersion(bin);
  if (!version) return { missing: `${origin}: ${bin} does not run (\`${bin} --version\` failed)` };
  if (kind === "lab") {
    if (version.major < 3) {
      return {
        missing: `${origin}: ${bin} is JupyterLab ${version.text}; JupyterLab >= 3 is needed`,
      };
    }
    return {
      bin,
      origin,
      version,
      app: "JupyterLab",
      server: "ServerApp",
      filePrefix: "/lab/tree",
      folderPrefix: "/lab/tree",
    };
  }
  return {
    bin,
    origin,
    version,
    app: "Jupyter Notebook",
    server: version.major >= 7 ? "ServerApp" : "NotebookApp",
    filePrefix: "/notebooks",
    folderPrefix: "/tree",
  };
}

const venvLab = () => path.join(venvBin(VENV), "jupyter-lab");

/**
 * JupyterLab runs JavaScript files of its own with node (e.g. `jupyter labextension list` runs
 * jupyter_builder's yarn.js). Inside this folder node would take them for ES modules, because the
 * course's package.json says "type": "module"; a package.json at the venv's top stops that.
 */
function markVenvCommonJS() {
  const file = path.join(VENV, "package.json");
  if (!existsSync(VENV) || existsSync(file)) return;
  const pkg = {
    description:
      "A Python virtual environment, not an npm package: its JavaScript files are CommonJS",
    private: true,
    type: "commonjs",
  };
  try {
    writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  } catch {
    // read-only venv: only `jupyter labextension list` and friends suffer
  }
}
const venvPython = () =>
  path.join(venvBin(VENV), process.platform === "win32" ? "python.exe" : "python");

/** Tries the given lookups in order; returns the first front end found, else throws / returns null. */
async function firstFound(
  lookups: (() => Promise<FrontEnd>)[],
  tried: string[],
): Promise<Found | null> {
  for (const lookup of lookups) {
    const fe = await lookup();
    if (fe.missing === undefined) return fe;
    tried.push(fe.missing);
  }
  return null;
}

const lookVenvLab = () => describeFrontEnd(venvLab(), "lab", ".venv/bin/jupyter-lab");

/** Picks (and if needed installs) the front end for `route`. */
async function chooseFrontEnd(route: Route): Promise<Found> {
  const tried: string[] = [];
  if (route === "lab" || route === "notebook" || route === "auto") {
    const candidates = jupyterCandidates().filter(
      (c) => c.kind !== "jupyter" && (route === "auto" || c.kind === route),
    );
    const lookups = candidates.map(
      (c) => () => describeFrontEnd(c.program, c.kind as "lab" | "notebook", c.origin),
    );
    const fe = await firstFound(lookups, tried);
    if (fe) return fe;
  }
  if (route === "lab" || route === "notebook") {
    throw new SetupError(
      `--jupyter=${route}: no ${route === "lab" ? "JupyterLab" : "classic Notebook"} found ` +
        `(${tried.join("; ")}).\n${INSTALL_OPTIONS}\nOr let this command install one: npm start -- --jupyter=pip`,
    );
  }
  if (route === "auto") say("no Jupyter found (" + tried.join("; ") + ")");
  if (route === "pip" || route === "auto") {
    try {
      return await pipRoute();
    } catch (err) {
      if (route === "pip" || !(err instanceof SetupError)) throw err;
      tried.push(`pip: ${err.message}`);
      say(`the pip route did not work: ${err.message}`);
    }
  }
  if (route === "apt" || route === "auto") {
    try {
      return await aptRoute();
    } catch (err) {
      if (route === "apt" || !(err instanceof SetupError)) throw err;
      tried.push(`apt: ${err.message}`);
    }
  }
  throw new SetupError(
    `no Jupyter front end found, and none could be installed here.\n  ${tried.join("\n  ")}\n${INSTALL_OPTIONS}`,
  );
}

// ---------------------------------------------------------------------------------------------
// pip route: ./.venv with JupyterLab 4 and plotly (whose package holds JupyterLab's plotly renderer)

/** The Python that creates the venv: `{ exe, version }`, or a SetupError saying what is wrong. */
async function findPython(): Promise<{ exe: string; version: string; via: string }> {
  const given = process.env.MAMBA_TS_PYTHON;
  const candidates = given
    ? [given]
    : ["python3", "python"].map((n) => findOnPath(n)).filter((p): p is string => p !== null);
  if (candidates.length === 0) {
    throw new SetupError("no python3 on PATH (set MAMBA_TS_PYTHON=/path/to/python to choose one)");
  }
  const probe =
    "import sys, json\n" +
    "try:\n import venv, ensurepip; ok = True\nexcept ImportError:\n ok = False\n" +
    "print(json.dumps({'exe': sys.executable, 'version': list(sys.version_info[:3]), 'venv': ok}))";
  const problems: string[] = [];
  for (const py of candidates) {
    const r = await capture(py, ["-c", probe], { timeoutMs: 60_000 });
    let info: { exe: string; version: number[]; venv: boolean };
    try {
      info = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
    } catch {
      problems.push(`${py} does not run`);
      continue;
    }
    const v = info.version.join(".");
    if (info.version[0] < 3 || (info.version[0] === 3 && info.version[1] < 9)) {
      problems.push(`${py} is Python ${v}; JupyterLab 4 needs Python >= 3.9`);
    } else if (!info.venv) {
      problems.push(
        `${py} (Python ${v}) cannot create virtual environments (Debian/Ubuntu: apt-get install python3-venv)`,
      );
    } else {
      return { exe: info.exe, version: v, via: py };
    }
  }
  throw new SetupError(problems.join("; "));
}

/** True when .venv already holds JupyterLab 4 and plotly. */
async function venvComplete() {
  if (!isExecutable(venvLab()) || !isExecutable(venvPython())) return false;
  const r = await capture(
    venvPython(),
    ["-c", "import jupyterlab, plotly; print(jupyterlab.__version__)"],
    { timeoutMs: 60_000 },
  );
  return r.code === 0 && /^4\./.test(r.stdout.trim());
}

/**
 * Serialises installs into .venv between concurrent `npm start` runs on one machine (a lock folder
 * in the temp dir, keyed by the venv folder; a lock left by a dead process is taken over).
 */
async function withVenvLock<T>(fn: () => Promise<T>): Promise<T> {
  const key = createHash("sha256").update(VENV).digest("hex").slice(0, 12);
  const lock = path.join(os.tmpdir(), `mamba-ts-venv-${key}.lock`);
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(path.join(lock, "pid"), "utf8"));
      } catch {
        // being written right now, or left empty by a crash: checked again below
      }
      if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new SetupError(
          `another \`npm start\` has been installing into .venv for 15 min (lock ${lock})`,
        );
      }
      if (!announced) say("another `npm start` is installing into .venv: waiting for it");
      announced = true;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function pipRoute(): Promise<Found> {
  return withVenvLock(async () => {
    const rel = path.relative(process.cwd(), VENV) || ".venv";
    if (await venvComplete()) {
      say(`reusing ${rel} (JupyterLab 4 and plotly already installed)`);
    } else {
      const venvWorks =
        isExecutable(venvPython()) &&
        (await capture(venvPython(), ["-c", "import sys"], { timeoutMs: 60_000 })).code === 0;
      if (!venvWorks) {
        const python = await findPython();
        say(
          `getting JupyterLab 4 through pip: creating the virtual environment ${rel} with ` +
            `Python ${python.version} (${python.exe})`,
        );
        // Re-create a broken venv (e.g. its Python was removed), but never wipe a folder that is
        // not a venv.
        const isVenv = existsSync(path.join(VENV, "pyvenv.cfg"));
        if (!isVenv && existsSync(VENV) && readdirSync(VENV).length > 0) {
          throw new SetupError(`${VENV} exists and is not a Python virtual environment`);
        }
        const args = ["-m", "venv", ...(isVenv ? ["--clear"] : []), VENV];
        if ((await runVisible(python.exe, args)) !== 0) {
          throw new SetupError(`\`${python.exe} -m venv ${VENV}\` failed`);
        }
      }
      const pipArgs = ["-m", "pip", "install", "--retries", "0", "--timeout", "3", ...PIP_PACKAGES];
      const shown = pipArgs.map((a) => (/[<>,]/.test(a) ? `"${a}"` : a)).join(" ");
      say(
        `installing JupyterLab 4 and plotly: ${path.relative(process.cwd(), venvPython())} ${shown}`,
      );
      say("(plotly brings JupyterLab's plotly renderer; this takes a minute or so, once)");
      const code = await runVisible(venvPython(), pipArgs);
      if (code !== 0 || !(await venvComplete())) {
        throw new SetupError(
          `pip could not install ${PIP_PACKAGES.join(" ")} into ${rel} (no package index reachable?)`,
        );
      }
      say(`installed JupyterLab 4 into ${rel}`);
    }
    const fe = await lookVenvLab();
    if (fe.missing !== undefined) throw new SetupError(fe.missing);
    return fe;
  });
}

// ---------------------------------------------------------------------------------------------
// apt route: Debian/Ubuntu's classic Notebook

async function aptRoute(): Promise<Found> {
  const existing = await describeFrontEnd(
    "/usr/bin/jupyter-notebook",
    "notebook",
    "/usr/bin/jupyter-notebook",
  );
  if (existing.missing === undefined) {
    say(`Debian's classic Notebook is already installed (${existing.bin})`);
    return existing;
  }
  if (process.platform !== "linux" || !existsSync("/etc/debian_version")) {
    throw new SetupError("not a Debian/Ubuntu system (no /etc/debian_version)");
  }
  const aptGet = findOnPath("apt-get");
  if (!aptGet) throw new SetupError("apt-get is not on PATH");
  let prefix: string[] = [];
  if (process.getuid?.() !== 0) {
    const sudo = findOnPath("sudo");
    const ok = sudo && (await capture(sudo, ["-n", "true"], { timeoutMs: 30_000 })).code === 0;
    if (!ok) {
      throw new SetupError(
        `installing packages needs root: run \`sudo apt-get install ${APT_PACKAGES.join(" ")}\` yourself`,
      );
    }
    prefix = [sudo, "-n"];
  }
  const run = (args: string[]) =>
    prefix.length
      ? runVisible(prefix[0], [...prefix.slice(1), aptGet, ...args])
      : runVisible(aptGet, args, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  const who = prefix.length ? "through sudo" : "as root";
  say(
    `getting the classic Notebook from Debian: apt-get update, then apt-get install ${APT_PACKAGES.join(" ")} (${who})`,
  );
  if ((await run(["update"])) !== 0) warn("apt-get update failed; trying the install anyway");
  if ((await run(["install", "-y", ...APT_PACKAGES])) !== 0) {
    throw new SetupError(`apt-get install ${APT_PACKAGES.join(" ")} failed`);
  }
  const fe = await describeFrontEnd(
    "/usr/bin/jupyter-notebook",
    "notebook",
    "/usr/bin/jupyter-notebook",
  );
  if (fe.missing !== undefined) throw new SetupError(fe.missing);
  return fe;
}

// ---------------------------------------------------------------------------------------------
// Launch

/** Command-line arguments of the server (the token travels in the environment, not in `ps`). */
function serverArgs(
  fe: Found,
  port: number,
  openBrowser: boolean,
  welcomeExists: boolean,
): string[] {
  const app = fe.server;
  const args = [
    `--${app}.ip=127.0.0.1`,
    `--${app}.port=${port}`,
    `--${app}.port_retries=0`,
    app === "ServerApp" ? `--ServerApp.root_dir=${ROOT}` : `--NotebookApp.notebook_dir=${ROOT}`,
    `--${app}.open_browser=${openBrowser ? "True" : "False"}`,
  ];
  // Jupyter refuses to run as root unless told to (containers often run as root).
  if (process.getuid?.() === 0) args.push(`--${app}.allow_root=True`);
  // A file argument makes the server open that file in the browser (the classic Notebook opens the
  // browser for it even with open_browser=False, so pass it only when a browser is wanted).
  if (openBrowser && welcomeExists) args.push(path.join(ROOT, WELCOME));
  return args;
}

/** Warns when the JupyterLab to start has no plotly renderer (plots then use the HTML fallback). */
async function checkPlotlyRenderer(fe: Found): Promise<void> {
  if (fe.app !== "JupyterLab") return;
  if (fe.bin === venvLab()) {
    const ext = path.join(VENV, "share", "jupyter", "labextensions", "jupyterlab-plotly");
    if (!existsSync(path.join(ext, "package.json"))) {
      warn(
        "the .venv JupyterLab has no plotly renderer: plots fall back to plain HTML. " +
          "`npm start -- --jupyter=pip` installs it.",
      );
    }
    return;
  }
  const jupyter = path.join(path.dirname(fe.bin), "jupyter");
  if (!isExecutable(jupyter)) return;
  // Where that Jupyter looks for data (labextensions/ among it); cheaper than `labextension list`.
  const r = await capture(jupyter, ["--paths", "--json"], { timeoutMs: 60_000 });
  let dataDirs: string[];
  try {
    dataDirs = JSON.parse(r.stdout).data;
  } catch {
    return;
  }
  const found = dataDirs.some((dir: string) =>
    existsSync(path.join(dir, "labextensions", "jupyterlab-plotly", "package.json")),
  );
  if (!found) {
    warn(
      "this JupyterLab has no plotly renderer: plots fall back to plain HTML. For the native one, " +
        "install the `plotly` Python package into its environment (conda install -c conda-forge plotly, " +
        "or pip install plotly), or use `npm start -- --jupyter=pip`.",
    );
  }
}

function launch(
  fe: Found,
  port: number,
  token: string,
  openBrowser: boolean,
  welcomeExists: boolean,
): ChildProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // Our kernelspec (kernels/mamba-ts) first; whatever the learner had stays searchable after it.
    JUPYTER_PATH: prependPath(ROOT, process.env.JUPYTER_PATH),
    JUPYTER_TOKEN: token,
    // The kernelspec runs `node`: make it the node running this command.
    PATH: prependPath(path.dirname(process.execPath), process.env.PATH),
  };
  delete env.JUPYTER_TOKEN_FILE;
  // Own process group (POSIX): the terminal's Ctrl-C reaches only us, and we stop the server once,
  // with SIGTERM, which shuts its kernels down cleanly; stdin is not a terminal, so it never asks
  // "Shutdown this server (y/[n])?".
  return spawn(fe.bin, serverArgs(fe, port, openBrowser, welcomeExists), {
    cwd: ROOT,
    env,
    stdio: ["ignore", "inherit", "inherit"],
    detached: process.platform !== "win32",
  });
}

async function main(): Promise<number> {
  const opts = parseOptions(
    process.argv.slice(2),
    {
      jupyter: { type: "string" },
      "no-browser": { type: "boolean" },
      port: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    USAGE,
  );
  if (opts.help) {
    console.log(USAGE);
    return 0;
  }
  // Options must follow `--` (`npm start -- --jupyter=pip`): npm keeps the ones before it to itself.
  const route = (opts.jupyter ?? process.env.MAMBA_TS_JUPYTER ?? "auto") as Route;
  if (!ROUTES.includes(route)) {
    throw new SetupError(`--jupyter=${route}: expected one of ${ROUTES.join(", ")}\n\n${USAGE}`, 2);
  }
  let openBrowser = !(
    opts["no-browser"] || /^(1|true|yes)$/i.test(process.env.MAMBA_TS_NO_BROWSER ?? "")
  );
  let port = DEFAULT_PORT;
  if (opts.port !== undefined) {
    port = Number(opts.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new SetupError(`--port=${opts.port}: expected a port number between 1 and 65535`, 2);
    }
  }

  await ensureCourseReady();
  if (!glModuleLoads()) warn(GL_MISSING_MESSAGE);
  if (!existsSync(REPO_KERNELSPEC)) {
    throw new SetupError(
      `the course kernelspec ${path.relative(ROOT, REPO_KERNELSPEC)} is missing`,
    );
  }
  const fe = await chooseFrontEnd(route);
  say(`using ${fe.app} ${fe.version.text} (${fe.bin})`);
  if (fe.bin === venvLab()) markVenvCommonJS();
  if (process.getuid?.() === 0) say("running as root: starting Jupyter with allow_root");
  await checkPlotlyRenderer(fe);

  if (
    openBrowser &&
    process.platform === "linux" &&
    !process.env.DISPLAY &&
    !process.env.WAYLAND_DISPLAY &&
    !process.env.BROWSER
  ) {
    say("no graphical display here: not opening a browser (open the URL below yourself)");
    openBrowser = false;
  }
  const welcomeExists = existsSync(path.join(ROOT, WELCOME));
  if (!welcomeExists) warn(`${WELCOME} does not exist yet: opening the notebooks folder instead`);
  const target = welcomeExists ? WELCOME : "notebooks";
  const targetPrefix = welcomeExists ? fe.filePrefix : fe.folderPrefix;
  const token = randomBytes(24).toString("hex");

  // The port is checked free just before the server binds it; should another program take it in
  // between, the server exits at once (port_retries=0) and we try another port.
  let child: ChildProcess;
  let base: string;
  for (let attempt = 0; ; attempt++) {
    const chosen = opts.port !== undefined ? port : await freePort(attempt === 0 ? port : 0);
    if (chosen === null) throw new SetupError(`no free port on 127.0.0.1`);
    if (opts.port !== undefined && (await freePort(port)) !== port) {
      throw new SetupError(`--port=${port}: that port is already in use on 127.0.0.1`);
    }
    base = `http://127.0.0.1:${chosen}/`;
    say(`starting ${fe.app} on ${base} (root: ${ROOT}, JUPYTER_PATH starts with ${ROOT})`);
    child = launch(fe, chosen, token, openBrowser, welcomeExists);
    const stopper = installSignalForwarding(child);
    const state = await waitForStatus(base, token, child, { timeoutMs: READY_TIMEOUT_MS });
    if ("ready" in state) {
      port = chosen;
      const url = `${base}${targetPrefix.replace(/^\//, "")}/${target}?token=${token}`;
      say(`${fe.app} is running at ${url}`);
      say(
        `kernel: "${KERNEL_NAME}" (kernels/${KERNEL_NAME}); press Ctrl-C to stop the server` +
          (openBrowser ? "" : "; open the URL above in your browser"),
      );
      return await stopper.exited;
    }
    if ("timedOut" in state) {
      stopper.stop();
      await stopper.exited;
      throw new SetupError(
        state.lastStatus === 403 || state.lastStatus === 401
          ? `${fe.app} rejects the token we gave it: a password or token in your Jupyter config overrides it`
          : `${fe.app} did not answer on ${base} within ${READY_TIMEOUT_MS / 1000} s`,
      );
    }
    const code = await stopper.exited;
    if (stopper.stopping) return 0;
    if (attempt < 2 && opts.port === undefined && (await freePort(chosen)) !== chosen) {
      say(`port ${chosen} was taken meanwhile: trying another one`);
      continue;
    }
    throw new SetupError(
      `${fe.app} exited (status ${code}) before it was ready: see its messages above`,
    );
  }
}

/** The server's stopper: see {@link installSignalForwarding}. */
interface SignalForwarding {
  /** True once we began stopping the server. */
  stopping: boolean;
  /** Stops the server (SIGTERM to its group, SIGKILL after 20 s). */
  stop: () => void;
  /** Our exit status, once the server is gone. */
  exited: Promise<number>;
}

/**
 * Forwards Ctrl-C / SIGTERM / SIGHUP to the server as one SIGTERM (a second Ctrl-C, a second or
 * more later, kills it and its kernels at once). `exited` resolves with our exit status once the
 * server is gone: 0 when we stopped it, else its own status.
 */
function installSignalForwarding(child: ChildProcess): SignalForwarding {
  const state = { stopping: false, firstAt: 0 } as SignalForwarding & { firstAt: number };
  let killTimer: NodeJS.Timeout | null = null;
  const stop = (signal: NodeJS.Signals = "SIGTERM") => {
    const now = Date.now();
    if (!state.stopping) {
      state.stopping = true;
      state.firstAt = now;
      say("stopping Jupyter (and its kernels)...");
      killGroup(child, "SIGTERM");
      killTimer = setTimeout(() => killGroup(child, "SIGKILL"), 20_000);
      killTimer.unref();
    } else if (now - state.firstAt > 1000 && signal === "SIGINT") {
      // The terminal and npm may both deliver one Ctrl-C: only a later one means "now".
      say("killing Jupyter");
      killGroup(child, "SIGKILL");
    }
  };
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((sig) => {
    const h = () => stop(sig);
    process.on(sig, h);
    return [sig, h] as const;
  });
  state.stop = () => stop();
  // Killed parent (e.g. `npm start` ended with a signal that its shell did not pass on to us):
  // stop the server rather than leave it running unseen.
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) stop();
  }, 1000);
  watch.unref();
  state.exited = new Promise<number>((resolve) => {
    child.on("exit", (code, signal) => {
      if (killTimer) clearTimeout(killTimer);
      clearInterval(watch);
      // Anything the server left behind in its group (a kernel that ignored the shutdown) goes too.
      killGroup(child, "SIGKILL");
      for (const [sig, h] of handlers) process.off(sig, h);
      if (state.stopping) {
        say("Jupyter stopped");
        resolve(0);
      } else {
        resolve(code ?? (signal ? 1 : 0));
      }
    });
  });
  return state;
}

void runMain(main);
