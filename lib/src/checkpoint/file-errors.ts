/**
 * Errors about the contents of a file that an argument names (a checkpoint folder's config.json,
 * model.safetensors, training_state.json), in lib's one message format with the file's path in
 * quotes of its own, outside the argument's:
 * `loadMambaCheckpoint: argument 'dir' must be a valid checkpoint folder: file '<path>': <problem>`.
 */
import { mkdirSync } from "node:fs";

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
 * Creates the folder `dir` (and its parents) that `fn` saves into; a failure is reported against
 * argument 'dir' with {@link fileError}. `dir` must already be checked to be a string.
 */
export function createOutputFolder(fn: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw fileError(fn, "dir", "a folder path", dir, `cannot be created (${(e as Error).message})`);
  }
}
