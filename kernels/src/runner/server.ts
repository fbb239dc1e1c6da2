/**
 * The Jupyter server that the notebook runner talks to.
 *
 * Either the runner starts one ({@link startJupyterServer}): `jupyter server` on 127.0.0.1, a free
 * port, a random token, the course repository as its root, and `JUPYTER_PATH` pointing at the
 * repository so that the `kernels/mamba-ts` kernelspec is found; or it attaches to a running one
 * ({@link attachJupyterServer}) given its URL and token. A started server is always stopped with
 * its kernels: by {@link JupyterServer.stop}, and as a last resort when the Node process exits.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

/** The course repository: lib lives in `<root>/lib`, this file in `<root>/lib/{src,dist}/notebook`. */
export function courseRoot(): string {
  return path.resolve(__dirname, "..", "..", "..");
}

/** A Jupyter server to run notebooks on. */
export interface JupyterServer {
  /** Base URL, ending with "/", e.g. `http://127.0.0.1:8888/`. */
  readonly url: string;
  /** The token that authenticates requests. */
  readonly token: string;
  /** True when this process started the server (and so stops it). */
  readonly owned: boolean;
  /** Stops a started server and all its kernels; does nothing for an attached one. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startJupyterServer}. */
export interface StartServerOptions {
  /** Server root and JUPYTER_PATH (default: {@link courseRoot}). */
  root?: string;
  /** The `jupyter` executable (default: {@link findJupyter}). */
  jupyter?: string;
  /** How long to wait for the server to answer (default 120 s). */
  readyTimeoutMs?: number;
  /** Aborts the start (the server is then stopped). */
  signal?: AbortSignal;
}

/**
 * Finds the `jupyter` executable: `<root>/.venv/bin/jupyter` first (the course's own virtual
 * environment, e.g. JupyterLab 4 from pip), then `jupyter` on PATH. Throws a message that says how
 * to get Jupyter when there is none.
 */
export function findJupyter(root: string = courseRoot()): string {
  const venv =
    process.platform === "win32"
      ? path.join(root, ".venv", "Scripts", "jupyter.exe")
      : path.join(root, ".venv", "bin", "jupyter");
  if (isExecutable(venv)) return venv;
  const names = process.platform === "win32" ? ["jupyter.exe", "jupyter.cmd"] : ["jupyter"];
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (dir !== "" && isExecutable(candidate)) return candidate;
    }
  }
  throw new Error(
    `Jupyter not found: neither ${venv} nor \`jupyter\` on PATH. Install Jupyter (e.g. ` +
      `\`conda env create -f environment.yml\`, or \`python3 -m venv .venv && .venv/bin/pip install jupyterlab\`), ` +
      `or attach to a running server with --url and --token`,
  );
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return existsSync(file);
  } catch {
    return false;
  }
}

/** The arguments of `jupyter server`, valid for jupyter_server 1.x and 2.x. */
export function serverArguments(port: number, token: string, root: string): string[] {
  const args = [
    "server",
    "--no-browser",
    "--ip=127.0.0.1",
    `--port=${port}`,
    "--port-retries=0",
    `--ServerApp.token=${token}`,
    `--ServerApp.root_dir=${root}`,
  ];
  // jupyter_server refuses to run as root unless told to (containers, CI).
  if (typeof process.getuid === "function" && process.getuid() === 0) args.push("--allow-root");
  return args;
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() =>
        port > 0 ? resolve(port) : reject(new Error("freePort: no port assigned")),
      );
    });
  });
}

/**
 * Starts `jupyter server` (see the module comment) and resolves once `/api/status` answers with
 * the token. Fails with the tail of the server's log when it exits before that, and after
 * `readyTimeoutMs`. A port taken between choosing and binding it is retried with a new one.
 */
export async function startJupyterServer(options: StartServerOptions = {}): Promise<JupyterServer> {
  const root = path.resolve(options.root ?? courseRoot());
  const jupyter = options.jupyter ?? findJupyter(root);
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  for (let attempt = 1; ; attempt++) {
    const server = StartedServer.spawn(jupyter, root, await freePort());
    try {
      await server.waitReady(readyTimeoutMs, options.signal);
      return server;
    } catch (err) {
      await server.stop();
      const portTaken = /address already in use/i.test(server.logTail());
      if (!portTaken || attempt >= 3) throw err;
    }
  }
}

/** The last characters of a server log kept for error messages. */
const LOG_TAIL_CHARS = 4000;

/** Servers started by this process and not yet stopped (killed on process exit). */
const liveServers = new Set<StartedServer>();
let exitHookInstalled = false;

/** A `jupyter server` child process. */
class StartedServer implements JupyterServer {
  readonly owned = true;
  readonly url: string;
  private log = "";
  private exitInfo: string | null = null;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | null = null;

  private constructor(
    private readonly child: ChildProcess,
    port: number,
    readonly token: string,
  ) {
    this.url = `http://127.0.0.1:${port}/`;
    const keep = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString("utf8")).slice(-LOG_TAIL_CHARS);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      child.once("error", (err) => {
        this.exitInfo = `could not be started (${err.message})`;
        resolve();
      });
      child.once("exit", (code, signal) => {
        this.exitInfo ??= signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve();
      });
    });
  }

  /**
   * Spawns `jupyter server` in a process group of its own (so that stopping it reaches its
   * children) and registers it for the exit hook.
   */
  static spawn(jupyter: string, root: string, port: number): StartedServer {
    const token = randomBytes(24).toString("hex");
    const jupyterPath = [root, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter);
    const child = spawn(jupyter, serverArguments(port, token, root), {
      cwd: root,
      env: { ...process.env, JUPYTER_PATH: jupyterPath },
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const server = new StartedServer(child, port, token);
    liveServers.add(server);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", killAllJupyterServersNow);
    }
    return server;
  }

  /** The last lines the server wrote. */
  logTail(): string {
    return this.log.trim();
  }

  /** Polls `/api/status` until it answers 200 (see {@link startJupyterServer}). */
  async waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (signal?.aborted) throw new Error("interrupted while starting the Jupyter server");
      if (this.exitInfo !== null) {
        throw new Error(
          `the Jupyter server ${this.exitInfo} before it was ready; its log ends with:\n${this.logTail()}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the Jupyter server did not answer within ${Math.round(timeoutMs / 1000)} s; ` +
            `its log ends with:\n${this.logTail()}`,
        );
      }
      if ((await fetchStatus(this.url, this.token)).ok) return;
      await Promise.race([sleep(150), this.exited]);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.terminate();
    return this.stopping;
  }

  /** SIGTERM to the server's group; after a grace period SIGKILL to it and to its kernels. */
  private async terminate(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && this.exitInfo === null) {
      const kernels = descendants(pid);
      signalGroup(pid, "SIGTERM");
      await Promise.race([this.exited, sleep(5000)]);
      signalGroup(pid, "SIGKILL");
      for (const k of kernels) signalProcess(k, "SIGKILL");
    }
    liveServers.delete(this);
  }

  /** Synchronous last resort (process exit, second Ctrl-C). */
  killNow(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.exitInfo !== null) return;
    const kernels = descendants(pid);
    signalGroup(pid, "SIGKILL");
    for (const k of kernels) signalProcess(k, "SIGKILL");
  }
}

/**
 * Kills every server this process started and has not stopped, with their kernels, at once and
 * synchronously (for `process.on("exit")` and a second Ctrl-C).
 */
export function killAllJupyterServersNow(): void {
  for (const server of liveServers) server.killNow();
  liveServers.clear();
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    signalProcess(pid, signal);
  }
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * The process ids below `pid` (its kernels, which Jupyter starts in sessions of their own, so that
 * signalling the server's group does not reach them). Empty where `ps` is unavailable.
 */
function descendants(pid: number): number[] {
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What `GET <url>api/status` gave: an HTTP status, or why there was none. */
interface StatusAnswer {
  ok: boolean;
  status?: number;
  statusText?: string;
  /** Why the request failed (no HTTP answer), e.g. "connection refused". */
  failure?: string;
}

async function fetchStatus(url: string, token: string): Promise<StatusAnswer> {
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

/** Options of {@link attachJupyterServer}. */
export interface AttachServerOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8888/`. A `?token=` in it is used as the token. */
  url: string;
  /** The server's token (default: the URL's `token` parameter, else empty). */
  token?: string;
}

/**
 * Attaches to a running Jupyter server after checking that it answers `/api/status` with the
 * token. Throws a clear message for a malformed URL, an unreachable server and a rejected token.
 */
export async function attachJupyterServer(options: AttachServerOptions): Promise<JupyterServer> {
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new Error(
      `--url: expected a URL like http://127.0.0.1:8888/, got ${JSON.stringify(options.url)}`,
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(
      `--url: expected an http:// or https:// URL, got ${JSON.stringify(options.url)}`,
    );
  }
  const token = options.token ?? parsed.searchParams.get("token") ?? "";
  parsed.search = "";
  parsed.hash = "";
  if (!parsed.pathname.endsWith("/")) parsed.pathname += "/";
  const url = parsed.toString();
  const answer = await fetchStatus(url, token);
  if (answer.failure !== undefined) {
    throw new Error(`cannot reach the Jupyter server at ${url}: ${answer.failure}`);
  }
  if (answer.status === 401 || answer.status === 403) {
    throw new Error(
      `the Jupyter server at ${url} rejected the token (HTTP ${answer.status} ${answer.statusText}): ` +
        `pass the server's token with --token or the JUPYTER_TOKEN environment variable`,
    );
  }
  if (!answer.ok) {
    throw new Error(
      `${url}api/status answered HTTP ${answer.status} ${answer.statusText}: ` +
        `is ${url} the base URL of a Jupyter server?`,
    );
  }
  return { url, token, owned: false, stop: async () => {} };
}

/**
 * Whether the server serves `relPath` (relative to its root, "/"-separated): `GET
 * /api/contents/<relPath>?content=0` answers 200. Attaching to a server whose root is not the
 * course folder would give the kernels the wrong working directory.
 */
export async function serverHasFile(server: JupyterServer, relPath: string): Promise<boolean> {
  const encoded = relPath.split("/").map(encodeURIComponent).join("/");
  const res = await fetch(new URL(`api/contents/${encoded}?content=0`, server.url), {
    headers: { Authorization: `token ${server.token}` },
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  return res.ok;
}
