/**
 * Which notebooks a run covers: the runner's inputs are notebook files and folders; a folder means
 * its `*.ipynb` files (sorted by name), or those of its `solutions/` subfolder.
 */
import { readdirSync, statSync } from "node:fs";
import * as path from "node:path";

/** Which notebooks of a folder to run. */
export type FolderSelection = "learner" | "solutions" | "both";

/**
 * The notebook files named by `inputs` (absolute paths, in order, without repeats). A folder gives
 * its `*.ipynb` files for "learner", those of `<folder>/solutions` for "solutions", and both lists
 * one after the other for "both". Throws a message naming the input when it does not exist, is
 * not an `.ipynb` file, or is a folder without notebooks.
 */
export function findNotebooks(
  inputs: readonly string[],
  selection: FolderSelection = "learner",
): string[] {
  if (inputs.length === 0) throw new Error("no notebooks given: name notebook files or folders");
  const found: string[] = [];
  for (const input of inputs) {
    const file = path.resolve(input);
    const kind = entryKind(file);
    if (kind === "missing") throw new Error(`${input}: no such notebook or folder`);
    if (kind === "folder") {
      found.push(...notebooksInFolder(input, file, selection));
    } else if (!file.endsWith(".ipynb")) {
      throw new Error(`${input}: not a notebook (expected an .ipynb file or a folder of them)`);
    } else {
      found.push(file);
    }
  }
  return [...new Set(found)];
}

function notebooksInFolder(input: string, folder: string, selection: FolderSelection): string[] {
  const folders =
    selection === "learner"
      ? [folder]
      : selection === "solutions"
        ? [path.join(folder, "solutions")]
        : [folder, path.join(folder, "solutions")];
  return folders.flatMap((dir) => {
    if (entryKind(dir) !== "folder") throw new Error(`${input}: has no solutions/ folder`);
    const files = readdirSync(dir)
      .filter((name) => name.endsWith(".ipynb") && !name.startsWith("."))
      .sort()
      .map((name) => path.join(dir, name))
      .filter((file) => entryKind(file) === "file");
    if (files.length === 0) {
      throw new Error(
        `${path.relative(process.cwd(), dir) || "."}: no notebooks (*.ipynb) in this folder`,
      );
    }
    return files;
  });
}

function entryKind(file: string): "missing" | "folder" | "file" {
  try {
    return statSync(file).isDirectory() ? "folder" : "file";
  } catch {
    return "missing";
  }
}
