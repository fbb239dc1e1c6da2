#!/usr/bin/env node
// @ts-check
/**
 * Launches the mamba-ts Jupyter kernel: `node kernels/adapter/main.cjs <connection_file>`
 * (the kernelspec's argv).
 *
 * It loads the project's own tslab (resolved from this file's location, so it works wherever the
 * kernelspec is installed and whatever the notebook's folder is), builds tslab's converter,
 * executor and request handler exactly as `tslab kernel` does, and serves them with the
 * protocol-conforming message loop of server.cjs. The notebook's folder (the kernel's working
 * directory) stays the root for cell imports, as with stock tslab.
 */
"use strict";

const path = require("node:path");
const { defineServer, ExecutionCapture, kernelLog } = require("./server.cjs");
const wire = require("./wire.cjs");

/** The tslab version this adapter was written against (it uses tslab's internal modules). */
const EXPECTED_TSLAB = "1.0.22";

function main() {
  const configPath = process.argv[2];
  if (!configPath || process.argv.length !== 3) {
    process.stderr.write("usage: node kernels/adapter/main.cjs <connection_file>\n");
    process.exit(2);
  }

  const tslabDir = path.dirname(require.resolve("tslab/package.json", { paths: [__dirname] }));
  const tslabVersion = require(path.join(tslabDir, "package.json")).version;
  if (tslabVersion !== EXPECTED_TSLAB) {
    kernelLog(`expected tslab ${EXPECTED_TSLAB}, found ${tslabVersion} in ${tslabDir}`);
  }
  const jupyter = require(path.join(tslabDir, "dist", "jupyter.js"));
  const { createExecutor } = require(path.join(tslabDir, "dist", "executor.js"));
  const { createConverter } = require(path.join(tslabDir, "dist", "converter.js"));
  // The TypeScript compiler tslab embeds (cells are compiled by it, as `.ts` files).
  const ts = require(require.resolve("@tslab/typescript-for-tslab", { paths: [tslabDir] }));
  const typescriptVersion = ts.version;
  /** @param {string} code */
  const hasSyntaxErrorBeforeEnd = (code) => {
    const file = ts.createSourceFile(
      "cell.ts",
      code,
      ts.ScriptTarget.Latest,
      false,
      ts.ScriptKind.TS,
    );
    /** @type {Array<{ start?: number, length?: number }>} */
    const diagnostics = file.parseDiagnostics ?? [];
    return diagnostics.some((d) => d.start !== code.length || (d.length ?? 0) !== 0);
  };

  // tslab's ConverterSetImpl (not exported): one converter per mode, created on first use.
  /** @type {{ _node?: any, _browser?: any }} */
  const made = {};
  const converters = {
    get node() {
      return (made._node ??= createConverter({ isJS: false, isBrowser: false }));
    },
    get browser() {
      return (made._browser ??= createConverter({ isJS: false, isBrowser: true }));
    },
    close() {
      made._node?.close();
      made._browser?.close();
    },
  };
  void converters.node; // compile the standard library now rather than in the first cell

  const capture = new ExecutionCapture();
  const executor = createExecutor(process.cwd(), converters, {
    log: capture.log,
    error: capture.error,
  });
  const handler = new jupyter.JupyterHandlerImpl(executor, false);

  const stock = handler.handleKernel();
  const kernelInfo = {
    status: "ok",
    protocol_version: wire.PROTOCOL_VERSION,
    implementation: "tslab",
    implementation_version: tslabVersion,
    language_info: {
      ...stock.language_info,
      name: "typescript",
      version: typescriptVersion,
      mimetype: "text/typescript",
      file_extension: ".ts",
      pygments_lexer: "typescript",
    },
    banner: `TypeScript ${typescriptVersion} on Node.js ${process.version} (tslab ${tslabVersion}, mamba-ts kernel)`,
    help_links: [
      { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/" },
      { text: "Node.js API", url: "https://nodejs.org/docs/latest-v20.x/api/" },
    ],
    debugger: false,
  };

  const ConformingServer = defineServer(jupyter.ZmqServer);
  const server = new ConformingServer({
    handler,
    executor,
    capture,
    jupyterModule: jupyter,
    configPath,
    kernelInfo,
    hasSyntaxErrorBeforeEnd,
  });

  process.on("SIGINT", () => executor.interrupt());
  // Errors that escape a cell later (timers, unawaited promises) are reported where tslab
  // reports them: on stderr, which is routed to the last cell.
  process.on("uncaughtException", (err) => console.error("UncaughtException:", err));
  process.on("unhandledRejection", (reason) => console.error("UnhandledPromiseRejection:", reason));

  server.init().catch((/** @type {unknown} */ err) => {
    kernelLog("could not start:", err);
    process.exit(1);
  });
  exitWithParent();
}

/**
 * Jupyter's launcher sets JPY_PARENT_PID to the process that started the kernel. If that process
 * dies without shutting the kernel down (a crashed script or server), the kernel is re-parented:
 * then it exits, as ipykernel does, instead of lingering.
 */
function exitWithParent() {
  if (!/^\d+$/.test(process.env.JPY_PARENT_PID ?? "")) return;
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      kernelLog("the process that started this kernel is gone: exiting");
      process.exit(0);
    }
  }, 2000).unref();
}

main();
