// @ts-check
/**
 * The mamba-ts kernel: the project's tslab (its TypeScript compiler, executor, completion and
 * inspection) behind a message loop that follows the Jupyter messaging protocol 5.3.
 *
 * tslab's own `ZmqServer` still opens and binds the five sockets; this subclass replaces only how
 * messages are handled. What it changes compared with stock tslab 1.0.22:
 * - A failing cell publishes an iopub `error` message ({ename, evalue, traceback}) and replies
 *   `status: "error"` with the same fields, instead of writing the error to stderr.
 * - `stop_on_error` is honoured as the protocol describes: after a failed non-silent execution
 *   with `stop_on_error: true`, the execute requests already waiting are answered
 *   `status: "aborted"`; requests sent later run normally (stock tslab aborts every request for
 *   200 ms, whatever the flag, so clients that send the next cell right away lose it).
 * - Shell requests are handled one at a time in arrival order, each framed by `busy`/`idle`
 *   status messages (stock tslab interleaves them, so a front end shows "idle" while a queued
 *   cell runs).
 * - `execute_input` is broadcast, the value of a cell's last expression is an `execute_result`
 *   (tslab prints it to stdout), `silent` and `store_history` are honoured, and the execution
 *   count only grows for non-silent requests.
 * - `kernel_info_reply` carries `status: "ok"`, the real TypeScript version and `help_links`;
 *   `comm_info_request` gets a `comm_info_reply` (stock tslab answers `complete_reply`);
 *   `history_request` is answered from this session's inputs; `comm_open` is refused with a
 *   `comm_close` (no comm targets); `interrupt_request` interrupts like SIGINT; other requests get
 *   an error reply instead of a warning printed into the last cell's output; `is_complete` also
 *   answers "invalid" (a syntax error before the end of the cell).
 * Not supported: stdin (`input_request`), comms/widgets, the debugger, `user_expressions`
 * (answered with an empty object), and pager payloads.
 */
"use strict";

const util = require("node:util");
const { randomUUID } = require("node:crypto");
const wire = require("./wire.cjs");
const { describeFailure, diagnosticLine, isDiagnostic, thrownDisplay } = require("./errors.cjs");

/** Writes to the kernel's own stderr (the Jupyter server's log), never to a cell. */
const originalStderrWrite = process.stderr.write.bind(process.stderr);
/** @param {unknown[]} args */
function kernelLog(...args) {
  originalStderrWrite(`[mamba-ts kernel] ${util.format(...args)}\n`);
}

/**
 * Collects what tslab's executor reports during one execution. The executor is created with
 * `{ log: capture.log, error: capture.error }` as its console: `log` receives the value of the
 * cell's last expression, `error` receives diagnostics and thrown values (see errors.cjs).
 */
class ExecutionCapture {
  constructor() {
    /** @type {{ reports: unknown[][], result: { value: unknown } | null } | null} */
    this.current = null;
    /** @param {unknown} value */
    this.log = (value) => {
      if (this.current) this.current.result = { value };
      else process.stdout.write(util.format(value) + "\n");
    };
    /** @param {unknown[]} args */
    this.error = (...args) => {
      if (this.current) this.current.reports.push(args);
      else process.stderr.write(util.format(...args) + "\n");
    };
  }
  begin() {
    this.current = { reports: [], result: null };
  }
  end() {
    const out = this.current ?? { reports: [], result: null };
    this.current = null;
    return out;
  }
}

/** Text for `execute_result`'s text/plain: what tslab used to print with console.log. */
function formatResult(/** @type {unknown} */ value) {
  return typeof value === "string" ? value : util.inspect(value, { colors: false });
}

/** Glob (`*`, `?`) to RegExp, for history searches. */
function globToRegExp(/** @type {string} */ pattern) {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "s");
}

/** The number of this kernel's history session (history is kept in memory, for this session). */
const HISTORY_SESSION = 1;

/**
 * @param {any} ZmqServer tslab's `ZmqServer` class (from tslab/dist/jupyter.js)
 */
function defineServer(ZmqServer) {
  class ConformingServer extends ZmqServer {
    /**
     * @param {object} options
     * @param {any} options.handler tslab's `JupyterHandlerImpl` (completion, inspection, is_complete)
     * @param {any} options.executor the tslab executor (also `handler.executor`)
     * @param {ExecutionCapture} options.capture the executor's console
     * @param {{ lastWriteDisplayData: unknown }} options.jupyterModule tslab/dist/jupyter.js, whose
     *   `lastWriteDisplayData` tslab's display API and lib's displayBundle use
     * @param {string} options.configPath the connection file
     * @param {Record<string, unknown>} options.kernelInfo kernel_info_reply content
     * @param {(code: string) => boolean} options.hasSyntaxErrorBeforeEnd for is_complete
     */
    constructor({
      handler,
      executor,
      capture,
      jupyterModule,
      configPath,
      kernelInfo,
      hasSyntaxErrorBeforeEnd,
    }) {
      super(handler, configPath);
      this.hasSyntaxErrorBeforeEnd = hasSyntaxErrorBeforeEnd;
      this.executor = executor;
      this.capture = capture;
      this.jupyterModule = jupyterModule;
      this.kernelInfo = kernelInfo;
      this.session = randomUUID();
      this.executionCount = 0;
      /** @type {Array<[number, number, string, string | null]>} session, line, input, output */
      this.history = [];
      /** @type {Array<{ sock: any, msg: import("./wire.cjs").Message, aborted: boolean }>} */
      this.shellQueue = [];
      this.pumping = false;
      this.shuttingDown = false;
    }

    /**
     * Entry point for every message on shell and control (tslab's socket loops call it without
     * awaiting). Control messages are handled at once; shell messages are queued.
     * @param {any} sock
     * @param {Buffer[]} frames
     */
    handleShellMessage(sock, ...frames) {
      let msg;
      try {
        msg = wire.parse(this.connInfo, frames);
      } catch (err) {
        kernelLog("dropped a message:", /** @type {Error} */ (err).message);
        return;
      }
      if (sock === this.control) {
        this.dispatch(sock, msg, false).catch((err) => kernelLog("control handler failed:", err));
        return;
      }
      this.shellQueue.push({ sock, msg, aborted: false });
      if (!this.pumping) this.pump().catch((err) => kernelLog("shell loop failed:", err));
    }

    async pump() {
      this.pumping = true;
      try {
        for (let item = this.shellQueue.shift(); item; item = this.shellQueue.shift()) {
          await this.dispatch(item.sock, item.msg, item.aborted);
        }
      } finally {
        this.pumping = false;
      }
    }

    // ---- sending -------------------------------------------------------------------------

    /**
     * @param {any} sock
     * @param {Array<Buffer | string>} frames
     */
    sendFrames(sock, frames) {
      // zeromq's send returns a promise; a failure must not surface as an unhandled rejection
      // (which the kernel would print into a cell).
      Promise.resolve()
        .then(() => sock.send(frames))
        .catch((/** @type {unknown} */ err) => kernelLog("send failed:", err));
    }

    /**
     * @param {any} sock
     * @param {import("./wire.cjs").Message} parent
     * @param {string} msgType
     * @param {unknown} content
     * @param {Record<string, unknown>} [metadata]
     */
    reply(sock, parent, msgType, content, metadata) {
      const header = wire.newHeader(this.session, msgType);
      this.sendFrames(
        sock,
        wire.serialize(this.connInfo, parent.identities, header, parent.header, content, metadata),
      );
    }

    /**
     * @param {string} msgType
     * @param {unknown} content
     * @param {import("./wire.cjs").Message | null} parent
     */
    publish(msgType, content, parent) {
      const header = wire.newHeader(this.session, msgType);
      const topic = [Buffer.from(`kernel.${this.session}.${msgType}`)];
      this.sendFrames(
        this.iopub,
        wire.serialize(this.connInfo, topic, header, parent ? parent.header : {}, content),
      );
    }

    // ---- dispatch ------------------------------------------------------------------------

    /**
     * Handles one request between `busy` and `idle`.
     * @param {any} sock
     * @param {import("./wire.cjs").Message} msg
     * @param {boolean} aborted
     */
    async dispatch(sock, msg, aborted) {
      const type = msg.header.msg_type;
      this.publish("status", { execution_state: "busy" }, msg);
      try {
        if (aborted && type === "execute_request") {
          this.reply(sock, msg, "execute_reply", { status: "aborted" }, { status: "aborted" });
          return;
        }
        switch (type) {
          case "kernel_info_request":
            this.reply(sock, msg, "kernel_info_reply", this.kernelInfo);
            break;
          case "execute_request":
            await this.execute(sock, msg);
            break;
          case "is_complete_request":
            this.replyFrom(sock, msg, "is_complete_reply", () => this.isComplete(msg.content));
            break;
          case "inspect_request":
            this.replyFrom(sock, msg, "inspect_reply", () =>
              this.handler.handleInspect(msg.content),
            );
            break;
          case "complete_request":
            this.replyFrom(sock, msg, "complete_reply", () =>
              this.handler.handleComplete(msg.content),
            );
            break;
          case "history_request":
            this.replyFrom(sock, msg, "history_reply", () => this.historyReply(msg.content));
            break;
          case "comm_info_request":
            this.reply(sock, msg, "comm_info_reply", { status: "ok", comms: {} });
            break;
          case "comm_open":
            // No comm targets are registered: refuse, as ipykernel does.
            this.publish("comm_close", { comm_id: msg.content.comm_id, data: {} }, msg);
            break;
          case "comm_msg":
          case "comm_close":
            break;
          case "connect_request":
            this.reply(sock, msg, "connect_reply", {
              status: "ok",
              shell_port: this.connInfo.shell_port,
              iopub_port: this.connInfo.iopub_port,
              stdin_port: this.connInfo.stdin_port,
              hb_port: this.connInfo.hb_port,
              control_port: this.connInfo.control_port,
            });
            break;
          case "interrupt_request":
            this.interrupt();
            this.reply(sock, msg, "interrupt_reply", { status: "ok" });
            break;
          case "shutdown_request":
            this.reply(sock, msg, "shutdown_reply", {
              status: "ok",
              restart: msg.content.restart === true,
            });
            this.scheduleShutdown();
            break;
          default:
            kernelLog(`unsupported message type: ${type}`);
            if (type.endsWith("_request")) {
              this.reply(sock, msg, type.replace(/_request$/, "_reply"), {
                status: "error",
                ename: "NotImplementedError",
                evalue: `the mamba-ts kernel does not handle ${type}`,
                traceback: [],
              });
            }
        }
      } catch (err) {
        kernelLog(`failed to handle ${type}:`, err);
      } finally {
        this.publish("status", { execution_state: "idle" }, msg);
      }
    }

    /**
     * Replies with `compute()`'s content, or an error reply if it throws.
     * @param {any} sock
     * @param {import("./wire.cjs").Message} msg
     * @param {string} replyType
     * @param {() => unknown} compute
     */
    replyFrom(sock, msg, replyType, compute) {
      let content;
      try {
        content = compute();
      } catch (err) {
        const e = /** @type {Error} */ (err);
        kernelLog(`${replyType} failed:`, e);
        content = {
          status: "error",
          ename: e.name || "Error",
          evalue: String(e.message),
          traceback: [],
        };
      }
      this.reply(sock, msg, replyType, content);
    }

    /**
     * tslab's answer ("complete", or "incomplete" when the parser expects more at the end),
     * plus "invalid" when the cell has a syntax error before its end: more input cannot fix it.
     * @param {any} content
     */
    isComplete(content) {
      const code = typeof content?.code === "string" ? content.code : "";
      if (this.hasSyntaxErrorBeforeEnd(code)) return { status: "invalid" };
      return this.handler.handleIsComplete({ code });
    }

    interrupt() {
      // The same path as a SIGINT from the front end: interrupts pending awaits (tslab's
      // handler) and a running synchronous script (vm's breakOnSigint).
      process.kill(process.pid, "SIGINT");
    }

    scheduleShutdown() {
      if (this.shuttingDown) return;
      this.shuttingDown = true;
      // Give the reply and the idle status a moment to leave, then stop.
      setTimeout(() => {
        try {
          this.close();
        } catch (err) {
          kernelLog("close failed:", err);
        }
        process.exit(0);
      }, 100);
    }

    // ---- execute -------------------------------------------------------------------------

    /**
     * @param {any} sock
     * @param {import("./wire.cjs").Message} msg
     */
    async execute(sock, msg) {
      const content = msg.content ?? {};
      const code = typeof content.code === "string" ? content.code : "";
      const silent = content.silent === true;
      const storeHistory = silent ? false : content.store_history !== false;
      const stopOnError = content.stop_on_error !== false;

      if (!silent) {
        this.executionCount += 1;
        this.publish("execute_input", { code, execution_count: this.executionCount }, msg);
      }
      const count = this.executionCount;

      // Output routing. Like tslab (and ipykernel), output written after a cell finished (timers,
      // unawaited promises) still goes to the last non-silent cell; a silent request's output is
      // dropped and the previous routing restored afterwards.
      const saved = {
        out: process.stdout.write,
        err: process.stderr.write,
        display: this.jupyterModule.lastWriteDisplayData,
      };
      if (silent) {
        process.stdout.write = discardWrite;
        process.stderr.write = discardWrite;
        this.jupyterModule.lastWriteDisplayData = () => {};
      } else {
        process.stdout.write = this.streamWriter("stdout", msg);
        process.stderr.write = this.streamWriter("stderr", msg);
        this.jupyterModule.lastWriteDisplayData = (
          /** @type {unknown} */ data,
          /** @type {boolean} */ update,
        ) => this.publish(update ? "update_display_data" : "display_data", data, msg);
      }

      this.capture.begin();
      let ok;
      try {
        ok = await this.executor.execute(code);
      } catch (err) {
        // The executor reports failures itself; anything thrown here is unexpected.
        this.capture.error(err);
        ok = false;
      }
      const { reports, result } = this.capture.end();

      if (silent) {
        process.stdout.write = saved.out;
        process.stderr.write = saved.err;
        this.jupyterModule.lastWriteDisplayData = saved.display;
      }

      if (ok) {
        // A `//%module` cell registers even when it has type errors: show them, as tslab does.
        const diagnostics = reports.filter(isDiagnostic);
        if (!silent && diagnostics.length > 0) {
          this.publish(
            "stream",
            { name: "stderr", text: diagnostics.map(diagnosticLine).join("\n") + "\n" },
            msg,
          );
        }
        let text = null;
        if (result !== null) {
          text = formatResult(result.value);
          if (!silent) {
            this.publish(
              "execute_result",
              { execution_count: count, data: { "text/plain": text }, metadata: {} },
              msg,
            );
          }
        }
        if (storeHistory) this.history.push([HISTORY_SESSION, count, code, text]);
        this.reply(
          sock,
          msg,
          "execute_reply",
          { status: "ok", execution_count: count, user_expressions: {}, payload: [] },
          { status: "ok" },
        );
        return;
      }

      const error = describeFailure(reports);
      const display = thrownDisplay(reports);
      if (!silent && display !== null) {
        this.publish("display_data", { data: display, metadata: {}, transient: {} }, msg);
      }
      if (!silent) this.publish("error", error, msg);
      if (storeHistory) this.history.push([HISTORY_SESSION, count, code, null]);
      this.reply(
        sock,
        msg,
        "execute_reply",
        { status: "error", execution_count: count, ...error, user_expressions: {}, payload: [] },
        { status: "error" },
      );
      if (!silent && stopOnError) await this.abortWaitingExecutes();
    }

    /**
     * After a failed execution with stop_on_error: every execute request that has already
     * arrived is answered "aborted" when its turn comes. Messages the sockets have received but
     * not yet handed over are collected first by yielding to the event loop once.
     */
    async abortWaitingExecutes() {
      await new Promise((resolve) => setImmediate(resolve));
      for (const item of this.shellQueue) {
        if (item.msg.header.msg_type === "execute_request") item.aborted = true;
      }
    }

    /**
     * @param {"stdout" | "stderr"} name
     * @param {import("./wire.cjs").Message} parent
     */
    streamWriter(name, parent) {
      const decoder = new util.TextDecoder();
      /** @type {any} */
      const write = (
        /** @type {unknown} */ chunk,
        /** @type {unknown} */ encoding,
        /** @type {unknown} */ callback,
      ) => {
        const text =
          typeof chunk === "string"
            ? chunk
            : decoder.decode(/** @type {Uint8Array} */ (chunk), { stream: false });
        if (text.length > 0) this.publish("stream", { name, text }, parent);
        const done = typeof encoding === "function" ? encoding : callback;
        if (typeof done === "function") process.nextTick(done);
        return true;
      };
      return write;
    }

    // ---- history -------------------------------------------------------------------------

    /**
     * history_request for this session's inputs (tail, range and search).
     * @param {any} content
     */
    historyReply(content) {
      const withOutput = content.output === true;
      /** @param {[number, number, string, string | null]} h */
      const entry = ([session, line, input, output]) =>
        withOutput ? [session, line, [input, output]] : [session, line, input];
      let rows = this.history;
      const n = typeof content.n === "number" && content.n >= 0 ? content.n : null;
      switch (content.hist_access_type) {
        case "tail":
          rows = n === null ? rows : n === 0 ? [] : rows.slice(-n);
          break;
        case "range": {
          // Session 0 (or a negative offset of 0) and our own number mean this session.
          const s = typeof content.session === "number" ? content.session : 0;
          if (s !== 0 && s !== HISTORY_SESSION) {
            rows = [];
            break;
          }
          const start = typeof content.start === "number" ? content.start : 1;
          const stop = typeof content.stop === "number" ? content.stop : Infinity;
          rows = rows.filter(([, line]) => line >= start && line < stop);
          break;
        }
        case "search": {
          const re = globToRegExp(typeof content.pattern === "string" ? content.pattern : "*");
          rows = rows.filter(([, , input]) => re.test(input));
          if (content.unique === true) {
            const seen = new Set();
            const unique = [];
            for (let i = rows.length - 1; i >= 0; i--) {
              if (!seen.has(rows[i][2])) {
                seen.add(rows[i][2]);
                unique.unshift(rows[i]);
              }
            }
            rows = unique;
          }
          if (n !== null) rows = n === 0 ? [] : rows.slice(-n);
          break;
        }
        default:
          throw new Error(
            `history_request: hist_access_type: expected "tail", "range" or "search", got ${JSON.stringify(content.hist_access_type)}`,
          );
      }
      return { status: "ok", history: rows.map(entry) };
    }
  }
  return ConformingServer;
}

/** @type {any} */
const discardWrite = (
  /** @type {unknown} */ _chunk,
  /** @type {unknown} */ encoding,
  /** @type {unknown} */ callback,
) => {
  const done = typeof encoding === "function" ? encoding : callback;
  if (typeof done === "function") process.nextTick(done);
  return true;
};

module.exports = { defineServer, ExecutionCapture, kernelLog, formatResult, globToRegExp };
