/**
 * One source of truth for both versions of a lesson.
 *
 * Authors edit `notebooks/solutions/NN-slug.ipynb`, the lesson with its exercise solutions. In an
 * exercise cell (metadata `mamba_ts.exercise = "<id>"`), the solution sits between the lines
 * `// BEGIN SOLUTION` and `// END SOLUTION`. `releaseNotebook` turns that into the learner's
 * version `notebooks/NN-slug.ipynb` by replacing each such region with a stub that throws
 * `notImplemented("<id>")`, indented like the region.
 *
 * The learner's file records a digest of its cells; when a learner has edited the file, the
 * digest no longer matches and the tools refuse to overwrite it.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import {
  type Notebook,
  type NotebookCell,
  courseMetadata,
  readNotebook,
  serializeNotebook,
  sourceText,
  toLines,
} from "../runner/nbformat";
import { findExercise } from "@mamba-ts/lib";

const BEGIN = /^([ \t]*)\/\/ BEGIN SOLUTION[ \t]*$/;
const END = /^[ \t]*\/\/ END SOLUTION[ \t]*$/;

/** Replaces the solution regions of one exercise cell's source with the stub. */
export function stripSolutions(source: string, exercise: string, where: string): string {
  const out: string[] = [];
  let inside: string | null = null;
  let regions = 0;
  for (const line of source.split("\n")) {
    const begin = BEGIN.exec(line);
    if (begin) {
      if (inside !== null) throw new Error(`${where}: nested "// BEGIN SOLUTION"`);
      inside = begin[1];
      regions++;
      out.push(
        `${inside}// YOUR CODE HERE`,
        `${inside}throw notImplemented(${JSON.stringify(exercise)});`,
      );
    } else if (END.test(line)) {
      if (inside === null) throw new Error(`${where}: "// END SOLUTION" without a BEGIN`);
      inside = null;
    } else if (inside === null) {
      out.push(line);
    }
  }
  if (inside !== null) throw new Error(`${where}: "// BEGIN SOLUTION" is never closed`);
  if (regions === 0)
    throw new Error(`${where}: exercise "${exercise}" has no "// BEGIN SOLUTION" region`);
  return out.join("\n");
}

/** The digest of a notebook's cell types and sources: what a learner edits. */
export function cellsDigest(cells: readonly NotebookCell[]): string {
  const h = createHash("sha256");
  for (const c of cells) h.update(`${c.cell_type}\u0000${sourceText(c)}\u0001`);
  return h.digest("hex");
}

/** The learner's version of a solutions notebook (see the module comment). */
export function releaseNotebook(solutions: Notebook, solutionsPath: string): Notebook {
  const fileName = path.basename(solutionsPath);
  let exerciseCount = 0;
  const cells = solutions.cells.map((cell, index): NotebookCell => {
    const { exercise } = courseMetadata(cell);
    const clean: NotebookCell = { ...cell, metadata: { ...cell.metadata } };
    if (cell.cell_type === "code") {
      clean.outputs = [];
      clean.execution_count = null;
    }
    if (exercise === undefined) return clean;
    if (cell.cell_type !== "code")
      throw new Error(`${fileName} cell ${index}: an exercise must be a code cell`);
    findExercise(exercise); // the exercise must have a check
    exerciseCount++;
    const stripped = stripSolutions(sourceText(cell), exercise, `${fileName} cell ${index}`);
    return { ...clean, source: toLines(stripped) };
  });
  const checks = solutions.cells.filter((c) => /\bcheck\(\s*["']/.test(sourceText(c))).length;
  if (checks < exerciseCount) {
    throw new Error(
      `${fileName}: ${exerciseCount} exercise cells but only ${checks} check(...) calls`,
    );
  }
  const { mamba_ts: _drop, ...metadata } = solutions.metadata;
  void _drop;
  return {
    ...solutions,
    metadata: {
      ...metadata,
      mamba_ts: {
        generated_from: `solutions/${fileName}`,
        cells_digest: cellsDigest(cells),
      },
    },
    cells,
  };
}

/** What happened to one learner notebook. */
export interface ReleaseOutcome {
  learnerPath: string;
  status: "written" | "unchanged" | "kept-learner-edits" | "out-of-date";
}

/**
 * Regenerates every learner notebook in `notebooksDir` from `notebooksDir/solutions`.
 * With `check: true` nothing is written and a differing file is reported "out-of-date".
 * A learner file whose cells no longer match its recorded digest (the learner edited it) is never
 * overwritten: it is reported "kept-learner-edits".
 *
 * Every notebook is read and released first; only when all of them are valid does it write any,
 * so a bad notebook late in the list leaves every learner file as it was. The error names the
 * notebook.
 */
export function releaseAll(
  notebooksDir: string,
  options: { check?: boolean } = {},
): ReleaseOutcome[] {
  const solutionsDir = path.join(notebooksDir, "solutions");
  if (!existsSync(solutionsDir)) throw new Error(`${solutionsDir}: no solutions folder`);
  const files = readdirSync(solutionsDir)
    .filter((f) => f.endsWith(".ipynb"))
    .sort();
  const plan = files.map((file) => {
    const learnerPath = path.join(notebooksDir, file);
    let released: string;
    let outcome: ReleaseOutcome["status"];
    try {
      released = serializeNotebook(
        releaseNotebook(readNotebook(path.join(solutionsDir, file)), file),
      );
      outcome = plannedStatus(learnerPath, released, options.check === true);
    } catch (err) {
      const message = (err as Error).message;
      const named = message.includes(file) ? message : `solutions/${file}: ${message}`;
      throw new Error(`${named} (nothing was written: fix this notebook, then run again)`);
    }
    return { learnerPath, released, outcome };
  });
  return plan.map(({ learnerPath, released, outcome }): ReleaseOutcome => {
    if (outcome === "written") writeFileSync(learnerPath, released);
    return { learnerPath, status: outcome };
  });
}

/** What {@link releaseAll} will do with one learner file, without doing it. */
function plannedStatus(
  learnerPath: string,
  released: string,
  check: boolean,
): ReleaseOutcome["status"] {
  if (existsSync(learnerPath)) {
    const current = readNotebook(learnerPath);
    if (serializeNotebook(current) === released) return "unchanged";
    const recorded = (current.metadata.mamba_ts as { cells_digest?: string } | undefined)
      ?.cells_digest;
    if (recorded !== cellsDigest(current.cells)) return "kept-learner-edits";
  }
  return check ? "out-of-date" : "written";
}
