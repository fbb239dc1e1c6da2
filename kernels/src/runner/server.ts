/**
 * The Jupyter server that the notebook runner talks to.
 *
 * Either the runner starts one ({@link startJupyterServer}): `jupyter server` on 127.0.0.1, a free
 * port, a random token, the course repository as its root, and `JUPYTER_PATH` pointing at the
 * repository so that the `kernels/mamba-ts` kernelspec is found; or it attaches to a running one
 * ({@link attachJupyterServer}) given its URL and token. A started server is always stopped with
 * its kernels: by {@link JupyterServer.stop}, and as a last resort when the Node process exits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { ROOT, fetchStatus, findJupyter } from "../jupyter";
import { descendants, freePort, signalGroup, signalProcess } from "../process";

export { findJupyter } from "../jupyter";

/** The course repository (the folder that holds lib/, kernels/, notebooks/). */
export function courseRoot(): string {
  return ROOT;
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
  /** The `jupyter` executable (default: jupyter.ts's `findJupyter`, one discovery order). */
  jupyter?: string;
  /** How long to wait for the server to answer (default 120 s). */
  readyTimeoutMs?: number;
  /** Aborts the start (the server is then stopped). */
  signal?: AbortSignal;
}

/** The arguments of `jupyter server`, valid for jupyter_server 1.x and 2.x. */
function serverArguments(port: number, token: string, root: string): string[] {
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

/** A free TCP port on 127.0.0.1 (the OS's pick). */
async function anyFreePort(): Promise<number> {
  const port = await freePort();
  if (port === null) throw new Error("no free port on 127.0.0.1");
  return port;
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
    const server = StartedServer.spawn(jupyter, root, await anyFreePort());
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
  /** Resolves when the child's output pipes have closed: everything it wrote is in the log. */
  private readonly outputClosed: Promise<void>;
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
    // "exit" can come before the last output is read; "close" comes after it (or never, while a
    // child of the server holds the pipes open, hence the bounded wait where it is awaited)
    this.outputClosed = new Promise((resolve) => child.once("close", () => resolve()));
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
        await Promise.race([this.outputClosed, sleep(1000)]);
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
