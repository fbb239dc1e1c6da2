// @ts-check
/**
 * Turns what tslab's executor reports about a failed cell into the content of a Jupyter `error`
 * message: `{ ename, evalue, traceback }`.
 *
 * tslab's executor reports failures through the `console` object it is given (we give it our own,
 * see server.cjs), in two shapes:
 * - a TypeScript diagnostic: `error("%s%d:%d - %s", fileName, line, column, message)`, once per
 *   diagnostic, when the cell does not compile;
 * - a thrown value: `error(value)`, when the cell throws (synchronously or from a top-level await),
 *   including interrupts (reported as ename "Interrupted").
 */
"use strict";

const util = require("node:util");

/** The format string tslab uses for one diagnostic. */
const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

/**
 * Stack frames that belong to the kernel rather than to the learner's code or lib: Node's vm and
 * internals, tslab, and this adapter. They are dropped from tracebacks.
 */
const INTERNAL_FRAME =
  /^\s+at .*(node:vm|node:internal|[\\/]tslab[\\/]dist[\\/]|[\\/]kernels[\\/]adapter[\\/])/;

/** `evalmachine.<anonymous>:2\n<source line>\n   ^\n\n` at the start of a decorated stack. */
const VM_DECORATION = /^evalmachine\.<anonymous>:\d+\n[^\n]*\n[ \t]*\^+[ \t]*\n\n/;

/**
 * @param {unknown[]} args one call of the executor's `console.error`
 * @returns {boolean}
 */
function isDiagnostic(args) {
  return args.length === 5 && args[0] === DIAGNOSTIC_FORMAT;
}

/**
 * One diagnostic as a line, like tslab prints it: `[file ]line:column - message`.
 * @param {unknown[]} args
 */
function diagnosticLine(args) {
  return util.format(...args);
}

/**
 * The text of a thrown value as Node would print it, minus the kernel's own stack frames.
 * @param {unknown} value
 */
function thrownText(value) {
  // An error thrown synchronously by a cell's script carries Node's vm decoration (the compiled
  // JavaScript line and a caret) in front of its stack: drop it, its line numbers are not the
  // cell's.
  const text = util.inspect(value, { colors: false, depth: 4 }).replace(VM_DECORATION, "");
  /** @type {string[]} */
  const kept = [];
  for (const line of text.split("\n")) {
    if (!INTERNAL_FRAME.test(line)) kept.push(line);
    // The last frame of an error with own properties opens their block: keep the brace.
    else if (line.endsWith(" {") && kept.length > 0) kept[kept.length - 1] += " {";
  }
  return kept.join("\n");
}

/**
 * An interrupt (SIGINT or interrupt_request): a synchronous script stopped by vm's
 * breakOnSigint, or a top-level await abandoned by tslab.
 * @param {unknown} value
 */
function isInterrupt(value) {
  if (!(value instanceof Error)) return false;
  const code = /** @type {{ code?: unknown }} */ (value).code;
  return (
    code === "ERR_SCRIPT_EXECUTION_INTERRUPTED" || value.message === "Interrupted asynchronously"
  );
}

/**
 * @param {unknown} value
 * @returns {{ ename: string, evalue: string, traceback: string[] }}
 */
function thrownError(value) {
  if (isInterrupt(value)) {
    const evalue = "the cell was interrupted";
    return { ename: "Interrupted", evalue, traceback: [`Interrupted: ${evalue}`] };
  }
  if (value instanceof Error || (value !== null && typeof value === "object" && "stack" in value)) {
    const err = /** @type {Error} */ (value);
    const ename = typeof err.name === "string" && err.name ? err.name : "Error";
    const evalue = typeof err.message === "string" ? err.message : String(err.message);
    return { ename, evalue, traceback: thrownText(err).split("\n") };
  }
  // `throw "text"`, `throw 42`, `throw { code }`: no stack to show.
  const shown = util.inspect(value, { colors: false, depth: 4 });
  return { ename: "Uncaught", evalue: shown, traceback: [`Uncaught ${shown}`] };
}

/**
 * The `error` content for a failed execution, from every `console.error` call the executor made
 * while running it.
 * @param {unknown[][]} reports
 * @returns {{ ename: string, evalue: string, traceback: string[] }}
 */
function describeFailure(reports) {
  const diagnostics = reports.filter(isDiagnostic);
  if (diagnostics.length > 0) {
    const first = diagnostics[0];
    const more = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : "";
    return {
      ename: "CompileError",
      evalue: `${first[2]}:${first[3]} - ${first[4]}${more}`,
      traceback: diagnostics.map(diagnosticLine),
    };
  }
  const thrown = reports.find((args) => args.length === 1);
  if (thrown !== undefined) return thrownError(thrown[0]);
  if (reports.length > 0) {
    const text = reports.map((args) => util.format(...args)).join("\n");
    return { ename: "Error", evalue: text, traceback: text.split("\n") };
  }
  return {
    ename: "Error",
    evalue: "the cell failed without a message",
    traceback: ["Error: the cell failed without a message"],
  };
}

/**
 * The MIME bundle a thrown value asks to be shown with when it ends a cell: its own `mimeBundle`
 * property, an object (lib's `CheckFailedError` carries the structured check outcome this way).
 * A value that is caught inside the cell never gets here, so it is never shown.
 * @param {unknown[][]} reports
 * @returns {Record<string, unknown> | null}
 */
function thrownDisplay(reports) {
  const thrown = reports.find((args) => args.length === 1);
  if (thrown === undefined) return null;
  const value = /** @type {{ mimeBundle?: unknown } | null} */ (thrown[0]);
  if (typeof value !== "object" || value === null) return null;
  const bundle = value.mimeBundle;
  if (typeof bundle !== "object" || bundle === null || Array.isArray(bundle)) return null;
  return /** @type {Record<string, unknown>} */ (bundle);
}

module.exports = {
  describeFailure,
  thrownDisplay,
  isDiagnostic,
  diagnosticLine,
  DIAGNOSTIC_FORMAT,
};
