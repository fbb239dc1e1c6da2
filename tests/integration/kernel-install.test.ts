/**
 * `npm run kernel:install` against the Debian Jupyter (jupyter_client 7, jupyter_core 4): real
 * processes, a throwaway Jupyter data folder, and real kernels started by jupyter_client from the
 * installed kernelspec.
 */
import { execFile, execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../lib/src/rng";

const ROOT = path.resolve(__dirname, "..", "..");
const JUPYTER = "/usr/bin/jupyter";
const PYTHON = "/usr/bin/python3";
const INSTALL = path.join(ROOT, "kernels", "dist", "install.js");

let tmp: string;
let dataDir: string;

/** Environment for every Jupyter and install run: our data folder, nothing else on JUPYTER_PATH. */
function jupyterEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_DATA_DIR: dataDir,
    JUPYTER_CONFIG_DIR: path.join(tmp, "config"),
    JUPYTER_RUNTIME_DIR: path.join(tmp, "runtime"),
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
    ...extra,
  };
  if (!("JUPYTER_PATH" in extra)) delete env.JUPYTER_PATH;
  return env;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return new Promise<Run>((resolve) => {
    execFile(
      cmd,
      args,
      { env: opts.env ?? jupyterEnv(), cwd: opts.cwd ?? ROOT, timeout: 90_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Runs kernels/dist/install.js (or the given copy of it) with node, as `npm run kernel:install` does. */
const install = (args: string[], script = INSTALL, env?: NodeJS.ProcessEnv) =>
  run(process.execPath, [script, ...args], { env });

interface Spec {
  resource_dir: string;
  spec: { argv: string[]; env: Record<string, string>; display_name: string; language: string };
}

function kernelspecs(env = jupyterEnv()): Record<string, Spec> {
  const out = execFileSync(JUPYTER, ["kernelspec", "list", "--json"], {
    env,
    encoding: "utf8",
    timeout: 60_000,
    stdio: ["ignore", "pipe", "ignore"],
  });
  return JSON.parse(out).kernelspecs;
}

const CELL_RUNNER = `
import json, sys
from jupyter_client.manager import start_new_kernel
name, cwd, code = sys.argv[1], sys.argv[2], sys.argv[3]
km, kc = start_new_kernel(kernel_name=name, cwd=cwd, startup_timeout=90)
outputs = []
def hook(msg):
    t, c = msg["msg_type"], msg["content"]
    if t == "stream":
        outputs.append([c["name"], c["text"]])
    elif t in ("execute_result", "display_data"):
        outputs.append(["result", c["data"].get("text/plain", "")])
    elif t == "error":
        outputs.append(["error", c["ename"] + ": " + c["evalue"]])
try:
    reply = kc.execute_interactive(code, timeout=90, output_hook=hook)
    status = reply["content"]["status"]
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
print("RESULT " + json.dumps({"status": status, "outputs": outputs}), flush=True)
`;

/** Starts the installed kernel with jupyter_client in `cwd`, runs one cell, shuts the kernel down. */
async function runCell(cwd: string, code: string, env = jupyterEnv()) {
  const r = await run(PYTHON, ["-c", CELL_RUNNER, "mamba-ts", cwd, code], { env });
  const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line) throw new Error(`cell runner failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  const res = JSON.parse(line.slice("RESULT ".length)) as {
    status: string;
    outputs: [string, string][];
  };
  const text = (kind: string) =>
    res.outputs
      .filter(([k]) => k === kind)
      .map(([, t]) => t)
      .join("");
  const stdout = text("stdout");
  // The cell's last value arrives as an execute_result (or, with stock tslab, as stdout text).
  const value = text("result") || stdout.trim().split("\n").pop() || "";
  // Errors arrive as `error` messages (or, with stock tslab, as stderr text).
  const errors = text("stderr") + text("error");
  return { status: res.status, stdout, value, errors };
}

/** What `import { Rng } ...; new Rng(1).int(10)` must print, from lib's source. */
const expectedInt = String(new Rng(1).int(10));
const CELL = `import { Rng } from "@mamba-ts/lib";\nconsole.log(process.cwd());\nnew Rng(1).int(10)`;

beforeAll(() => {
  tmp = realpathSync(mkdtempSync(path.join(os.tmpdir(), "mamba-ts-kinstall-")));
  dataDir = path.join(tmp, "data");
  mkdirSync(dataDir);
  if (!existsSync(path.join(ROOT, "lib", "dist", "index.js"))) {
    throw new Error("lib is not built: run `npm run build` first");
  }
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe("npm run kernel:install", () => {
  it("installs a kernelspec with absolute, existing paths into the user's Jupyter", async () => {
    const npm = await run("npm", ["run", "--silent", "kernel:install", "--", "--jupyter", JUPYTER]);
    expect(npm.stderr).not.toMatch(/error/i);
    expect(npm.code).toBe(0);
    const specs = kernelspecs();
    expect(Object.keys(specs)).toContain("mamba-ts");
    const installed = specs["mamba-ts"];
    expect(installed.resource_dir).toBe(path.join(dataDir, "kernels", "mamba-ts"));
    expect(npm.stdout).toContain(installed.resource_dir);
    expect(npm.stdout).toContain('"TypeScript (mamba-ts)"');
    expect(npm.stdout).toMatch(/VS Code/);

    // Same launcher as the repository's kernelspec, with every path made absolute.
    const repoSpec = JSON.parse(
      readFileSync(path.join(ROOT, "kernels", "mamba-ts", "kernel.json"), "utf8"),
    );
    const argv = installed.spec.argv;
    expect(argv.length).toBe(repoSpec.argv.length);
    expect(argv[0]).toBe(process.execPath);
    for (const [i, arg] of argv.entries()) {
      if (arg.includes("{connection_file}")) {
        expect(arg).toBe(repoSpec.argv[i]);
      } else if (arg.includes("/") || repoSpec.argv[i].includes("{resource_dir}")) {
        expect(path.isAbsolute(arg), arg).toBe(true);
        expect(existsSync(arg), arg).toBe(true);
        expect(arg).not.toContain("{resource_dir}");
      } else if (i > 0) {
        expect(arg).toBe(repoSpec.argv[i]);
      }
    }
    const launcher = argv.find((a, i) => i > 0 && path.isAbsolute(a));
    expect(launcher?.startsWith(ROOT + path.sep)).toBe(true);
    expect(installed.spec.env.NO_COLOR).toBe("1");
    expect(installed.spec.display_name).toBe("TypeScript (mamba-ts)");
    expect(installed.spec.language).toBe("typescript");
  });

  it("the installed kernel runs a lib import from the notebooks folder", async () => {
    const cwd = path.join(ROOT, "notebooks");
    const r = await runCell(cwd, CELL);
    expect(r.errors).toBe("");
    expect(r.status).toBe("ok");
    // The front end (here jupyter_client's cwd) sets the kernel's working directory.
    expect(r.stdout.split("\n")[0]).toBe(cwd);
    expect(r.value).toBe(expectedInt);
  });

  it("outside the repository, lib imports fail until lib is installed into that project", async () => {
    const outside = path.join(tmp, "my-notebooks");
    mkdirSync(outside);
    const before = await runCell(outside, CELL);
    expect(before.status).not.toBe("ok");
    expect(before.errors).toMatch(/Cannot find module '@mamba-ts\/lib'/);

    // What the install message suggests: `npm install <repo>/lib` in that project (a link).
    writeFileSync(
      path.join(outside, "package.json"),
      '{ "name": "my-notebooks", "private": true }',
    );
    const npm = await run(
      "npm",
      ["install", "--offline", "--no-audit", "--no-fund", path.join(ROOT, "lib")],
      { cwd: outside },
    );
    expect(npm.code, npm.stderr).toBe(0);
    const after = await runCell(outside, CELL);
    expect(after.errors).toBe("");
    expect(after.status).toBe("ok");
    expect(after.stdout.split("\n")[0]).toBe(outside);
    expect(after.value).toBe(expectedInt);
  });

  it("re-running fixes a kernelspec whose paths went stale", async () => {
    const file = path.join(dataDir, "kernels", "mamba-ts", "kernel.json");
    const good = JSON.parse(readFileSync(file, "utf8"));
    const stale = { ...good, argv: good.argv.map((a: string) => a.replace(ROOT, "/old/place")) };
    stale.argv[0] = "/old/node/bin/node";
    writeFileSync(file, JSON.stringify(stale));
    expect(kernelspecs()["mamba-ts"].spec.argv[0]).toBe("/old/node/bin/node");

    // --jupyter may also name the folder that holds `jupyter`.
    const r = await install(["--jupyter", path.dirname(JUPYTER)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`into ${JUPYTER} `);
    expect(kernelspecs()["mamba-ts"].spec.argv).toEqual(good.argv);
  });

  it("after the course folder moved, re-running points the kernel at the new place", async () => {
    // A copy of the course at another path (kernels/ copied, the heavy folders linked).
    const moved = path.join(tmp, "moved-course");
    mkdirSync(moved);
    cpSync(path.join(ROOT, "kernels"), path.join(moved, "kernels"), { recursive: true });
    symlinkSync(path.join(ROOT, "node_modules"), path.join(moved, "node_modules"));
    symlinkSync(path.join(ROOT, "lib"), path.join(moved, "lib"));
    cpSync(path.join(ROOT, "package.json"), path.join(moved, "package.json"));

    const r = await install(
      ["--jupyter", JUPYTER],
      path.join(moved, "kernels", "dist", "install.js"),
    );
    expect(r.code, r.stderr).toBe(0);
    const argv = kernelspecs()["mamba-ts"].spec.argv;
    const launchers = argv.filter((a, i) => i > 0 && path.isAbsolute(a));
    expect(launchers.length).toBeGreaterThan(0);
    for (const a of launchers) {
      expect(a.startsWith(moved + path.sep), a).toBe(true);
      expect(existsSync(a)).toBe(true);
    }
    // The kernel launched from the new place works.
    const cell = await runCell(path.join(ROOT, "notebooks"), CELL);
    expect(cell.errors).toBe("");
    expect(cell.value).toBe(expectedInt);

    // And back: installing from the original folder points there again (--jupyter may also name
    // a sibling program such as jupyter-notebook).
    const back = await install(["--jupyter", "/usr/bin/jupyter-notebook"]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`into ${JUPYTER} `);
    const again = kernelspecs()["mamba-ts"].spec.argv.filter((a, i) => i > 0 && path.isAbsolute(a));
    for (const a of again) expect(a.startsWith(ROOT + path.sep), a).toBe(true);
  });

  it("passes --prefix through, and says when Jupyter does not search that prefix", async () => {
    const prefix = path.join(tmp, "prefix");
    const r = await install(["--jupyter", JUPYTER, "--prefix", prefix]);
    expect(r.code, r.stderr).toBe(0);
    const dir = path.join(prefix, "share", "jupyter", "kernels", "mamba-ts");
    expect(existsSync(path.join(dir, "kernel.json"))).toBe(true);
    expect(r.stdout).toContain(dir);
    const withPath = kernelspecs(
      jupyterEnv({ JUPYTER_PATH: path.join(prefix, "share", "jupyter") }),
    );
    // JUPYTER_PATH comes first in Jupyter's search order: the prefix's spec wins.
    expect(withPath["mamba-ts"].resource_dir).toBe(dir);
    // Without JUPYTER_PATH the user-folder spec from the earlier tests is the one Jupyter uses,
    // and the script said so.
    expect(r.stderr).toMatch(/another "mamba-ts" kernelspec/);
  });

  it("rejects bad input with a clear message and a non-zero status", async () => {
    const missing = await install(["--jupyter", "/nonexistent/jupyter"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/--jupyter \/nonexistent\/jupyter: no such file or folder/);
    expect(missing.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace

    const notJupyter = await install(["--jupyter", PYTHON]);
    expect(notJupyter.code).not.toBe(0);
    expect(notJupyter.stderr).toMatch(
      /kernelspec install` failed \(is it Jupyter's `jupyter` program/,
    );

    const both = await install(["--user", "--prefix", path.join(tmp, "p2")]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/choose one of --user, --sys-prefix, --prefix/);

    const unknown = await install(["--frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/--frobnicate/);
    expect(unknown.stderr).toMatch(/Usage: npm run kernel:install/);

    const emptyBin = path.join(tmp, "empty-bin");
    mkdirSync(emptyBin, { recursive: true });
    const noJupyter = await install(
      [],
      INSTALL,
      jupyterEnv({ PATH: emptyBin, MAMBA_TS_VENV: path.join(tmp, "no-venv") }),
    );
    expect(noJupyter.code).not.toBe(0);
    // The one discovery order (kernels/src/jupyter.ts), listed, and how to name a Jupyter.
    expect(noJupyter.stderr).toMatch(
      /Jupyter not found \(looked for \.venv\/bin\/jupyter-lab, \.venv\/bin\/jupyter, jupyter-lab on PATH, jupyter-notebook on PATH, jupyter on PATH\)/,
    );
    expect(noJupyter.stderr).toContain("npm run kernel:install -- --jupyter /path/to/jupyter");
  });
});
