/**
 * The notebook runner against a real Jupyter server and the real mamba-ts kernel: outputs,
 * failures (error, stderr, timeout, unresponsive kernel, dead kernel), bad input, bad server
 * settings, and the CLI's exit codes, messages and files. One server is shared by the tests that
 * attach to it; the CLI tests that start their own server are few.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
  mkdirSync,
} from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type JupyterServer,
  findJupyter,
  type NotebookResult,
  type RunOptions,
  courseRoot,
  runNotebooks,
  startJupyterServer,
} from "../../kernels/src/index";
import { type Notebook, sourceText } from "../../kernels/src/runner/nbformat";

const ROOT = courseRoot();
const FIXTURES = path.join(ROOT, "tests", "integration", "fixtures", "runner");
const CLI = path.join(ROOT, "kernels", "dist", "runner", "cli.js");
const fixture = (name: string) => path.join(FIXTURES, name);

let server: JupyterServer;
let outDir: string;

beforeAll(async () => {
  server = await startJupyterServer();
  outDir = mkdtempSync(path.join(os.tmpdir(), "runner-test-"));
});

afterAll(async () => {
  await server?.stop();
  if (outDir !== undefined) rmSync(outDir, { recursive: true, force: true });
});

/** Runs notebooks on the shared server. */
function run(names: string[], options: RunOptions = {}) {
  return runNotebooks(names.map(fixture), {
    url: server.url,
    token: server.token,
    outDir,
    ...options,
  });
}

/** The text of a code cell's stdout. */
function stdoutOf(nb: NotebookResult, index: number): string {
  const cell = nb.cells.find((c) => c.index === index);
  return (cell?.outputs ?? [])
    .map((o) => (o.output_type === "stream" && o.name === "stdout" ? [o.text].flat().join("") : ""))
    .join("");
}

/** Processes whose working directory is `dir` (kernels of notebooks in it), via /proc. */
function processesIn(dir: string): number[] {
  if (!existsSync("/proc")) return [];
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === dir;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Names and modification times of the files in a folder. */
function snapshot(dir: string): Record<string, number> {
  return Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(path.join(dir, f)).mtimeMs]));
}

/** A port nobody listens on (as far as anyone can know). */
function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

describe("runNotebooks on a shared server", () => {
  it("runs every code cell, records outputs and execution counts, and collects check lines", async () => {
    const report = await run(["ok.ipynb"]);
    expect(report.ok).toBe(true);
    const [nb] = report.notebooks;
    expect(nb.path).toBe("tests/integration/fixtures/runner/ok.ipynb");
    expect(nb.status).toBe("passed");
    expect(nb.failure).toBeNull();
    const source = JSON.parse(readFileSync(fixture("ok.ipynb"), "utf8")) as Notebook;
    const codeIndices = source.cells.flatMap((c, i) => (c.cell_type === "code" ? [i] : []));
    expect(nb.cells.map((c) => c.index)).toEqual(codeIndices);
    expect(nb.cells.map((c) => c.status)).toEqual(codeIndices.map(() => "ok"));
    expect(nb.cells.map((c) => c.executionCount)).toEqual(codeIndices.map((_, k) => k + 1));
    // The kernel's working directory is the notebook's folder.
    expect(stdoutOf(nb, 2)).toBe(`answer: ${6 * 7}\ncwd: ${FIXTURES}\n`);
    const result = nb.cells.find((c) => c.index === 4)?.outputs[0];
    expect(result).toMatchObject({
      output_type: "execute_result",
      data: { "text/plain": [`${6 * 7 + 1}`] },
    });
    expect(nb.checks).toEqual([
      {
        id: "demo-todo",
        status: "not-implemented",
        cellIndex: 5,
        line: expect.stringMatching(/^⏳ demo-todo: not implemented yet/),
      },
      {
        id: "demo-done",
        status: "passed",
        cellIndex: 5,
        line: expect.stringMatching(/^✅ demo-done: passed/),
      },
    ]);

    // The executed copy mirrors the notebook's path under the output folder.
    const executedPath = path.join(
      outDir,
      "tests",
      "integration",
      "fixtures",
      "runner",
      "ok.ipynb",
    );
    expect(nb.executedPath).toBe(executedPath);
    const executed = JSON.parse(readFileSync(executedPath, "utf8")) as Notebook;
    expect(executed.cells.map(sourceText)).toEqual(source.cells.map(sourceText));
    expect(executed.cells.map((c) => c.id)).toEqual(source.cells.map((c) => c.id));
    for (const cell of nb.cells) {
      expect(executed.cells[cell.index].outputs).toEqual(cell.outputs);
      expect(executed.cells[cell.index].execution_count).toBe(cell.executionCount);
    }
    const summary = JSON.parse(readFileSync(path.join(outDir, "summary.json"), "utf8"));
    expect(summary.ok).toBe(true);
    expect(summary.notebooks[0]).toMatchObject({
      path: nb.path,
      status: "passed",
      checks: nb.checks,
    });
  });

  it("stops at a cell that throws, reporting its index and message; later cells do not run", async () => {
    const [nb] = (await run(["throws.ipynb"])).notebooks;
    expect(nb.status).toBe("failed");
    expect(nb.failure).toEqual({
      cellIndex: 1,
      cellId: "throws-1",
      message: expect.stringMatching(/^cell 2\/4 failed: .*boom in the second code cell/),
    });
    expect(nb.cells.map((c) => c.status)).toEqual(["ok", "failed", "not-run", "not-run"]);
    expect(stdoutOf(nb, 3)).toBe("");
  });

  it("with keepGoing runs the cells after a failure, which the kernel does not abort", async () => {
    const [nb] = (await run(["throws.ipynb"], { keepGoing: true })).notebooks;
    expect(nb.cells.map((c) => c.status)).toEqual(["ok", "failed", "failed", "ok"]);
    expect(nb.failures.map((f) => f.cellIndex)).toEqual([1, 2]);
    expect(nb.failures[1].message).toMatch(/not assignable to type 'number'/);
    expect(nb.failure).toEqual(nb.failures[0]);
    expect(stdoutOf(nb, 3)).toBe("after\n");
  });

  it("counts output on stderr as a failure", async () => {
    const [nb] = (await run(["stderr.ipynb"])).notebooks;
    expect(nb.failure).toEqual({
      cellIndex: 1,
      cellId: "stderr-1",
      message: "cell 2/3 failed: wrote to stderr: a warning on stderr",
    });
    expect(nb.cells.map((c) => c.status)).toEqual(["ok", "failed", "not-run"]);
  });

  it("interrupts a cell that runs past the timeout and reports it", async () => {
    const [nb] = (await run(["loop.ipynb"], { timeoutSeconds: 3 })).notebooks;
    expect(nb.failure?.cellIndex).toBe(1);
    expect(nb.failure?.message).toMatch(/^cell 2\/3 timed out after 3 s/);
    expect(nb.cells.map((c) => c.status)).toEqual(["ok", "timed-out", "not-run"]);
    expect(processesIn(FIXTURES)).toEqual([]);
  });

  it("shuts down a kernel that does not respond to the interrupt", async () => {
    // The cell stops the kernel process (SIGSTOP): no reply, no reaction to SIGINT.
    const [nb] = (await run(["stuck.ipynb"], { timeoutSeconds: 2 })).notebooks;
    expect(nb.failure?.message).toBe(
      "cell 2/3 timed out after 2 s; the kernel did not respond to an interrupt and was shut down",
    );
    expect(nb.cells.map((c) => c.status)).toEqual(["ok", "timed-out", "not-run"]);
    expect(processesIn(FIXTURES)).toEqual([]);
  });

  it("notices a kernel that dies", async () => {
    const [nb] = (await run(["exit.ipynb"], { timeoutSeconds: 120 })).notebooks;
    expect(nb.failure).toEqual({
      cellIndex: 1,
      cellId: "exit-1",
      message: "kernel died while running cell 2/3",
    });
    expect(nb.cells.map((c) => c.status)).toEqual(["ok", "kernel-died", "not-run"]);
    expect(processesIn(FIXTURES)).toEqual([]);
  });

  it("reports a kernel the server does not have", async () => {
    const [nb] = (await run(["hello.ipynb"], { kernelName: "no-such-kernel" })).notebooks;
    expect(nb.failure).toEqual({
      cellIndex: null,
      message: expect.stringMatching(/no kernel named "no-such-kernel" \(it has: .*mamba-ts/),
    });
    expect(nb.cells).toEqual([]);
  });
});

describe("runNotebooks refuses bad input before running anything", () => {
  it("a missing notebook", async () => {
    await expect(run(["missing.ipynb"])).rejects.toThrow(
      /missing\.ipynb: no such notebook or folder/,
    );
  });

  it("a file that is not a notebook", async () => {
    await expect(run(["not-a-notebook.txt"])).rejects.toThrow(
      /not-a-notebook\.txt: not a notebook/,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), "runner-bad-"));
    try {
      writeFileSync(path.join(dir, "broken.ipynb"), "{ not json");
      writeFileSync(path.join(dir, "list.ipynb"), "[1, 2]");
      await expect(runNotebooks([path.join(dir, "broken.ipynb")])).rejects.toThrow(
        /broken\.ipynb: not a notebook: invalid JSON/,
      );
      await expect(runNotebooks([path.join(dir, "list.ipynb")])).rejects.toThrow(
        /list\.ipynb: not a notebook: expected nbformat 4/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a notebook outside the course folder", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "runner-outside-"));
    try {
      writeFileSync(path.join(dir, "copy.ipynb"), readFileSync(fixture("hello.ipynb")));
      await expect(runNotebooks([path.join(dir, "copy.ipynb")])).rejects.toThrow(
        /outside the course folder/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an output folder that would put executed copies among the notebooks", async () => {
    await expect(run(["hello.ipynb"], { outDir: ROOT })).rejects.toThrow(
      /--out: .* among the notebooks/,
    );
    await expect(run(["hello.ipynb"], { outDir: path.join(ROOT, "notebooks") })).rejects.toThrow(
      /among the notebooks/,
    );
  });

  it("a bad timeout", async () => {
    await expect(run(["hello.ipynb"], { timeoutSeconds: 0 })).rejects.toThrow(
      /timeoutSeconds: expected a positive number/,
    );
  });

  it("a token the server rejects", async () => {
    await expect(run(["hello.ipynb"], { token: "not-the-token" })).rejects.toThrow(
      /the Jupyter server at http:\/\/127\.0\.0\.1:\d+\/ rejected the token \(HTTP 403/,
    );
  });

  it("a server whose root is not the course folder", async () => {
    const elsewhere = await startJupyterServer({ root: FIXTURES });
    try {
      await expect(
        run(["hello.ipynb"], { url: elsewhere.url, token: elsewhere.token }),
      ).rejects.toThrow(
        `the Jupyter server at ${elsewhere.url} has no file tests/integration/fixtures/runner/hello.ipynb: its root must be the course folder ${ROOT}`,
      );
    } finally {
      await elsewhere.stop();
    }
  });

  it("a URL where no server listens", async () => {
    const url = `http://127.0.0.1:${await unusedPort()}/`;
    await expect(run(["hello.ipynb"], { url })).rejects.toThrow(
      `cannot reach the Jupyter server at ${url}: connection refused`,
    );
    await expect(run(["hello.ipynb"], { url: "http://127.0.0.1:1" })).rejects.toThrow(
      /cannot reach the Jupyter server at http:\/\/127\.0\.0\.1:1\//,
    );
    await expect(run(["hello.ipynb"], { url: "127.0.0.1:8888" })).rejects.toThrow(
      /--url: expected a URL like http:\/\/127\.0\.0\.1:8888\/, got "127\.0\.0\.1:8888"/,
    );
  });
});

describe("the Jupyter server", () => {
  it("is the course's .venv/bin/jupyter when there is one, else jupyter on PATH", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "runner-venv-"));
    try {
      const onPath = execFileSync("sh", ["-c", "command -v jupyter"], { encoding: "utf8" }).trim();
      expect(findJupyter(dir)).toBe(onPath);
      mkdirSync(path.join(dir, ".venv", "bin"), { recursive: true });
      const venvJupyter = path.join(dir, ".venv", "bin", "jupyter");
      writeFileSync(venvJupyter, "#!/bin/sh\nexit 0\n");
      chmodSync(venvJupyter, 0o755);
      expect(findJupyter(dir)).toBe(venvJupyter);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails with the end of its log when it exits before answering", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "runner-fake-jupyter-"));
    try {
      const fake = path.join(dir, "jupyter");
      writeFileSync(fake, '#!/bin/sh\necho "fake jupyter: cannot start with $1" >&2\nexit 3\n');
      chmodSync(fake, 0o755);
      await expect(startJupyterServer({ jupyter: fake })).rejects.toThrow(
        "the Jupyter server exited with code 3 before it was ready; its log ends with:\nfake jupyter: cannot start with server",
      );
      await expect(startJupyterServer({ jupyter: path.join(dir, "missing") })).rejects.toThrow(
        /the Jupyter server could not be started \(spawn .*missing ENOENT\)/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Runs the CLI; resolves with its exit code and output. */
function cli(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const env = { ...process.env };
    delete env.JUPYTER_TOKEN;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const rel = (name: string) => path.relative(ROOT, fixture(name));

describe("the CLI", () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  });

  it("exits 2 with the usage on a usage error", async () => {
    for (const args of [
      [],
      ["--no-such-option", rel("ok.ipynb")],
      ["--timeout=soon", rel("ok.ipynb")],
      ["--token", "t", rel("ok.ipynb")],
    ]) {
      const { code, stderr } = await cli(args);
      expect(code).toBe(2);
      expect(stderr).toMatch(
        /^mamba-ts-run: .+\n\nUsage: mamba-ts-run \[options\] <notebook\|folder>\.\.\./,
      );
    }
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--keep-going/);
  });

  it("starts its own server, writes executed copies to --out only, and exits 1 naming the failing cell", async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "runner-cli-"));
    const before = snapshot(FIXTURES);
    try {
      const { code, stdout, stderr } = await cli([
        "--out",
        out,
        rel("ok.ipynb"),
        rel("throws.ipynb"),
      ]);
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^tests\/integration\/fixtures\/runner\/ok\.ipynb  cell 2\/6  ok +\d+\.\d\d s$/m,
      );
      expect(stderr).toMatch(
        /^tests\/integration\/fixtures\/runner\/throws\.ipynb  cell 2\/4  failed +\d+\.\d\d s$/m,
      );
      expect(stdout).toMatch(
        /^tests\/integration\/fixtures\/runner\/ok\.ipynb +passed +4\/4 +1 not implemented, 1 passed/m,
      );
      expect(stdout).toMatch(/^tests\/integration\/fixtures\/runner\/throws\.ipynb +FAILED +1\/4/m);
      expect(stdout).toContain(
        "tests/integration/fixtures/runner/throws.ipynb [cell id throws-1]: cell 2/4 failed: Error: boom in the second code cell",
      );
      expect(stdout).toMatch(/2 notebooks: 1 passed, 1 failed/);
      expect(snapshot(FIXTURES)).toEqual(before);
      const executed = JSON.parse(
        readFileSync(path.join(out, rel("ok.ipynb")), "utf8"),
      ) as Notebook;
      expect(executed.cells[2].outputs?.[0]).toMatchObject({
        output_type: "stream",
        name: "stdout",
      });
      expect(existsSync(path.join(out, rel("throws.ipynb")))).toBe(true);
      expect(JSON.parse(readFileSync(path.join(out, "summary.json"), "utf8")).ok).toBe(false);

      // The server it started is gone.
      const url = /^started a Jupyter server at (\S+)$/m.exec(stderr)?.[1];
      expect(url).toBeDefined();
      await expect(fetch(new URL("api/status", url))).rejects.toThrow();
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("exits 0 when every notebook passes, attaching with --url and JUPYTER_TOKEN", async () => {
    const out = mkdtempSync(path.join(os.tmpdir(), "runner-cli-"));
    try {
      const child = spawn(
        process.execPath,
        [CLI, "--url", server.url, "--out", out, rel("hello.ipynb")],
        {
          cwd: ROOT,
          env: { ...process.env, JUPYTER_TOKEN: server.token },
        },
      );
      let stdout = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise((resolve) => child.on("close", resolve));
      expect(code).toBe(0);
      expect(stdout).toMatch(/1 notebook: 1 passed, 0 failed/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("exits 1 with a clear message for a timeout, bad input and bad server settings", async () => {
    const attach = ["--url", server.url, "--token", server.token, "--out", outDir];
    const loop = await cli([...attach, "--timeout", "3", rel("loop.ipynb")]);
    expect(loop.code).toBe(1);
    expect(loop.stdout).toMatch(/loop\.ipynb \[cell id loop-1\]: cell 2\/3 timed out after 3 s/);

    const cases: [string[], RegExp][] = [
      [
        [...attach, "tests/integration/fixtures/runner/missing.ipynb"],
        /^mamba-ts-run: tests\/integration\/fixtures\/runner\/missing\.ipynb: no such notebook or folder$/m,
      ],
      [
        [...attach, rel("not-a-notebook.txt")],
        /^mamba-ts-run: tests\/integration\/fixtures\/runner\/not-a-notebook\.txt: not a notebook/m,
      ],
      [
        ["--url", server.url, "--token", "wrong", rel("hello.ipynb")],
        /^mamba-ts-run: the Jupyter server at .* rejected the token \(HTTP 403/m,
      ],
      [
        ["--url", "http://127.0.0.1:1/", rel("hello.ipynb")],
        /^mamba-ts-run: cannot reach the Jupyter server at http:\/\/127\.0\.0\.1:1\//m,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cli(args);
      expect(code).toBe(1);
      expect(stderr).toMatch(message);
    }
  });

  it("on Ctrl-C stops the kernel and the server it started and exits 130", async () => {
    let interrupted = false;
    const { code, stderr } = await cli(
      ["--out", outDir, "--timeout", "300", rel("loop.ipynb")],
      (text, child) => {
        // Interrupt while the infinite loop runs (the cell before it has finished).
        if (!interrupted && /loop\.ipynb  cell 1\/3  ok/.test(text)) {
          interrupted = true;
          setTimeout(() => child.kill("SIGINT"), 500);
        }
      },
    );
    expect(interrupted).toBe(true);
    expect(code).toBe(130);
    expect(stderr).toMatch(/mamba-ts-run: interrupted/);
    const url = /^started a Jupyter server at (\S+)$/m.exec(stderr)?.[1];
    await expect(fetch(new URL("api/status", url))).rejects.toThrow();
    expect(processesIn(FIXTURES)).toEqual([]);
  });
});
