/**
 * The course's data files, loaded safely.
 *
 * Every file in the repository's `datasets/` folder is listed in `datasets/manifest.json` with its
 * size and SHA-256 digest, and described (source, licence, how it was made) in
 * `datasets/README.md`. The loaders here find that folder from the location of lib itself, so they
 * work the same from a notebook, a plain `node` script or a test, whatever the working directory,
 * and they check every file against the manifest before handing it out: a missing or damaged file
 * fails at once with an error that names it and says how to restore it, instead of producing a
 * strange curve three cells later.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import * as path from "node:path";
import { describe } from "../validate";

/** One file's entry in `datasets/manifest.json`. */
export interface DatasetEntry {
  /** SHA-256 of the file's bytes, lower-case hex. */
  sha256: string;
  /** Size in bytes. */
  bytes: number;
  /** What the file holds, in one line (details go in datasets/README.md). */
  description: string;
}

/** The whole manifest: file name -> entry. */
export interface DatasetManifest {
  files: Record<string, DatasetEntry>;
}

/** The outcome of verifying one file (see {@link verifyDatasets}). */
export interface VerifiedDataset {
  name: string;
  path: string;
  bytes: number;
  sha256: string;
}

/** Files of `datasets/` that document the others and are not datasets themselves. */
export const DATASET_META_FILES: readonly string[] = ["README.md", "manifest.json"];

/**
 * The repository's `datasets/` folder, found relative to lib itself: lib's compiled module
 * `lib/dist/datasets/index.js` (or its source `lib/src/datasets/index.ts`) lies three levels below
 * the repository root. Symbolic links are resolved first, since lib is also reachable as
 * `node_modules/@mamba-ts/lib`.
 */
export function datasetsDir(): string {
  const here = realpathSync(__dirname);
  const dir = path.resolve(here, "..", "..", "..", "datasets");
  if (!existsSync(path.join(dir, "manifest.json"))) {
    throw new Error(
      `datasets: cannot find the course's datasets folder: expected ${dir}/manifest.json (lib is at ${path.resolve(here, "..", "..")}); ` +
        "lib must be used from inside the course repository",
    );
  }
  return dir;
}

/** SHA-256 of some bytes as lower-case hex. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Reads and checks `manifest.json` of a datasets folder (default: the course's).
 * @param dir the datasets folder; tests pass a temporary one.
 */
export function readManifest(dir: string = datasetsDir()): DatasetManifest {
  const file = path.join(dir, "manifest.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`datasets: cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`datasets: ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const files = (parsed as { files?: unknown } | null)?.files;
  if (files === null || typeof files !== "object" || Array.isArray(files)) {
    throw new Error(
      `datasets: ${file}: expected { "files": { "<name>": { sha256, bytes, description } } }`,
    );
  }
  for (const [name, entry] of Object.entries(files as Record<string, unknown>)) {
    const e = entry as Partial<DatasetEntry> | null;
    if (
      e === null ||
      typeof e !== "object" ||
      typeof e.sha256 !== "string" ||
      !/^[0-9a-f]{64}$/.test(e.sha256) ||
      typeof e.bytes !== "number" ||
      !Number.isInteger(e.bytes) ||
      e.bytes < 0 ||
      typeof e.description !== "string"
    ) {
      throw new Error(
        `datasets: ${file}: entry ${JSON.stringify(name)}: expected { sha256: 64 hex digits, bytes: integer >= 0, description: string }`,
      );
    }
  }
  return parsed as DatasetManifest;
}

/** Checks a dataset name: a plain file name, no folders (`fn` names the caller in errors). */
export function checkDatasetName(fn: string, name: unknown): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new Error(
      `${fn}: argument 'name' must be a dataset file name such as "ecg-mitbih-208.u16le" (got ${describe(name)})`,
    );
  }
  if (name.includes("/") || name.includes("\\") || name === "." || name === "..") {
    throw new Error(
      `${fn}: argument 'name' must be a plain file name inside datasets/ (no path separators) (got ${JSON.stringify(name)})`,
    );
  }
  return name;
}

/** The manifest entry of `name`, or an error listing the known names. */
function entryOf(fn: string, name: string, manifest: DatasetManifest): DatasetEntry {
  const entry = Object.prototype.hasOwnProperty.call(manifest.files, name)
    ? manifest.files[name]
    : undefined;
  if (entry === undefined) {
    const known = Object.keys(manifest.files).sort();
    throw new Error(
      `${fn}: unknown dataset ${JSON.stringify(name)}; known datasets: ${known.length > 0 ? known.join(", ") : "(none)"}`,
    );
  }
  return entry;
}

/** Reads `name` and checks it against its manifest entry; the bytes returned are the ones checked. */
function readVerified(
  fn: string,
  name: unknown,
  dir: string | undefined,
): { file: string; bytes: Buffer } {
  const checked = checkDatasetName(fn, name);
  const root = dir ?? datasetsDir();
  const entry = entryOf(fn, checked, readManifest(root));
  const file = path.join(root, checked);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new Error(
        `${fn}: datasets/${checked} is missing: restore it with \`git checkout datasets/${checked}\``,
      );
    }
    throw new Error(`${fn}: cannot read datasets/${checked}: ${(err as Error).message}`);
  }
  const digest = sha256Hex(bytes);
  if (digest !== entry.sha256) {
    throw new Error(
      `${fn}: datasets/${checked} is corrupt: expected sha256 ${entry.sha256}, got ${digest} ` +
        `(expected ${entry.bytes} bytes, got ${bytes.length}); restore it with \`git checkout datasets/${checked}\``,
    );
  }
  return { file, bytes };
}

/**
 * The absolute path of dataset file `name` after checking that it exists and matches its manifest
 * entry (size and SHA-256).
 * @param name a file name listed in datasets/manifest.json, e.g. "austen-persuasion.txt"
 * @param dir the datasets folder (default: the course's; tests pass a temporary one)
 */
export function datasetPath(name: string, dir?: string): string {
  return readVerified("datasetPath", name, dir).file;
}

/** The verified bytes of dataset file `name` (see {@link datasetPath}). */
export function loadDatasetBytes(name: string, dir?: string): Buffer {
  return readVerified("loadDatasetBytes", name, dir).bytes;
}

/** The verified contents of dataset file `name` as UTF-8 text (see {@link datasetPath}). */
export function loadDatasetText(name: string, dir?: string): string {
  return readVerified("loadDatasetText", name, dir).bytes.toString("utf8");
}

/** The verified contents of dataset file `name` parsed as JSON (see {@link datasetPath}). */
export function loadDatasetJSON<T = unknown>(name: string, dir?: string): T {
  return readDatasetJSON<T>("loadDatasetJSON", name, dir);
}

/**
 * {@link loadDatasetJSON} for lib's loaders (not exported from lib's index): `fn`, the function
 * the user called, names a missing, corrupt or unparsable file in the error.
 */
export function readDatasetJSON<T = unknown>(fn: string, name: unknown, dir?: string): T {
  const { bytes } = readVerified(fn, name, dir);
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch (err) {
    throw new Error(
      `${fn}: datasets/${name as string} is not valid JSON: ${(err as Error).message}`,
    );
  }
}

/**
 * Verifies every file listed in the manifest. Returns one record per file when all are present
 * and intact; otherwise throws one error that lists every problem.
 * @param dir the datasets folder (default: the course's)
 */
export function verifyDatasets(dir?: string): VerifiedDataset[] {
  const root = dir ?? datasetsDir();
  const manifest = readManifest(root);
  const ok: VerifiedDataset[] = [];
  const problems: string[] = [];
  for (const name of Object.keys(manifest.files).sort()) {
    try {
      const { file, bytes } = readVerified("verifyDatasets", name, root);
      ok.push({ name, path: file, bytes: bytes.length, sha256: manifest.files[name].sha256 });
    } catch (err) {
      problems.push((err as Error).message.replace(/^verifyDatasets: /, ""));
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `verifyDatasets: ${problems.length} of ${Object.keys(manifest.files).length} files failed:\n  ${problems.join("\n  ")}`,
    );
  }
  return ok;
}
