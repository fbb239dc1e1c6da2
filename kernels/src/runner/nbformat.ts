/**
 * The subset of Jupyter's nbformat 4 that the course reads and writes, plus small helpers shared by
 * the runner and the exercise builder.
 */
import { readFileSync } from "node:fs";

/** A cell's source: nbformat allows a string or a list of lines. */
export type MultilineString = string | string[];

export interface NotebookCell {
  id?: string;
  cell_type: "code" | "markdown" | "raw";
  source: MultilineString;
  metadata: Record<string, unknown>;
  outputs?: Output[];
  execution_count?: number | null;
}

export type Output =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: MultilineString }
  | {
      output_type: "display_data" | "execute_result";
      data: Record<string, unknown>;
      metadata: Record<string, unknown>;
      execution_count?: number | null;
    }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

/** The cell source as one string. */
export function sourceText(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Splits text into nbformat's list-of-lines form (each line keeps its "\n"). */
export function toLines(text: string): string[] {
  return text.length === 0 ? [] : (text.match(/[^\n]*\n|[^\n]+$/g) ?? []);
}

/** Reads and minimally validates a notebook file, with errors that name the file. */
export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT"
        ? `${file}: no such notebook`
        : `${file}: cannot read (${(err as Error).message})`,
    );
  }
  let nb: Notebook;
  try {
    nb = JSON.parse(text) as Notebook;
  } catch (err) {
    throw new Error(`${file}: not a notebook: invalid JSON (${(err as Error).message})`);
  }
  if (nb === null || typeof nb !== "object" || !Array.isArray(nb.cells) || nb.nbformat !== 4) {
    throw new Error(`${file}: not a notebook: expected nbformat 4 JSON with a "cells" list`);
  }
  return nb;
}

/** Serialises a notebook the way Jupyter does (1-space indent, trailing newline). */
export function serializeNotebook(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + "\n";
}

/** The course's metadata on a cell (`metadata.mamba_ts`). */
export interface CourseCellMetadata {
  /** This cell is the learner's exercise with this id. */
  exercise?: string;
}

export function courseMetadata(cell: NotebookCell): CourseCellMetadata {
  return (cell.metadata?.mamba_ts as CourseCellMetadata | undefined) ?? {};
}
