/**
 * Every lesson, learner and solutions version, executed by an independent client: nbclient (the
 * engine of `jupyter nbconvert --execute`, Debian's python3-nbclient) on the kernelspec in
 * kernels/mamba-ts, outside our own runner. Lessons are discovered when the tests are collected:
 * `notebooks/NN-*.ipynb` and `notebooks/solutions/NN-*.ipynb`.
 *
 * Each run must finish with nbclient's default error handling (the first error stops it), with no
 * `error` output and no stderr anywhere, and each exercise check must send its expected outcome
 * (lib's check MIME bundle): passed ("✅ <id>") in the solutions, not implemented ("⏳ <id>") in the
 * learner version.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..", "..");
const PYTHON = process.env.MAMBA_TS_PYTHON ?? "/usr/bin/python3";
const LESSON = /^\d\d-[a-z0-9-]+\.ipynb$/;
/** nbclient's per-cell timeout, and the whole run's limit (lessons take well under a minute). */
const CELL_TIMEOUT_S = 180;
const RUN_TIMEOUT_MS = 240_000;

interface ReportOutput {
  type: "stream" | "display_data" | "execute_result" | "error";
  name?: string;
  text?: string;
  ename?: string;
  evalue?: string;
  mimes?: string[];
  /** The exercise check outcome of a display output (lib's CHECK_MIME). */
  check?: { id: string; status: string; message: string };
}
interface Report {
  notebook: string;
  valid: string | null;
  error: string | null;
  seconds: number;
  cells: {
    index: number;
    id: string;
    exercise: string | null;
    source: string;
    outputs: ReportOutput[];
  }[];
}

function lessons(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir))
    .filter((f) => LESSON.test(f))
    .sort()
    .map((f) => path.posix.join(dir, f));
}

const versions = [
  { version: "learner", dir: "notebooks", mark: "⏳", status: "not-implemented" },
  { version: "solutions", dir: "notebooks/solutions", mark: "✅", status: "passed" },
];

const tmp = mkdtempSync(path.join(os.tmpdir(), "mamba-ts-nbclient-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function execute(notebook: string): Promise<Report> {
  const reportFile = path.join(tmp, notebook.replace(/[/\\]/g, "_") + ".json");
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [
        path.join(ROOT, "tests", "integration", "nbclient_execute.py"),
        path.join(ROOT, notebook),
        reportFile,
        "--timeout",
        String(CELL_TIMEOUT_S),
      ],
      { cwd: ROOT, timeout: RUN_TIMEOUT_MS - 10_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        try {
          resolve(JSON.parse(readFileSync(reportFile, "utf8")) as Report);
        } catch {
          reject(
            new Error(
              `nbclient_execute.py gave no report for ${notebook} (${err?.message ?? "no error"}); ` +
                `it needs Debian's python3-nbclient and a built lib.\n${stdout}\n${stderr}`,
            ),
          );
        }
      },
    );
  });
}

/** Readable one-line descriptions of the outputs that must not exist. */
function badOutputs(report: Report): string[] {
  const bad: string[] = [];
  for (const cell of report.cells) {
    for (const o of cell.outputs) {
      if (o.type === "error") bad.push(`cell ${cell.index}: error ${o.ename}: ${o.evalue}`);
      if (o.type === "stream" && o.name === "stderr")
        bad.push(`cell ${cell.index}: stderr ${o.text}`);
    }
  }
  return bad;
}

for (const { version, dir, mark, status } of versions) {
  describe(`nbclient executes the ${version} lessons (${dir})`, () => {
    const found = lessons(dir);
    it("finds the lessons", () => {
      expect(found.length).toBeGreaterThan(0);
    });
    for (const notebook of found) {
      it(
        path.basename(notebook),
        async () => {
          const report = await execute(notebook);
          expect(report.valid, "nbformat validation").toBeNull();
          expect(report.error, "nbclient stopped on an error").toBeNull();
          expect(badOutputs(report)).toEqual([]);
          // Each exercise cell is followed by its check, whose outcome arrives as a MIME bundle.
          const exercises = report.cells.filter((c) => c.exercise);
          for (const cell of exercises) {
            const next = report.cells.find((c) => c.index > cell.index);
            const outcomes = (next?.outputs ?? []).flatMap((o) => (o.check ? [o.check] : []));
            expect(outcomes, `check after exercise "${cell.exercise}"`).toContainEqual({
              id: cell.exercise,
              status,
              message: expect.stringMatching(`^${mark} ${cell.exercise}:`),
            });
          }
        },
        RUN_TIMEOUT_MS,
      );
    }
  });
}
