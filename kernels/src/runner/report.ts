/**
 * Text for people: the runner's progress lines and its final summary table.
 */
import * as path from "node:path";
import type { ExerciseCheck } from "./outputs";
import type { NotebookResult, RunEvent, RunReport } from "./runner";

/** One progress line for an event (a line per code cell), or null for events not shown. */
export function formatProgress(event: RunEvent): string | null {
  switch (event.type) {
    case "server":
      return event.started
        ? `started a Jupyter server at ${event.url}`
        : `using the Jupyter server at ${event.url}`;
    case "notebook-start":
      return `${event.path}: ${event.codeCells} code cell${event.codeCells === 1 ? "" : "s"}`;
    case "cell": {
      const { cell } = event;
      const where = `cell ${String(cell.index + 1).padStart(String(event.cells).length)}/${event.cells}`;
      return `${event.path}  ${where}  ${cell.status.padEnd(11)} ${cell.seconds.toFixed(2).padStart(7)} s`;
    }
    case "notebook-end":
      return event.result.status === "passed"
        ? `${event.result.path}: passed in ${event.result.seconds.toFixed(1)} s`
        : `${event.result.path}: FAILED: ${event.result.failure?.message ?? "unknown failure"}`;
  }
}

/**
 * The summary: a table (notebook, status, code cells that ran ok, exercise checks, time), then
 * each failure with its notebook, cell and message, then a total line.
 */
export function formatSummary(report: RunReport): string {
  const rows = report.notebooks.map((nb) => [
    nb.path,
    nb.status === "passed" ? "passed" : "FAILED",
    `${nb.cells.filter((c) => c.status === "ok").length}/${nb.cells.length}`,
    describeChecks(nb.checks),
    `${nb.seconds.toFixed(1)} s`,
  ]);
  const lines = table([["notebook", "status", "cells ok", "exercise checks", "time"], ...rows]);
  const failed = report.notebooks.filter((nb) => nb.status === "failed");
  if (failed.length > 0) lines.push("", ...failed.flatMap(failureLines));
  const passed = report.notebooks.length - failed.length;
  let total = `${report.notebooks.length} notebook${report.notebooks.length === 1 ? "" : "s"}: ${passed} passed, ${failed.length} failed (${report.seconds.toFixed(1)} s)`;
  if (report.summaryPath !== null) {
    total += `; executed copies and summary.json in ${displayPath(path.dirname(report.summaryPath))}`;
  }
  lines.push("", total);
  return lines.join("\n");
}

/** A path relative to the working directory when it lies below it, else absolute. */
function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === "" ? "." : rel.startsWith("..") || path.isAbsolute(rel) ? file : rel;
}

/** "2 passed, 1 not implemented" (or "-" when there were none). */
function describeChecks(checks: readonly ExerciseCheck[]): string {
  const counts = new Map<string, number>();
  for (const c of checks) {
    const label = c.status === "not-implemented" ? "not implemented" : c.status;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return counts.size === 0 ? "-" : [...counts].map(([label, n]) => `${n} ${label}`).join(", ");
}

function failureLines(nb: NotebookResult): string[] {
  return nb.failures.map((f) => {
    const id = f.cellId === undefined ? "" : ` [cell id ${f.cellId}]`;
    return `${nb.path}${id}: ${f.message}`;
  });
}

/** Left-aligned columns separated by two spaces. */
function table(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, col) => Math.max(...rows.map((r) => r[col].length)));
  return rows.map((r) =>
    r
      .map((cell, col) => cell.padEnd(widths[col]))
      .join("  ")
      .trimEnd(),
  );
}
