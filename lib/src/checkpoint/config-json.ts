/**
 * `config.json` files of model checkpoints: read as plain objects, written pretty-printed with
 * float fields as floats. JSON has one number type, but Python's `json` (what `transformers`
 * reads with) turns `1` into an int and `1.0` into a float, and transformers 5 validates config
 * field types strictly (`time_step_scale: 1` is refused: it wants a float). So the fields a
 * config class declares as floats are written with a decimal point even when integral.
 */
import { basename, dirname } from "node:path";
import { readFileSync } from "node:fs";
import { checkArg, describe, schema } from "../validate";
import { checkFileToRead, fileError } from "./file-errors";
import { saveFilesAtomically } from "./write-files";

const WHAT = "a file holding a JSON object";
/** config.json files larger than this are refused (real ones are a few kB). */
const MAX_CONFIG_JSON_BYTES = 1 << 24;

/** Reads a JSON object from `path`; refuses non-objects with an error naming the file. */
export function readConfigJson(path: string): Record<string, unknown> {
  const fn = "readConfigJson";
  checkArg(fn, "path", path, schema.string());
  checkFileToRead(fn, "path", WHAT, path, MAX_CONFIG_JSON_BYTES);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw fileError(fn, "path", WHAT, path, `cannot be read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(pythonFloatsAsObjects(text));
  } catch (e) {
    throw fileError(fn, "path", WHAT, path, `not valid JSON (${(e as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw fileError(fn, "path", WHAT, path, `not a JSON object (got ${describe(value)})`);
  }
  return value as Record<string, unknown>;
}

/**
 * Python's `json` writes ±∞ and NaN as the bare words `Infinity`, `-Infinity` and `NaN`, which
 * JSON has not (transformers 4.x writes Mamba-2's default `time_step_limit` as `[0.0, Infinity]`);
 * transformers 5 writes `{"__float__": "Infinity"}` instead. This turns the bare words (outside
 * strings) into that object, so both read the same; the loaders decide what a field may hold.
 */
function pythonFloatsAsObjects(text: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      out += ch;
      if (ch === "\\") out += text[++i] ?? "";
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    const word =
      ch === "I" || ch === "N" || ch === "-"
        ? /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9))
        : null;
    if (word) {
      out += `{"__float__": "${word[1]}"}`;
      i += word[1].length - 1;
      continue;
    }
    out += ch;
  }
  return out;
}

/**
 * The text of a config.json: `JSON.stringify(config, null, 2)` plus a newline, except that a
 * field named in `floatFields` (at any depth) holding an integral number, or a list of numbers,
 * has them written as floats (`1.0`, `500000.0`, `[0.0, 1.0]`), as Python writes floats.
 */
export function formatConfigJson(
  config: Record<string, unknown>,
  floatFields: Iterable<string> = [],
): string {
  checkArg("formatConfigJson", "config", config, schema.object());
  return format(config, new Set(floatFields), "") + "\n";
}

/** `asFloat`: the value of a float field (or a list of floats): integral numbers as `1.0`. */
function format(
  value: unknown,
  floats: ReadonlySet<string>,
  indent: string,
  asFloat = false,
): string {
  const inner = indent + "  ";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map(
      (v) => inner + (v === undefined ? "null" : format(v, floats, inner, asFloat)),
    );
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const items = entries.map(
      ([k, v]) => `${inner}${JSON.stringify(k)}: ${format(v, floats, inner, floats.has(k))}`,
    );
    return `{\n${items.join(",\n")}\n${indent}}`;
  }
  if (asFloat && typeof value === "number" && Number.isInteger(value) && Math.abs(value) < 1e21)
    return `${value}.0`;
  return JSON.stringify(value) ?? "null";
}

/**
 * Writes `config` as JSON (2-space indent, trailing newline), replacing the file atomically (a
 * temporary file renamed into place: a failed write leaves an old file as it was). Fields of
 * `keep` that `config` does not set are written too: that is how unknown fields of a loaded
 * config survive a save.
 */
export function writeConfigJson(
  path: string,
  config: Record<string, unknown>,
  keep: Record<string, unknown> = {},
): void {
  const fn = "writeConfigJson";
  checkArg(fn, "path", path, schema.string());
  checkArg(fn, "config", config, schema.object());
  checkArg(fn, "keep", keep, schema.optional(schema.object()));
  const text = formatConfigJson({ ...keep, ...config });
  saveFilesAtomically(fn, "path", dirname(path), [
    { name: basename(path), bytes: new TextEncoder().encode(text) },
  ]);
}
