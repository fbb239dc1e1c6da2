/** `config.json` files of model checkpoints: read as plain objects, written pretty-printed. */
import { readFileSync, writeFileSync } from "node:fs";
import { checkArg, describe, schema } from "../validate";
import { fileError } from "./file-errors";

const WHAT = "a file holding a JSON object";

/** Reads a JSON object from `path`; refuses non-objects with an error naming the file. */
export function readConfigJson(path: string): Record<string, unknown> {
  checkArg("readConfigJson", "path", path, schema.string());
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw fileError(
      "readConfigJson",
      "path",
      WHAT,
      path,
      `cannot be read (${(e as Error).message})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw fileError(
      "readConfigJson",
      "path",
      WHAT,
      path,
      `not valid JSON (${(e as Error).message})`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw fileError(
      "readConfigJson",
      "path",
      WHAT,
      path,
      `not a JSON object (got ${describe(value)})`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * Writes `config` as JSON (2-space indent, trailing newline). Fields of `keep` that `config` does
 * not set are written too: that is how unknown fields of a loaded config survive a save.
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
  const merged = { ...keep, ...config };
  try {
    writeFileSync(path, JSON.stringify(merged, null, 2) + "\n");
  } catch (e) {
    throw fileError(
      fn,
      "path",
      "a writable file",
      path,
      `cannot be written (${(e as Error).message})`,
    );
  }
}
