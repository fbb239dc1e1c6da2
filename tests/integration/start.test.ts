/**
 * `npm start`: real servers started the way a learner starts them (`npm start -- ...` in its own
 * process group, stopped with Ctrl-C, i.e. SIGINT to the whole group), probed over HTTP and the
 * kernel websocket. Covers the classic Notebook (Debian's 6.4), JupyterLab 4 from the pip route
 * (./.venv, created on first run, reused later) and the fallback chain when nothing is found.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rng } from "../../lib/src/rng";
import { type Course, killGroup, spawnCourse } from "../helpers/course";

const ROOT = path.resolve(__dirname, "..", "..");
const WELCOME = "notebooks/00-welcome.ipynb";
const welcomeExists = existsSync(path.join(ROOT, WELCOME));
const START = path.join(ROOT, "kernels", "dist", "start.js");

const started: Course[] = [];
let tmp: string;

/** Starts `command args` like a learner (no display, so no browser opens) and records it for cleanup. */
async function startCourse(
  command: string,
  args: string[],
  { timeoutMs = 120_000, env = {} as NodeJS.ProcessEnv } = {},
): Promise<Course> {
  const course = await spawnCourse(command, args, { timeoutMs, env: { DISPLAY: "", ...env } });
  started.push(course);
  return course;
}

/** Processes whose command line contains `needle` (from /proc). */
function pidsMatching(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (cmd.includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Ctrl-C in the learner's terminal: SIGINT to the whole foreground process group. */
async function stopCourse(c: Course): Promise<number | string | null> {
  process.kill(-c.proc.pid!, "SIGINT");
  const code = await Promise.race([
    c.exited,
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000)),
  ]);
  if (code === "timeout") throw new Error(`did not stop within 60 s:\n${c.output()}`);
  return code;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", () => resolve(true));
  });
}

async function get(c: Course, route: string, withToken = true) {
  const res = await fetch(c.base + route, {
    headers: withToken ? { Authorization: `token ${c.token}` } : {},
    redirect: "manual",
  });
  return { status: res.status, body: await res.text() };
}

/**
 * Starts a kernel through a session for a notebook in notebooks/ (so its working directory is that
 * folder, as when the learner opens a lesson) and runs one cell over the kernel websocket (the
 * JSON protocol). Returns the cell's outputs and the kernel id.
 */
async function runCellInSession(c: Course, code: string) {
  const res = await fetch(c.base + "api/sessions", {
    method: "POST",
    headers: { Authorization: `token ${c.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      path: "notebooks/start-test.ipynb",
      name: "start-test.ipynb",
      type: "notebook",
      kernel: { name: "mamba-ts" },
    }),
  });
  expect(res.status).toBe(201);
  const session = (await res.json()) as { kernel: { id: string; name: string } };
  expect(session.kernel.name).toBe("mamba-ts");
  const kernelId = session.kernel.id;

  const clientSession = randomUUID();
  const ws = new WebSocket(
    `ws://${c.url.host}/api/kernels/${kernelId}/channels?session_id=${clientSession}`,
    { headers: { Authorization: `token ${c.token}` } },
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const send = (msgType: string, content: object) => {
    const msgId = randomUUID();
    ws.send(
      JSON.stringify({
        header: {
          msg_id: msgId,
          msg_type: msgType,
          username: "test",
          session: clientSession,
          version: "5.3",
          date: new Date().toISOString(),
        },
        parent_header: {},
        metadata: {},
        content,
        channel: "shell",
        buffers: [],
      }),
    );
    return msgId;
  };
  type Msg = {
    channel: string;
    msg_type: string;
    parent_header: { msg_id?: string };
    content: Record<string, unknown>;
  };
  const messages: Msg[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as Msg));
  const waitFor = async (pred: (m: Msg) => boolean, ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (messages.some(pred)) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  try {
    // The kernel may still be starting: ask for kernel_info until it answers.
    let ready = false;
    for (let i = 0; i < 45 && !ready; i++) {
      const id = send("kernel_info_request", {});
      ready = await waitFor(
        (m) => m.msg_type === "kernel_info_reply" && m.parent_header.msg_id === id,
        2000,
      );
    }
    expect(ready, "kernel_info_reply").toBe(true);
    const id = send("execute_request", {
      code,
      silent: false,
      store_history: true,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: true,
    });
    const mine = (m: Msg) => m.parent_header.msg_id === id;
    const done = await waitFor(
      () =>
        messages.some((m) => mine(m) && m.msg_type === "execute_reply") &&
        messages.some(
          (m) => mine(m) && m.msg_type === "status" && m.content.execution_state === "idle",
        ),
      90_000,
    );
    expect(done, "execute_reply and idle").toBe(true);
    const of = (t: string) => messages.filter((m) => mine(m) && m.msg_type === t);
    const stdout = of("stream")
      .filter((m) => m.content.name === "stdout")
      .map((m) => m.content.text)
      .join("");
    const stderr = of("stream")
      .filter((m) => m.content.name === "stderr")
      .map((m) => m.content.text)
      .join("");
    const result = of("execute_result")
      .map((m) => (m.content.data as Record<string, string>)["text/plain"])
      .join("");
    const errors = of("error").map((m) => `${m.content.ename}: ${m.content.evalue}`);
    const reply = of("execute_reply")[0].content.status;
    return {
      kernelId,
      reply,
      stdout,
      errors: stderr + errors.join(""),
      // The last value comes as an execute_result (stock tslab: as stdout text).
      value: result || stdout.trim().split("\n").pop() || "",
    };
  } finally {
    ws.close();
  }
}

const CELL = `import { Rng } from "@mamba-ts/lib";\nconsole.log(process.cwd());\nnew Rng(1).int(10)`;
const expectedInt = String(new Rng(1).int(10));

/** Checks shared by both front ends: auth, kernelspec, the welcome URL, a real cell, the stop. */
async function checkRunningCourse(c: Course) {
  expect(c.url.hostname).toBe("127.0.0.1");
  expect(c.token).toMatch(/^[0-9a-f]{48}$/);

  // Token required: without it the API refuses, with it the server answers.
  expect([401, 403]).toContain((await get(c, "api/status", false)).status);
  expect((await get(c, "api/status")).status).toBe(200);

  // Our kernelspec is visible (JUPYTER_PATH=<repo root>).
  const specs = JSON.parse((await get(c, "api/kernelspecs")).body) as {
    kernelspecs: Record<string, { spec: { display_name: string } }>;
  };
  expect(specs.kernelspecs["mamba-ts"]?.spec.display_name).toBe("TypeScript (mamba-ts)");

  // The root is the repository: the notebooks and the project's plotly.js (which the plots'
  // HTML fallback loads through files/) are served.
  const root = JSON.parse((await get(c, "api/contents/")).body) as { content: { name: string }[] };
  expect(root.content.map((e) => e.name)).toEqual(
    expect.arrayContaining(["notebooks", "lib", "kernels"]),
  );
  expect((await get(c, "files/node_modules/plotly.js-dist/package.json")).status).toBe(200);

  // The URL opens the welcome notebook (or, until it exists, the notebooks folder).
  if (welcomeExists) {
    expect(c.url.pathname).toMatch(
      c.app === "JupyterLab"
        ? /^\/lab\/tree\/notebooks\/00-welcome\.ipynb$/
        : /^\/notebooks\/notebooks\/00-welcome\.ipynb$/,
    );
  } else {
    expect(c.url.pathname).toBe(c.app === "JupyterLab" ? "/lab/tree/notebooks" : "/tree/notebooks");
  }
  const page = await fetch(c.url, { redirect: "manual" });
  expect(page.status).toBe(200);
  await page.arrayBuffer();

  // A real cell in a lesson's folder: the kernel starts, imports lib, runs in notebooks/.
  const cell = await runCellInSession(c, CELL);
  expect(cell.errors).toBe("");
  expect(cell.reply).toBe("ok");
  expect(cell.stdout.split("\n")[0]).toBe(path.join(ROOT, "notebooks"));
  expect(cell.value).toBe(expectedInt);
  expect(pidsMatching(cell.kernelId).length).toBeGreaterThan(0);

  // Ctrl-C: the server stops, its kernel with it, and the port is free again. (npm's shell re-raises
  // the SIGINT it saw once its child is done, so npm itself ends "killed by SIGINT", as any
  // Ctrl-C'd npm script does; our script exits 0.)
  const code = await stopCourse(c);
  expect([0, "SIGINT"]).toContain(code);
  expect(c.output()).toMatch(/mamba-ts: Jupyter stopped/);
  expect(await portFree(c.port)).toBe(true);
  expect(pidsMatching(cell.kernelId)).toEqual([]);
}

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "mamba-ts-start-"));
  if (!existsSync(path.join(ROOT, "lib", "dist", "index.js"))) {
    throw new Error("lib is not built: run `npm run build` first");
  }
});

afterAll(() => {
  for (const c of started) {
    if (c.proc.exitCode === null) killGroup(c.proc, "SIGKILL");
    // The server runs in a process group of its own: find it by its port.
    for (const pid of pidsMatching(`.port=${c.port} `)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe("npm start", () => {
  it("starts the classic Notebook (--jupyter=notebook) with a token and our kernel, and stops on Ctrl-C", async () => {
    const c = await startCourse("npm", ["start", "--", "--no-browser", "--jupyter=notebook"]);
    expect(c.app).toBe("Jupyter Notebook");
    expect(c.output()).toMatch(/using Jupyter Notebook 6\.\d+/);
    await checkRunningCourse(c);
  }, 300_000);

  it("--jupyter=pip gets JupyterLab 4 with the plotly renderer into .venv (or reuses it)", async () => {
    const venv = path.join(ROOT, ".venv");
    const hadVenv =
      existsSync(path.join(venv, "bin", "jupyter-lab")) &&
      existsSync(path.join(venv, "share", "jupyter", "labextensions", "jupyterlab-plotly"));
    const c = await startCourse("npm", ["start", "--", "--no-browser", "--jupyter=pip"], {
      timeoutMs: 400_000,
    });
    expect(c.app).toBe("JupyterLab");
    if (hadVenv) expect(c.output()).toMatch(/mamba-ts: reusing \.venv/);
    else expect(c.output()).toMatch(/mamba-ts: installed JupyterLab 4 into \.venv/);

    const version = execFileSync(path.join(venv, "bin", "jupyter-lab"), ["--version"], {
      encoding: "utf8",
    });
    expect(version.trim()).toMatch(/^4\./);
    // `jupyter labextension list` reports on stderr.
    const ext = spawnSync(path.join(venv, "bin", "jupyter"), ["labextension", "list"], {
      encoding: "utf8",
    });
    expect(ext.status).toBe(0);
    expect(ext.stdout + ext.stderr).toMatch(/jupyterlab-plotly v[\d.]+.*enabled/);
    // The running JupyterLab loads it: its page config lists the federated extension.
    const lab = await get(c, "lab");
    expect(lab.status).toBe(200);
    expect(lab.body).toContain("jupyterlab-plotly");

    await checkRunningCourse(c);
  }, 600_000);

  it("with nothing on PATH and pip unusable, falls back to the apt route (Debian's Notebook)", async () => {
    const emptyVenv = path.join(tmp, "venv");
    const bin = path.join(tmp, "bin");
    mkdirSync(bin);
    const c = await startCourse(process.execPath, [START, "--no-browser"], {
      env: { PATH: bin, MAMBA_TS_VENV: emptyVenv, MAMBA_TS_PYTHON: "/nonexistent/python3" },
    });
    const out = c.output();
    expect(out).toMatch(
      /no Jupyter found \(\.venv\/bin\/jupyter-lab: not found; jupyter-lab on PATH: not found; jupyter-notebook on PATH: not found\)/,
    );
    expect(out).toMatch(/the pip route did not work: \/nonexistent\/python3 does not run/);
    expect(out).toMatch(
      /Debian's classic Notebook is already installed \(\/usr\/bin\/jupyter-notebook\)/,
    );
    expect(c.app).toBe("Jupyter Notebook");
    expect((await get(c, "api/status")).status).toBe(200);
    expect(await stopCourse(c)).toBe(0);
    expect(await portFree(c.port)).toBe(true);
  }, 300_000);

  it("builds lib first when lib/dist/index.js is missing", () => {
    // A course copy whose lib is a stand-in package with a trivial build (the real lib is shared).
    const course = path.join(tmp, "course");
    cpSync(path.join(ROOT, "kernels"), path.join(course, "kernels"), { recursive: true });
    cpSync(path.join(ROOT, "package.json"), path.join(course, "package.json"));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(course, "node_modules"));
    mkdirSync(path.join(course, "lib"));
    writeFileSync(
      path.join(course, "lib", "package.json"),
      JSON.stringify({
        name: "@mamba-ts/lib",
        private: true,
        scripts: {
          build: `node -e "require('fs').mkdirSync('dist');require('fs').writeFileSync('dist/index.js','')"`,
        },
      }),
    );
    const r = spawnSync(
      process.execPath,
      [path.join(course, "kernels", "dist", "start.js"), "--jupyter=lab", "--no-browser"],
      {
        cwd: course,
        encoding: "utf8",
        timeout: 120_000,
        // No JupyterLab anywhere: it stops right after the build, with the "not found" error.
        env: {
          ...process.env,
          PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
          MAMBA_TS_VENV: path.join(tmp, "no-venv"),
        },
      },
    );
    expect(r.stdout).toMatch(/mamba-ts: lib is not built yet: running `npm run build`/);
    expect(existsSync(path.join(course, "lib", "dist", "index.js"))).toBe(true);
    expect(r.stderr).toMatch(/--jupyter=lab: no JupyterLab found/);
    expect(r.status).toBe(1);
  }, 120_000);

  it("rejects bad options and a forced route that finds nothing, with a clear message", () => {
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      try {
        const stdout = execFileSync(process.execPath, [START, ...args], {
          cwd: ROOT,
          encoding: "utf8",
          env: { ...process.env, ...env },
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 60_000,
        });
        return { code: 0, stdout, stderr: "" };
      } catch (err) {
        const e = err as { status: number; stdout: string; stderr: string };
        return { code: e.status, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const bogus = run(["--jupyter=bogus"]);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/--jupyter=bogus: expected one of auto, lab, notebook, pip, apt/);
    expect(bogus.stderr).not.toMatch(/\n\s+at /);

    expect(run(["--port=http"]).stderr).toMatch(/--port=http: expected a port number/);
    expect(run(["--frobnicate"]).stderr).toMatch(/Usage: npm start/);

    const bin = path.join(tmp, "bin-empty");
    mkdirSync(bin, { recursive: true });
    const env = { PATH: bin, MAMBA_TS_VENV: path.join(tmp, "no-venv") };
    const lab = run(["--jupyter=lab", "--no-browser"], env);
    expect(lab.code).toBe(1);
    expect(lab.stderr).toMatch(/--jupyter=lab: no JupyterLab found/);
    expect(lab.stderr).toMatch(/conda env create -f environment\.yml/);
    expect(lab.stderr).toMatch(/npm start -- --jupyter=pip/);

    const pip = run(["--jupyter=pip", "--no-browser"], {
      ...env,
      MAMBA_TS_PYTHON: "/nonexistent/python3",
    });
    expect(pip.code).toBe(1);
    expect(pip.stderr).toMatch(/mamba-ts: error: \/nonexistent\/python3 does not run/);
  }, 120_000);
});
