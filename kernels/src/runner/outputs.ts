/**
 * What a cell produced: kernel messages turned into nbformat outputs, the verdict on the cell
 * (stderr, `error` outputs and a non-ok reply are failures), and the exercise check outcomes in it.
 */
import type { KernelMessage } from "@jupyterlab/services";
import { CHECK_MIME, type CheckOutcome } from "@mamba-ts/lib";
import { type MultilineString, type Output, toLines } from "./nbformat";

/**
 * Collects one cell's IOPub messages as nbformat outputs, the way Jupyter front ends store them:
 * consecutive stream messages of the same name are merged, `update_display_data` rewrites the
 * outputs with the same display id, `clear_output` (also with `wait`) clears them.
 */
export class OutputCollector {
  readonly outputs: Output[] = [];
  private clearOnNextOutput = false;

  /** Display id -> the outputs that show it. */
  private readonly displays = new Map<string, Output[]>();

  /** Handles one IOPub message (messages that are not outputs are ignored). */
  add(msg: KernelMessage.IIOPubMessage): void {
    const content = msg.content as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case "stream":
        this.addStream(content.name === "stderr" ? "stderr" : "stdout", String(content.text ?? ""));
        break;
      case "display_data":
      case "execute_result":
        this.addDisplay(msg.header.msg_type, content);
        break;
      case "update_display_data":
        this.updateDisplay(content);
        break;
      case "error":
        this.push({
          output_type: "error",
          ename: String(content.ename ?? ""),
          evalue: String(content.evalue ?? ""),
          traceback: Array.isArray(content.traceback) ? content.traceback.map(String) : [],
        });
        break;
      case "clear_output":
        if (content.wait === true) this.clearOnNextOutput = true;
        else this.clear();
        break;
    }
  }

  private push(output: Output): void {
    if (this.clearOnNextOutput) this.clear();
    this.outputs.push(output);
  }

  private clear(): void {
    this.outputs.length = 0;
    this.displays.clear();
    this.clearOnNextOutput = false;
  }

  private addStream(name: "stdout" | "stderr", text: string): void {
    if (this.clearOnNextOutput) this.clear();
    const last = this.outputs[this.outputs.length - 1];
    if (last?.output_type === "stream" && last.name === name) {
      last.text = toLines(joinText(last.text) + text);
    } else {
      this.push({ output_type: "stream", name, text: toLines(text) });
    }
  }

  private addDisplay(
    kind: "display_data" | "execute_result",
    content: Record<string, unknown>,
  ): void {
    const data = mimeBundle(content.data);
    const metadata = (content.metadata as Record<string, unknown> | undefined) ?? {};
    const output: Output =
      kind === "execute_result"
        ? {
            output_type: kind,
            data,
            metadata,
            execution_count: (content.execution_count as number) ?? null,
          }
        : { output_type: kind, data, metadata };
    this.push(output);
    const id = displayId(content);
    if (id !== undefined) this.displays.set(id, [...(this.displays.get(id) ?? []), output]);
  }

  private updateDisplay(content: Record<string, unknown>): void {
    const id = displayId(content);
    for (const output of (id !== undefined && this.displays.get(id)) || []) {
      if (output.output_type === "display_data" || output.output_type === "execute_result") {
        output.data = mimeBundle(content.data);
        output.metadata = (content.metadata as Record<string, unknown> | undefined) ?? {};
      }
    }
  }
}

function displayId(content: Record<string, unknown>): string | undefined {
  const id = (content.transient as { display_id?: unknown } | undefined)?.display_id;
  return typeof id === "string" ? id : undefined;
}

/** nbformat stores text MIME types as lists of lines and JSON MIME types as JSON. */
function mimeBundle(data: unknown): Record<string, unknown> {
  const bundle: Record<string, unknown> = {};
  for (const [mime, value] of Object.entries((data as Record<string, unknown> | undefined) ?? {})) {
    const isJson = mime === "application/json" || mime.endsWith("+json");
    bundle[mime] = typeof value === "string" && !isJson ? toLines(value) : value;
  }
  return bundle;
}

/** A multiline string as one string. */
function joinText(text: MultilineString): string {
  return Array.isArray(text) ? text.join("") : text;
}

/** The kernel's answer to an execute request (`status` "ok", "error", "abort" or "aborted"). */
export interface ExecuteReply {
  status: string;
  execution_count?: number | null;
  ename?: string;
  evalue?: string;
}

/** Longest failure message kept (the executed notebook has the full output). */
const MAX_MESSAGE_LINES = 20;

/**
 * Why a cell failed, or null when it did not: an `error` output, anything on stderr, or a reply
 * whose status is not "ok". The message is the error (or the stderr text), at most 20 lines.
 */
export function cellFailure(outputs: readonly Output[], reply: ExecuteReply): string | null {
  const error = outputs.find((o) => o.output_type === "error");
  if (error?.output_type === "error") return shorten(`${error.ename}: ${error.evalue}`);
  const stderr = outputs
    .filter((o) => o.output_type === "stream" && o.name === "stderr")
    .map((o) => (o.output_type === "stream" ? joinText(o.text) : ""))
    .join("");
  if (reply.status === "ok") return stderr === "" ? null : shorten(`wrote to stderr: ${stderr}`);
  if (stderr !== "") return shorten(errorInStderr(stderr));
  if (reply.status === "error") {
    const what = [reply.ename, reply.evalue].filter((s) => s !== undefined && s !== "").join(": ");
    return what === "" ? "the kernel reported an error (no message)" : shorten(what);
  }
  if (reply.status === "abort" || reply.status === "aborted") {
    return "the kernel aborted the cell without running it (it was sent too soon after an error?)";
  }
  return `the kernel answered with status "${reply.status}"`;
}

/**
 * The error in a kernel's stderr: from the first "SomethingError: …" line to the stack trace
 * (stock tslab prints the source line and a caret first); all of it when there is no such line.
 */
function errorInStderr(stderr: string): string {
  const lines = stderr.split("\n");
  const start = lines.findIndex((line) => /^[A-Za-z]*(Error|Exception)\b[^:]*:/.test(line));
  if (start < 0) return stderr;
  const end = lines.findIndex((line, i) => i > start && /^\s+at /.test(line));
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

function shorten(text: string): string {
  const lines = text.trim().split("\n");
  if (lines.length <= MAX_MESSAGE_LINES) return lines.join("\n");
  return [
    ...lines.slice(0, MAX_MESSAGE_LINES),
    `… (${lines.length - MAX_MESSAGE_LINES} more lines)`,
  ].join("\n");
}

/** One exercise check outcome seen in a notebook's output (see `check` in lib/src/exercises). */
export interface ExerciseCheck {
  /** The exercise id. */
  id: string;
  status: CheckOutcome["status"];
  /** The index of the cell that printed it. */
  cellIndex: number;
  /** The line the learner reads (the bundle's `text/plain`). */
  line: string;
}

const STATUSES: readonly string[] = ["passed", "not-implemented", "failed"];

/** The check outcome a display output carries under {@link CHECK_MIME}, or null. */
function checkOutcomeOf(output: Output): CheckOutcome | null {
  if (output.output_type !== "display_data" && output.output_type !== "execute_result") return null;
  const value = output.data[CHECK_MIME];
  if (typeof value !== "object" || value === null) return null;
  const { id, status, message } = value as Record<string, unknown>;
  if (typeof id !== "string" || typeof status !== "string" || !STATUSES.includes(status)) {
    return null;
  }
  return {
    id,
    status: status as CheckOutcome["status"],
    message: typeof message === "string" ? message : "",
  };
}

/** The exercise check outcomes in a cell's outputs: the `check(...)` bundles (see lib's check.ts). */
export function exerciseChecks(outputs: readonly Output[], cellIndex: number): ExerciseCheck[] {
  const found: ExerciseCheck[] = [];
  for (const output of outputs) {
    const outcome = checkOutcomeOf(output);
    if (outcome === null) continue;
    found.push({ id: outcome.id, status: outcome.status, cellIndex, line: outcome.message });
  }
  return found;
}
