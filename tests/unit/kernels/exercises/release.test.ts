/**
 * The learner-version generator (kernels/src/exercises/release.ts, and its CLI
 * kernels/src/exercises/cli.ts run from the build) on notebooks written to temporary folders:
 * solution regions become stubs, outputs go, a learner's edits are kept byte for byte, --check
 * reports drift and writes nothing, malformed lessons are named by file and cell.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  cellsDigest,
  releaseAll,
  releaseNotebook,
  stripSolutions,
} from "../../../../kernels/src/exercises/release";

const repo = path.resolve(__dirname, "..", "..", "..", "..");

describe("stripSolutions", () => {
  it("replaces each solution region with an indented stub", () => {
    const source = [
      "function ema(x: number[], alpha: number): number[] {",
      "  const y: number[] = [];",
      "  // BEGIN SOLUTION",
      "  let h = 0;",
      "  for (const v of x) y.push((h = (1 - alpha) * h + alpha * v));",
      "  // END SOLUTION",
      "  return y;",
      "}",
      "    // BEGIN SOLUTION",
      "    const extra = 1;",
      "    // END SOLUTION",
    ].join("\n");
    expect(stripSolutions(source, "ema", "cell 3")).toBe(
      [
        "function ema(x: number[], alpha: number): number[] {",
        "  const y: number[] = [];",
        "  // YOUR CODE HERE",
        '  throw notImplemented("ema");',
        "  return y;",
        "}",
        "    // YOUR CODE HERE",
        '    throw notImplemented("ema");',
      ].join("\n"),
    );
  });

  it("rejects unclosed, nested, unopened and missing regions, naming the cell", () => {
    expect(() => stripSolutions("// BEGIN SOLUTION\nx", "ema", "nb cell 2")).toThrow(
      'nb cell 2: "// BEGIN SOLUTION" is never closed',
    );
    expect(() =>
      stripSolutions("// BEGIN SOLUTION\n  // BEGIN SOLUTION\n// END SOLUTION", "ema", "c"),
    ).toThrow('c: nested "// BEGIN SOLUTION"');
    expect(() => stripSolutions("x\n// END SOLUTION", "ema", "c")).toThrow(
      'c: "// END SOLUTION" without a BEGIN',
    );
    expect(() => stripSolutions("const x = 1;", "ema", "c")).toThrow(
      'c: exercise "ema" has no "// BEGIN SOLUTION" region',
    );
  });
});

/** A small solutions notebook with the ema exercise. */
function solutionsNotebook(extraMarkdown = "") {
  const code = (id: string, source: string, metadata: Record<string, unknown> = {}) => ({
    id,
    cell_type: "code",
    metadata,
    source: source.split(/(?<=\n)/),
    outputs: [{ output_type: "stream", name: "stdout", text: ["left over\n"] }],
    execution_count: 3,
  });
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: "mamba-ts",
        display_name: "TypeScript (mamba-ts)",
        language: "typescript",
      },
    },
    cells: [
      {
        id: "intro",
        cell_type: "markdown",
        metadata: {},
        source: [`# Test lesson${extraMarkdown}\n`],
      },
      code("imports", 'import { check, notImplemented } from "@mamba-ts/lib";'),
      code(
        "exercise",
        "function ema(x: number[], alpha: number): number[] {\n  // BEGIN SOLUTION\n  return x;\n  // END SOLUTION\n}",
        { mamba_ts: { exercise: "ema" } },
      ),
      code("check", 'check("ema", ema);'),
    ],
  };
}

describe("releaseNotebook and releaseAll", () => {
  let dir: string;
  const solPath = (): string => path.join(dir, "solutions", "00-test.ipynb");
  const learnerPath = (): string => path.join(dir, "00-test.ipynb");
  const writeSolutions = (nb: unknown): void =>
    writeFileSync(solPath(), JSON.stringify(nb, null, 1) + "\n");

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mamba-ts-release-"));
    mkdirSync(path.join(dir, "solutions"));
    writeSolutions(solutionsNotebook());
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the learner version: stubs, no outputs, a digest of its cells", () => {
    expect(releaseAll(dir)).toEqual([{ learnerPath: learnerPath(), status: "written" }]);
    const nb = JSON.parse(readFileSync(learnerPath(), "utf8"));
    expect(nb.cells.map((c: { id: string }) => c.id)).toEqual([
      "intro",
      "imports",
      "exercise",
      "check",
    ]);
    expect(nb.cells[2].source.join("")).toBe(
      'function ema(x: number[], alpha: number): number[] {\n  // YOUR CODE HERE\n  throw notImplemented("ema");\n}',
    );
    expect(nb.cells[2].metadata).toEqual({ mamba_ts: { exercise: "ema" } });
    for (const c of nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code")) {
      expect(c.outputs).toEqual([]);
      expect(c.execution_count).toBeNull();
    }
    expect(nb.metadata.mamba_ts.generated_from).toBe("solutions/00-test.ipynb");
    expect(nb.metadata.mamba_ts.cells_digest).toBe(cellsDigest(nb.cells));
    expect(nb.metadata.kernelspec.name).toBe("mamba-ts");
    // The solutions file itself is untouched.
    expect(JSON.parse(readFileSync(solPath(), "utf8"))).toEqual(solutionsNotebook());
  });

  it("reports unchanged on a second run and in check mode", () => {
    releaseAll(dir);
    const before = readFileSync(learnerPath());
    expect(releaseAll(dir)[0].status).toBe("unchanged");
    expect(releaseAll(dir, { check: true })[0].status).toBe("unchanged");
    expect(readFileSync(learnerPath()).equals(before)).toBe(true);
  });

  it("keeps a learner's edits byte for byte", () => {
    releaseAll(dir);
    const nb = JSON.parse(readFileSync(learnerPath(), "utf8"));
    nb.cells[2].source = [
      "function ema(x: number[], alpha: number): number[] {\n",
      "  return x; // my attempt\n",
      "}",
    ];
    const edited = JSON.stringify(nb, null, 1) + "\n";
    writeFileSync(learnerPath(), edited);
    writeSolutions(solutionsNotebook(" (revised)")); // the course changed too
    expect(releaseAll(dir)[0].status).toBe("kept-learner-edits");
    expect(releaseAll(dir, { check: true })[0].status).toBe("kept-learner-edits");
    expect(readFileSync(learnerPath(), "utf8")).toBe(edited);
  });

  it("check mode reports an out-of-date learner file and writes nothing; a normal run updates it", () => {
    releaseAll(dir);
    const before = readFileSync(learnerPath(), "utf8");
    writeSolutions(solutionsNotebook(" (revised)"));
    expect(releaseAll(dir, { check: true })[0].status).toBe("out-of-date");
    expect(readFileSync(learnerPath(), "utf8")).toBe(before);
    expect(releaseAll(dir)[0].status).toBe("written");
    expect(readFileSync(learnerPath(), "utf8")).toContain("# Test lesson (revised)");
  });

  it("check mode reports a missing learner file as out-of-date", () => {
    expect(releaseAll(dir, { check: true })).toEqual([
      { learnerPath: learnerPath(), status: "out-of-date" },
    ]);
  });

  it("rejects malformed lessons, naming the file and cell", () => {
    const nb = solutionsNotebook();
    expect(() =>
      releaseNotebook({ ...nb, cells: nb.cells.slice(0, 3) } as never, "00-test.ipynb"),
    ).toThrow("00-test.ipynb: 1 exercise cells but only 0 check(...) calls");
    const unknown = structuredClone(nb);
    unknown.cells[2].metadata = { mamba_ts: { exercise: "no-such-exercise" } };
    expect(() => releaseNotebook(unknown as never, "00-test.ipynb")).toThrow(
      /unknown exercise id "no-such-exercise"/,
    );
    const markdownExercise = structuredClone(nb);
    (markdownExercise.cells[0] as { metadata: unknown }).metadata = {
      mamba_ts: { exercise: "ema" },
    };
    expect(() => releaseNotebook(markdownExercise as never, "00-test.ipynb")).toThrow(
      "00-test.ipynb cell 0: an exercise must be a code cell",
    );
    expect(() => releaseAll(path.join(dir, "nowhere"))).toThrow(/no solutions folder/);
  });
});

describe("the exercises CLI", () => {
  let dir: string;
  const cli = path.join(repo, "kernels", "dist", "exercises", "cli.js");
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [cli, ...args], { cwd: dir, encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mamba-ts-cli-"));
    mkdirSync(path.join(dir, "notebooks", "solutions"), { recursive: true });
    writeFileSync(
      path.join(dir, "notebooks", "solutions", "00-test.ipynb"),
      JSON.stringify(solutionsNotebook(), null, 1) + "\n",
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("exits 0 when it writes or finds files up to date, 1 when --check finds drift", () => {
    const drift = run("--check");
    expect(drift.code).toBe(1);
    expect(drift.stderr).toContain("notebooks/00-test.ipynb: differs from solutions/00-test.ipynb");
    expect(run()).toMatchObject({
      code: 0,
      stdout: "notebooks/00-test.ipynb: written\nexercises: 1 learner notebook: 1 written\n",
    });
    expect(run()).toMatchObject({
      code: 0,
      stdout: "notebooks/00-test.ipynb: unchanged\nexercises: 1 learner notebook: 1 unchanged\n",
    });
    expect(run("--check")).toMatchObject({
      code: 0,
      stdout: "notebooks/00-test.ipynb: unchanged\nexercises: 1 learner notebook: 1 unchanged\n",
    });
    expect(run("notebooks", "--check")).toMatchObject({ code: 0 });
  });

  it("keeps learner edits: exit 0 normally, 1 under --check", () => {
    run();
    const file = path.join(dir, "notebooks", "00-test.ipynb");
    const nb = JSON.parse(readFileSync(file, "utf8"));
    nb.cells[2].source = ["my own code"];
    writeFileSync(file, JSON.stringify(nb));
    const normal = run();
    expect(normal.code).toBe(0);
    expect(normal.stderr).toContain("has your own edits, so it was left as it is");
    expect(run("--check").code).toBe(1);
    expect(readFileSync(file, "utf8")).toBe(JSON.stringify(nb));
  });

  it("exits 2 on an unknown option and 1 on a missing folder", () => {
    const bad = run("--frobnicate");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("exercises: unknown option --frobnicate");
    expect(run("a", "b")).toMatchObject({ code: 2 });
    const missing = run("no-such-dir");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^exercises: .*no-such-dir[/\\]solutions: no solutions folder/);
  });

  it("--help explains the command and writes nothing", () => {
    const help = run("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run exercises/);
    expect(help.stdout).toContain("--check");
    expect(readdirSync(path.join(dir, "notebooks"))).toEqual(["solutions"]);
  });

  it("validates every notebook before writing any: a bad later one leaves earlier files alone", () => {
    // 00 is fine; 01 names an exercise that has no check. Nothing may be written, and the message
    // names 01.
    const bad = solutionsNotebook();
    bad.cells[2].metadata = { mamba_ts: { exercise: "no-such-exercise" } };
    writeFileSync(
      path.join(dir, "notebooks", "solutions", "01-bad.ipynb"),
      JSON.stringify(bad, null, 1) + "\n",
    );
    const r = run();
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/01-bad\.ipynb/);
    expect(r.stderr).toContain("nothing was written");
    expect(readdirSync(path.join(dir, "notebooks")).sort()).toEqual(["solutions"]);
  });
});
