#!/usr/bin/env node
/**
 * `npm run lessons [-- options]` / `mamba-ts-run [options] <notebook|folder>...`: runs notebooks
 * on a Jupyter server with the mamba-ts kernel (see runner.ts) and prints a summary. Progress goes
 * to stderr, the summary table to stdout.
 */
import { parseArgs } from "node:util";
import { formatProgress, formatSummary } from "./report";
import { type RunOptions, RunAbortedError, runNotebooks } from "./runner";
import { killAllJupyterServersNow } from "./server";

const USAGE = `Usage: mamba-ts-run [options] <notebook|folder>...
       npm run lessons [-- options]        (runs the learner notebooks in notebooks/)

Runs notebooks top to bottom on a Jupyter server with their kernel (mamba-ts), like "Run All",
and stops each at its first failing cell: an error, any output on stderr, a cell that runs past
the timeout, or a kernel that dies. A folder means its *.ipynb files. Executed copies go to
<out>/<notebook path>, with summary.json; the notebooks themselves are never written.

Options:
  --solutions       for folders: run the notebooks in <folder>/solutions instead
  --both            for folders: run <folder>/*.ipynb, then <folder>/solutions/*.ipynb
  --timeout <s>     per-cell timeout in seconds (default 300)
  --keep-going      run the rest of a notebook after a failing cell
  --out <dir>       folder for executed copies and summary.json (default: .executed in the
                    course folder); refused before anything runs when it is an existing file
  --url <url>       use this running Jupyter server instead of starting one; its root must be
                    the course folder (as with \`npm start\`)
  --token <token>   that server's token (default: env JUPYTER_TOKEN)
  --jupyter <path>  the jupyter executable to start (default: the course .venv's, then the one
                    beside jupyter-lab or jupyter-notebook on PATH, then jupyter on PATH)
  -h, --help        show this help

Exit status: 0 when every notebook passed, 1 when one failed or the run could not start,
2 for a usage error, 130 when interrupted (Ctrl-C).`;

/** A command-line mistake: exit 2 with the usage. */
class UsageError extends Error {}

/** Turns the command line into runner inputs and options (throws UsageError). */
function parseCommandLine(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): { help: true } | { help: false; inputs: string[]; options: RunOptions } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        solutions: { type: "boolean" },
        both: { type: "boolean" },
        timeout: { type: "string" },
        "keep-going": { type: "boolean" },
        out: { type: "string" },
        url: { type: "string" },
        token: { type: "string" },
        jupyter: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length === 0) throw new UsageError("name at least one notebook or folder");
  if (values.solutions && values.both)
    throw new UsageError("--solutions and --both exclude each other");
  if (values.token !== undefined && values.url === undefined) {
    throw new UsageError("--token needs --url (a started server gets its own token)");
  }
  if (values.url !== undefined && values.jupyter !== undefined) {
    throw new UsageError("--jupyter starts a server, --url uses a running one: give one of them");
  }
  let timeoutSeconds: number | undefined;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (values.timeout.trim() === "" || !Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
      throw new UsageError(
        `--timeout: expected a positive number of seconds, got ${JSON.stringify(values.timeout)}`,
      );
    }
  }
  return {
    help: false,
    inputs: positionals,
    options: {
      folders: values.both ? "both" : values.solutions ? "solutions" : "learner",
      timeoutSeconds,
      keepGoing: values["keep-going"] ?? false,
      outDir: values.out,
      url: values.url,
      token: values.url === undefined ? undefined : (values.token ?? env.JUPYTER_TOKEN),
      jupyter: values.jupyter,
    },
  };
}

/** Runs the command line; resolves with the exit status. */
async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseCommandLine(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mamba-ts-run: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (command.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // @jupyterlab/services logs connection events ("Kernel: restarting", "Connection lost,
  // reconnecting") on the console; this command reports them itself, and writes with
  // process.stdout / process.stderr only.
  console.debug = console.warn = () => undefined;
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // A second Ctrl-C: do not wait for a clean shutdown.
      killAllJupyterServersNow();
      process.exit(130);
    }
    process.stderr.write(`\nmamba-ts-run: ${signal}: stopping the kernels and the server…\n`);
    controller.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const report = await runNotebooks(command.inputs, {
      ...command.options,
      signal: controller.signal,
      onProgress: (event) => {
        const line = formatProgress(event);
        if (line !== null) process.stderr.write(`${line}\n`);
      },
    });
    process.stdout.write(`\n${formatSummary(report)}\n`);
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof RunAbortedError || controller.signal.aborted) {
      process.stderr.write("mamba-ts-run: interrupted\n");
      return 130;
    }
    process.stderr.write(`mamba-ts-run: ${(err as Error).message}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(exitWith, (err: unknown) => {
    process.stderr.write(`mamba-ts-run: ${(err as Error)?.stack ?? String(err)}\n`);
    exitWith(1);
  });
}

/** Exits with `code` once output is flushed, even if a stray handle would keep Node alive. */
function exitWith(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), 2000).unref();
}
