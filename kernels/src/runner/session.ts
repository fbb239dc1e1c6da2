/**
 * One notebook's kernel on a Jupyter server, driven through `@jupyterlab/services`: a session
 * started with the notebook's path (so the kernel's working directory is the notebook's folder),
 * cells executed one at a time with a timeout, and a kernel death noticed rather than waited on.
 *
 * `@jupyterlab/services` and `ws` are loaded on first use, so that importing `@mamba-ts/lib` in a
 * notebook does not load them.
 */
import * as path from "node:path";
import type { Kernel, KernelMessage, ServerConnection } from "@jupyterlab/services";
import type { Output } from "./nbformat";
import { type ExecuteReply, OutputCollector } from "./outputs";
import type { JupyterServer } from "./server";

type Services = typeof import("@jupyterlab/services");

function services(): Services {
  return require("@jupyterlab/services") as Services;
}

/** Connection settings for `@jupyterlab/services` in Node: built-in fetch, `ws` for WebSocket. */
export function serverSettings(server: JupyterServer): ServerConnection.ISettings {
  return services().ServerConnection.makeSettings({
    baseUrl: server.url,
    wsUrl: server.url.replace(/^http/, "ws"),
    token: server.token,
    appendToken: true,
    WebSocket: require("ws") as typeof WebSocket,
  });
}

/** The kernel names a server offers (`GET /api/kernelspecs`). */
export async function kernelNames(settings: ServerConnection.ISettings): Promise<string[]> {
  const specs = await services().KernelSpecAPI.getSpecs(settings);
  return Object.keys(specs.kernelspecs);
}

/** How {@link NotebookKernel.execute} ended. */
export type ExecutionOutcome =
  /** The kernel replied (the reply may still say "error"). */
  | "reply"
  /** No reply within the timeout; the kernel was interrupted, or shut down when that did not help. */
  | "timed-out"
  /** The kernel died or restarted before replying. */
  | "kernel-died"
  /** The run was aborted (Ctrl-C); the kernel was shut down. */
  | "aborted";

/** What one execute request produced. */
export interface Execution {
  outcome: ExecutionOutcome;
  /** The reply's content; null when there was no reply. */
  reply: ExecuteReply | null;
  outputs: Output[];
  executionCount: number | null;
  /** False when the kernel is gone (died, or was shut down after a timeout). */
  kernelAlive: boolean;
  seconds: number;
}

/** Options of {@link NotebookKernel.start}. */
export interface KernelStartOptions {
  /** The notebook's path relative to the server root, with "/" separators. */
  path: string;
  kernelName: string;
  /** How long the kernel may take to answer its first request (default 120 s). */
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Options of {@link NotebookKernel.execute}. */
export interface ExecuteOptions {
  timeoutMs: number;
  /** How long to wait for the reply after interrupting a timed-out cell (default 3 s). */
  interruptGraceMs?: number;
  signal?: AbortSignal;
}

/** Kernel states that mean the kernel that ran our cells is gone. */
const DEATH_STATES: ReadonlySet<string> = new Set(["dead", "restarting", "autorestarting"]);

/** A kernel in a notebook session (see the module comment). */
export class NotebookKernel {
  private closed = false;
  private deathReason: string | null = null;
  private readonly died: Promise<void>;

  private constructor(
    private readonly settings: ServerConnection.ISettings,
    private readonly sessionId: string,
    private readonly kernel: Kernel.IKernelConnection,
  ) {
    this.died = new Promise((resolve) => {
      kernel.statusChanged.connect((_, status) => {
        if (DEATH_STATES.has(status) && this.deathReason === null) {
          this.deathReason = `kernel status "${status}"`;
          resolve();
        }
      });
      kernel.connectionStatusChanged.connect((_, status) => {
        if (status === "disconnected" && this.deathReason === null && !this.closed) {
          this.deathReason = "the connection to the kernel was lost";
          resolve();
        }
      });
    });
  }

  /**
   * Starts a session for the notebook at `options.path` with kernel `options.kernelName` and
   * waits until the kernel answers. Throws (after shutting the session down) when it cannot.
   */
  static async start(
    settings: ServerConnection.ISettings,
    options: KernelStartOptions,
  ): Promise<NotebookKernel> {
    const api = services();
    const model = await api.SessionAPI.startSession(
      {
        path: options.path,
        type: "notebook",
        name: path.posix.basename(options.path),
        kernel: { name: options.kernelName },
      },
      settings,
    );
    if (model.kernel === null) {
      await api.SessionAPI.shutdownSession(model.id, settings).catch(() => undefined);
      throw new Error("the server started a session without a kernel");
    }
    const kernelModel = model.kernel;
    // The connection announces each WebSocket it opens on console.debug; a runner has no use for it.
    const connection = quietly(
      () =>
        new api.KernelConnection({
          model: kernelModel,
          serverSettings: settings,
          handleComms: false,
        }),
    );
    // When the server restarts a dead kernel, the connection reconnects from a promise nobody
    // awaits; closing the connection meanwhile rejects it, which would end the Node process with
    // an unhandled rejection. The runner never uses the restarted kernel, so failures are ignored.
    const reconnect = connection.reconnect.bind(connection);
    connection.reconnect = () => reconnect().catch(() => undefined);
    const kernel = new NotebookKernel(settings, model.id, connection);
    const timeoutMs = options.startTimeoutMs ?? 120_000;
    const timer = delay(timeoutMs);
    const abort = whenAborted(options.signal);
    // `info` waits for the connection's kernel_info reply and the `idle` status after it. That
    // status is lost when the connection's iopub is not yet subscribed as the kernel answers:
    // jupyter_server skips its own wait for the subscription (its "nudge") when it still believes
    // the kernel busy from the kernel_info request it sent itself. Asking again, as the server's
    // nudge would, gets an answer whose status arrives.
    const askAgain = setInterval(() => {
      if (connection.connectionStatus === "connected") {
        connection.requestKernelInfo().catch(() => undefined);
      }
    }, KERNEL_INFO_RETRY_MS);
    try {
      const first = await Promise.race([
        connection.info.then(() => "ready" as const),
        kernel.died.then(() => "died" as const),
        timer.promise.then(() => "timeout" as const),
        abort.promise.then(() => "aborted" as const),
      ]);
      if (first === "ready") return kernel;
      throw new Error(
        first === "died"
          ? `the kernel died while starting (${kernel.deathReason})`
          : first === "timeout"
            ? `the kernel did not answer within ${timeoutMs / 1000} s`
            : "interrupted while starting the kernel",
      );
    } catch (err) {
      await kernel.shutdown();
      throw err;
    } finally {
      clearInterval(askAgain);
      timer.cancel();
      abort.cancel();
    }
  }

  /**
   * Runs `code` and collects its outputs until the reply. On timeout the kernel is interrupted;
   * if it still has not replied after `interruptGraceMs` (a kernel blocked where an interrupt
   * cannot reach it, e.g. in native code), it is shut down. A kernel that dies or restarts ends
   * the wait at once.
   */
  async execute(code: string, options: ExecuteOptions): Promise<Execution> {
    const started = Date.now();
    const collector = new OutputCollector();
    const future = this.kernel.requestExecute(
      { code, silent: false, store_history: true, allow_stdin: false, stop_on_error: true },
      true,
    );
    future.onIOPub = (msg: KernelMessage.IIOPubMessage) => collector.add(msg);
    const replied = future.done.then(
      (msg) => ({ kind: "reply" as const, reply: msg.content as ExecuteReply }),
      () => ({ kind: "died" as const }), // a kernel restart cancels pending requests
    );
    const died = this.died.then(() => ({ kind: "died" as const }));
    const abort = whenAborted(options.signal);
    const stop = abort.promise.then(() => ({ kind: "aborted" as const }));
    const timer = delay(options.timeoutMs);
    const timedOut = timer.promise.then(() => ({ kind: "timeout" as const }));
    let first = await Promise.race([replied, died, stop, timedOut]);
    timer.cancel();

    let outcome: ExecutionOutcome;
    if (first.kind === "timeout") {
      outcome = "timed-out";
      await this.kernel.interrupt().catch(() => undefined);
      const grace = delay(options.interruptGraceMs ?? 3000);
      first = await Promise.race([replied, died, stop, grace.promise.then(() => first)]);
      grace.cancel();
    } else {
      outcome =
        first.kind === "reply" ? "reply" : first.kind === "died" ? "kernel-died" : "aborted";
    }
    abort.cancel();
    const reply = first.kind === "reply" ? first.reply : null;
    if (reply === null) await this.shutdown();
    return {
      outcome,
      reply,
      outputs: collector.outputs,
      executionCount: typeof reply?.execution_count === "number" ? reply.execution_count : null,
      kernelAlive: !this.closed,
      seconds: (Date.now() - started) / 1000,
    };
  }

  /**
   * Closes the connection and shuts the session and its kernel down. The server refuses while it
   * is restarting a dead kernel, so a refusal is retried for up to `SHUTDOWN_RETRY_MS`. Idempotent.
   */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.kernel.dispose();
    const { SessionAPI } = services();
    const deadline = Date.now() + SHUTDOWN_RETRY_MS;
    for (;;) {
      try {
        await SessionAPI.shutdownSession(this.sessionId, this.settings);
        return;
      } catch {
        if (Date.now() > deadline) return; // a started server is stopped with its kernels anyway
        await delay(1000).promise;
      }
    }
  }
}

/** How often {@link NotebookKernel.start} asks a kernel that has not answered for its info. */
const KERNEL_INFO_RETRY_MS = 2000;

/** How long {@link NotebookKernel.shutdown} retries a refused shutdown. */
const SHUTDOWN_RETRY_MS = 30_000;

/** Runs `make` with console.debug silenced. */
function quietly<T>(make: () => T): T {
  const debug = console.debug;
  console.debug = () => undefined;
  try {
    return make();
  } finally {
    console.debug = debug;
  }
}

/** A cancellable timer. */
function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let handle: NodeJS.Timeout | undefined;
  const promise = new Promise<void>((resolve) => {
    handle = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(handle) };
}

/** Resolves when `signal` aborts (never without a signal); `cancel` removes the listener. */
function whenAborted(signal: AbortSignal | undefined): {
  promise: Promise<void>;
  cancel: () => void;
} {
  if (signal === undefined)
    return { promise: new Promise(() => undefined), cancel: () => undefined };
  if (signal.aborted) return { promise: Promise.resolve(), cancel: () => undefined };
  let onAbort = () => undefined as void;
  const promise = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, cancel: () => signal.removeEventListener("abort", onAbort) };
}
