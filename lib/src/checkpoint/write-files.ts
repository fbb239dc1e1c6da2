/**
 * Saving files so that a failure never loses what was there: each file is written whole to a
 * temporary file in the target folder, flushed to disk, and only then renamed over the old one
 * (a rename within a folder is atomic on POSIX file systems). A save that fails part way (a full
 * disk, a size limit, a killed process) leaves the old files as they were and removes its
 * temporary files, and the folders it created.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import * as path from "node:path";
import { createOutputFolder, fileError } from "./file-errors";

/** What argument 'dir' must be, in errors. */
const WHAT = "a path that can be written";
/** Saves made by this process, to name temporary files apart. */
let saves = 0;

/** One file to save: its name inside the folder and its whole contents. */
export interface FileToSave {
  name: string;
  bytes: Uint8Array;
}

/**
 * Saves `files` into folder `dir` (created with its parents if missing) for the function `fn`
 * the user called: all are written to temporary files first, then renamed into place in the
 * given order (put the file that says what the others are, e.g. config.json, last). Errors name
 * `fn`, its argument `arg` that gave the folder or file, and the file.
 */
export function saveFilesAtomically(
  fn: string,
  arg: string,
  dir: string,
  files: readonly FileToSave[],
): void {
  const created = createOutputFolder(fn, dir, arg);
  const finals = files.map((f) => path.join(dir, f.name));
  const temps = files.map((f) => path.join(dir, `.${f.name}.${process.pid}.${++saves}.tmp`));
  let renamed = 0;
  try {
    files.forEach((f, i) => writeWhole(fn, arg, temps[i], finals[i], f.bytes));
    for (; renamed < files.length; renamed++) {
      try {
        renameSync(temps[renamed], finals[renamed]);
      } catch (e) {
        const before = files.slice(0, renamed).map((f) => f.name);
        throw fileError(
          fn,
          arg,
          WHAT,
          finals[renamed],
          `cannot be replaced (${(e as Error).message})${before.length > 0 ? `; ${before.join(", ")} already were` : ""}`,
        );
      }
    }
  } catch (e) {
    for (const temp of temps.slice(renamed)) removeQuietly(temp);
    if (renamed === 0) {
      for (const folder of created.reverse()) {
        try {
          rmdirSync(folder);
        } catch {
          break; // not empty: someone else wrote there meanwhile
        }
      }
    }
    throw e;
  }
}

/** Writes `bytes` to a new file `temp` and flushes it to disk; errors name `final`. */
function writeWhole(fn: string, arg: string, temp: string, final: string, bytes: Uint8Array): void {
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx");
    let done = 0;
    while (done < bytes.length) {
      const n = writeSync(fd, bytes, done, bytes.length - done);
      if (n <= 0) throw new Error(`the file system accepted no bytes at offset ${done}`);
      done += n;
    }
    fsyncSync(fd);
  } catch (e) {
    throw fileError(fn, arg, WHAT, final, `cannot be written (${(e as Error).message})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
