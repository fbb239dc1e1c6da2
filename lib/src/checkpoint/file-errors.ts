/**
 * Errors about the contents of a file that an argument names (a checkpoint folder's config.json,
 * model.safetensors, training_state.json), in lib's one message format with the file's path in
 * quotes of its own, outside the argument's:
 * `loadMambaCheckpoint: argument 'dir' must be a valid checkpoint folder: file '<path>': <problem>`.
 */
import { mkdirSync, statSync } from "node:fs";
import * as path from "node:path";

/**
 * The error for a problem found in `file`, reached through argument `arg` of `fn`. `what` is what
 * the argument must be ("a valid checkpoint folder"); `problem` says what is wrong in the file.
 */
export function fileError(
  fn: string,
  arg: string,
  what: string,
  file: string,
  problem: string,
): Error {
  return new Error(`${fn}: argument '${arg}' must be ${what}: file '${file}': ${problem}`);
}

/**
 * Runs `f` (a lib helper that reads `file` or checks what was read from it) and re-labels its
 * errors with {@link fileError}: the helper's own function name goes, a file error it raised
 * keeps its file and problem, and an argument error of the helper (`argument 'config.x' must be
 * ...`) becomes the problem `config.x must be ...`.
 */
export function inFile<T>(fn: string, arg: string, what: string, file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const message = (e as Error).message.replace(/^[A-Za-z][A-Za-z0-9]*: /, "");
    const nested = /^argument '[^']*' must be [^:]*: file '([^']*)': ([\s\S]*)$/.exec(message);
    if (nested) throw fileError(fn, arg, what, nested[1], nested[2]);
    throw fileError(fn, arg, what, file, message.replace(/^argument '([^']*)' must/, "$1 must"));
  }
}

/**
 * Creates the folder `dir` (and its parents) that `fn` saves into, one level at a time from the
 * first missing one (Node 20's recursive `mkdirSync` never returns on procfs, e.g. under
 * `/proc/self`). Returns the folders it created, outermost first, so that a save that fails can
 * remove them again. A failure is reported against argument `arg` (default 'dir') with
 * {@link fileError}; `dir` must already be checked to be a string.
 */
export function createOutputFolder(fn: string, dir: string, arg = "dir"): string[] {
  const fail = (file: string, problem: string): Error =>
    fileError(fn, arg, "a folder path", file, problem);
  if (dir === "") {
    throw new Error(`${fn}: argument '${arg}' must be a non-empty folder path (got "")`);
  }
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    const kind = fileKind(at);
    if (kind === "folder") break;
    if (kind !== "missing") {
      const what = kind === "file" ? "a file" : kind;
      throw fail(at, `is ${what}, so the folder '${path.resolve(dir)}' cannot be created`);
    }
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  const created: string[] = [];
  for (const folder of missing) {
    try {
      mkdirSync(folder);
      created.push(folder);
    } catch (e) {
      // Made meanwhile by someone else: fine if it is a folder now.
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && fileKind(folder) === "folder") continue;
      throw fail(dir, `cannot be created (${(e as Error).message})`);
    }
  }
  return created;
}

/** What is at `file`, following symbolic links: "missing", "folder", "file" or a description. */
function fileKind(file: string): string {
  let stats;
  try {
    stats = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    return `unreadable (${(e as Error).message})`;
  }
  if (stats.isDirectory()) return "folder";
  if (stats.isFile()) return "file";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isFIFO()) return "a named pipe";
  if (stats.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * The size in bytes of `file`, which `fn` is about to read whole, after checking that it is a
 * regular file (a symbolic link is followed: one to `/dev/zero` or a pipe would never end) of at
 * most `maxBytes`. Problems are reported with {@link fileError} against `arg`.
 */
export function checkFileToRead(
  fn: string,
  arg: string,
  what: string,
  file: string,
  maxBytes: number,
): number {
  const kind = fileKind(file);
  if (kind === "missing") throw fileError(fn, arg, what, file, "cannot be read: no such file");
  if (kind.startsWith("unreadable")) throw fileError(fn, arg, what, file, `is ${kind}`);
  if (kind !== "file") {
    throw fileError(
      fn,
      arg,
      what,
      file,
      `is ${kind === "folder" ? "a folder" : kind}, not a regular file`,
    );
  }
  const size = statSync(file).size;
  if (size > maxBytes) {
    throw fileError(
      fn,
      arg,
      what,
      file,
      `is ${size} bytes, more than the ${maxBytes} bytes such a file may hold here`,
    );
  }
  return size;
}
