/**
 * Every lesson, executed: the learner versions (`notebooks/NN-*.ipynb`) and the solutions
 * (`notebooks/solutions/NN-*.ipynb`), found when the tests run, go through one Jupyter server with
 * the mamba-ts kernel. A learner version must run without any failure and report every exercise as
 * "not implemented yet"; a solutions version must run without any failure and pass every exercise.
 * Also: the learner versions are what `npm run exercises` makes from the solutions, and every
 * notebook in git is clean nbformat 4.5 for the mamba-ts kernel. Executed copies and summary.json
 * are left in `.executed/`.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type NotebookResult,
  type RunReport,
  courseRoot,
  formatProgress,
  runNotebooks,
} from "../../kernels/src/index";
import { releaseAll } from "../../kernels/src/exercises/release";
import { courseMetadata, readNotebook } from "../../kernels/src/runner/nbformat";

const ROOT = courseRoot();
const NOTEBOOKS = path.join(ROOT, "notebooks");
const LESSON = /^\d\d-[^/]+\.ipynb$/;

/** The lesson notebooks in a folder, by name. */
function lessons(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => LESSON.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

const LEARNER = lessons(NOTEBOOKS);
const SOLUTIONS = lessons(path.join(NOTEBOOKS, "solutions"));
const rel = (file: string) => path.relative(ROOT, file);

/** The exercise ids of a notebook's exercise cells. */
function exerciseIds(file: string): string[] {
  return readNotebook(file).cells.flatMap((cell) => {
    const { exercise } = courseMetadata(cell);
    return exercise === undefined ? [] : [exercise];
  });
}

let report: RunReport | undefined;

beforeAll(async () => {
  if (LEARNER.length + SOLUTIONS.length === 0) return;
  report = await runNotebooks([...LEARNER, ...SOLUTIONS], {
    onProgress: (event) => {
      if (event.type === "notebook-end") process.stderr.write(`${formatProgress(event)}\n`);
    },
  });
}, 60 * 60_000);

/** The run of one notebook, with a readable failure when it failed. */
function resultFor(file: string): NotebookResult {
  const result = report?.notebooks.find((nb) => nb.file === file);
  if (result === undefined) throw new Error(`${rel(file)} was not run`);
  return result;
}

function failureText(nb: NotebookResult): string {
  return nb.failures.map((f) => `${nb.path}: ${f.message}`).join("\n");
}

describe("lessons", () => {
  it("exist (notebooks/NN-*.ipynb and notebooks/solutions/NN-*.ipynb)", () => {
    expect(LEARNER.length, "no learner notebooks notebooks/NN-*.ipynb found").toBeGreaterThan(0);
    expect(
      SOLUTIONS.length,
      "no solutions notebooks notebooks/solutions/NN-*.ipynb found",
    ).toBeGreaterThan(0);
    const names = (files: string[]) => files.map((f) => path.basename(f));
    expect(names(LEARNER), "every lesson has a learner and a solutions version").toEqual(
      names(SOLUTIONS),
    );
  });

  for (const file of LEARNER) {
    it(`${rel(file)} runs without failure, every exercise "not implemented yet"`, () => {
      const nb = resultFor(file);
      expect(nb.failures, failureText(nb)).toEqual([]);
      for (const id of exerciseIds(file)) {
        const seen = nb.checks.filter((c) => c.id === id);
        expect(seen.length, `no "⏳ ${id}: not implemented yet" line`).toBeGreaterThan(0);
        expect(seen.map((c) => c.status)).toEqual(seen.map(() => "not-implemented"));
      }
    });
  }

  for (const file of SOLUTIONS) {
    it(`${rel(file)} runs without failure, every exercise passed`, () => {
      const nb = resultFor(file);
      expect(nb.failures, failureText(nb)).toEqual([]);
      for (const id of exerciseIds(file)) {
        const seen = nb.checks.filter((c) => c.id === id);
        expect(seen.length, `no "✅ ${id}: passed" line`).toBeGreaterThan(0);
        expect(seen.map((c) => c.status)).toEqual(seen.map(() => "passed"));
      }
    });
  }

  it("learner versions are what `npm run exercises` makes from the solutions", () => {
    const drift = releaseAll(NOTEBOOKS, { check: true })
      .filter((o) => o.status !== "unchanged")
      .map((o) => `${rel(o.learnerPath)}: ${o.status}`);
    expect(drift, "run `npm run exercises`").toEqual([]);
  });
});

/** Notebooks tracked by git, plus the lessons on disk. */
function notebooksToValidate(): string[] {
  const tracked = execFileSync("git", ["ls-files", "-z", "--", "*.ipynb"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    .filter((f) => f !== "")
    .map((f) => path.join(ROOT, f))
    .filter((f) => existsSync(f));
  return [...new Set([...tracked, ...LEARNER, ...SOLUTIONS])].sort();
}

/** A Python with the nbformat package: the reference validator. */
function pythonWithNbformat(): string {
  const candidates = [
    process.env.PYTHON,
    path.join(ROOT, ".venv", "bin", "python"),
    "/usr/bin/python3",
    "python3",
  ];
  for (const python of candidates) {
    if (python === undefined) continue;
    try {
      execFileSync(python, ["-c", "import nbformat"], { stdio: "ignore" });
      return python;
    } catch {
      // try the next one
    }
  }
  throw new Error(
    "no Python with the nbformat package (Debian: apt-get install python3-nbformat; or set PYTHON)",
  );
}

const VALIDATE = `
import json, sys, nbformat
problems = {}
for file in sys.argv[1:]:
    try:
        nbformat.validate(nbformat.read(file, as_version=nbformat.NO_CONVERT))
    except Exception as err:
        problems[file] = str(err).splitlines()[0]
print(json.dumps(problems))
`;

describe("notebooks in git", () => {
  const files = notebooksToValidate();

  it("are valid nbformat 4 (checked with Python's nbformat)", () => {
    expect(files.length).toBeGreaterThan(0);
    const out = execFileSync(pythonWithNbformat(), ["-c", VALIDATE, ...files], {
      encoding: "utf8",
    });
    expect(JSON.parse(out)).toEqual({});
  });

  it("have unique cell ids, no outputs or execution counts, and the mamba-ts kernelspec", () => {
    const problems: string[] = [];
    for (const file of files) {
      const nb = readNotebook(file);
      const where = rel(file);
      if (nb.nbformat !== 4 || nb.nbformat_minor < 5)
        problems.push(`${where}: nbformat ${nb.nbformat}.${nb.nbformat_minor}, expected 4.5+`);
      const kernel = (nb.metadata.kernelspec as { name?: string } | undefined)?.name;
      if (kernel !== "mamba-ts")
        problems.push(`${where}: kernelspec ${JSON.stringify(kernel)}, expected "mamba-ts"`);
      const ids = new Set<string>();
      nb.cells.forEach((cell, i) => {
        if (typeof cell.id !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(cell.id))
          problems.push(`${where} cell ${i}: bad id ${JSON.stringify(cell.id)}`);
        else if (ids.has(cell.id)) problems.push(`${where} cell ${i}: duplicate id ${cell.id}`);
        else ids.add(cell.id);
        if (cell.cell_type !== "code") return;
        if (!Array.isArray(cell.outputs) || cell.outputs.length > 0)
          problems.push(`${where} cell ${i}: has outputs`);
        if (cell.execution_count !== null)
          problems.push(`${where} cell ${i}: execution_count ${cell.execution_count}`);
      });
    }
    expect(problems).toEqual([]);
  });
});
