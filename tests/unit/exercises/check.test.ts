import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CHECK_SEED,
  check,
  cloneArgument,
  compareValues,
  evaluateExercise,
  formatValue,
  notImplemented,
} from "../../../lib/src/exercises/check";
import { exercises, findExercise } from "../../../lib/src/exercises/registry";
import {
  cellsDigest,
  releaseAll,
  releaseNotebook,
  stripSolutions,
} from "../../../kernels/src/exercises/release";
import { exponentialMovingAverage } from "../../../lib/src/exercises/00-welcome";
import { Rng } from "../../../lib/src/rng";

const repo = path.resolve(__dirname, "..", "..", "..");

/** The EMA in closed form, y_t = alpha * sum_{k<=t} (1 - alpha)^(t-k) x_k: an independent reference. */
function emaClosedForm(x: number[], alpha: number): number[] {
  return x.map((_, t) => {
    let s = 0;
    for (let k = 0; k <= t; k++) s += alpha * (1 - alpha) ** (t - k) * x[k];
    return s;
  });
}

afterEach(() => vi.restoreAllMocks());

describe("the ema exercise and its reference", () => {
  it("lib's exponentialMovingAverage matches the closed form", () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const x = Array.from({ length: 1 + rng.int(40) }, () => rng.normal());
      const alpha = rng.random();
      const got = exponentialMovingAverage(x, alpha);
      const want = emaClosedForm(x, alpha);
      for (let i = 0; i < x.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-12);
    }
    expect(exponentialMovingAverage([], 0.5)).toEqual([]);
  });

  it("every registered exercise has a unique id, a lesson, a hint and deterministic cases", () => {
    const ids = exercises.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of exercises) {
      expect(e.lesson).toMatch(/^\d\d-[a-z0-9-]+$/);
      expect(e.hint.length).toBeGreaterThan(0);
      const a = e.cases(new Rng(CHECK_SEED));
      const b = e.cases(new Rng(CHECK_SEED));
      expect(a.length).toBeGreaterThan(0);
      expect(a).toEqual(b);
    }
  });
});

describe("cloneArgument (how check copies a case's arguments)", () => {
  it("copies arrays, typed arrays, plain objects, maps and sets deeply", () => {
    const original = {
      xs: [1, [2, 3]],
      t: { shape: [2], data: new Float64Array([4, 5]) },
      m: new Map([["k", [6]]]),
      s: new Set([7]),
    };
    const copy = cloneArgument(original);
    expect(copy).toEqual(original);
    (copy.xs[1] as number[])[0] = -1;
    copy.t.data[0] = -1;
    copy.m.get("k")![0] = -1;
    expect(original.xs[1]).toEqual([2, 3]);
    expect(original.t.data[0]).toBe(4);
    expect(original.m.get("k")).toEqual([6]);
    expect(copy.t.data).toBeInstanceOf(Float64Array);
  });

  it("keeps functions, which structuredClone rejects", () => {
    const f = (t: number, y: number[]) => y.map((v) => -v * t);
    expect(() => structuredClone([f])).toThrow();
    expect(cloneArgument([f])[0]).toBe(f);
  });

  it("copies an Rng with its state: both copies draw the same numbers, independently", () => {
    const rng = new Rng(42);
    rng.random();
    const copy = cloneArgument(rng);
    expect(copy).toBeInstanceOf(Rng);
    const a = [rng.random(), rng.normal(), rng.int(100)];
    const b = [copy.random(), copy.normal(), copy.int(100)];
    expect(b).toEqual(a);
  });
});

describe("check", () => {
  it("reports a stub that is not implemented yet, without throwing", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    const stub = (): number[] => {
      throw notImplemented("ema");
    };
    expect(() => check("ema", stub)).not.toThrow();
    expect(log).toHaveBeenCalledTimes(1);
    expect(log.mock.calls[0][0]).toBe(
      `⏳ ema: not implemented yet (${findExercise("ema").title}). Write it in the exercise cell above, run that cell, then run this check again.`,
    );
    expect(evaluateExercise("ema", stub).status).toBe("not-implemented");
  });

  it("passes an independently written correct solution", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    check("ema", emaClosedForm);
    const n = findExercise("ema").cases(new Rng(CHECK_SEED)).length;
    expect(log.mock.calls[0][0]).toBe(
      `✅ ema: passed all ${n} cases (seeded random inputs and edge cases).`,
    );
    expect(evaluateExercise("ema", emaClosedForm).status).toBe("passed");
  });

  it("throws on a wrong result, naming the case, expected vs got, and the hint", () => {
    // A classic mistake: starting from y = x_0 instead of y = 0.
    const wrong = (x: number[], alpha: number): number[] => {
      const y: number[] = [];
      let h = x[0] ?? 0;
      for (const v of x) y.push((h = (1 - alpha) * h + alpha * v));
      return y;
    };
    const hint = findExercise("ema").hint;
    let message = "";
    let bundle: unknown = null;
    try {
      check("ema", wrong);
    } catch (err) {
      message = (err as Error).message;
      bundle = (err as { mimeBundle?: unknown }).mimeBundle;
    }
    expect(message).toContain("✗ ema: wrong result on case 1/");
    // The error carries the structured outcome the kernel shows when it ends the cell.
    const firstLine = message.split("\n")[0];
    expect(bundle).toEqual({
      "application/vnd.mamba-ts.check+json": { id: "ema", status: "failed", message: firstLine },
      "text/plain": firstLine,
    });
    expect(message).toContain("(a step input, alpha = 0.5)");
    expect(message).toContain("input: ([1, 1, 1, 1], 0.500000)");
    expect(message).toContain("result[0]: expected 0.500000, got 1");
    expect(message).toContain(`hint: ${hint}`);
  });

  it("throws when the function returns the wrong length or type", () => {
    expect(() => check("ema", (x: number[]) => x.slice(1))).toThrow(
      /result: expected length 4, got length 3/,
    );
    expect(() => check("ema", () => 3)).toThrow(/result: expected an array of length 4, got 3/);
  });

  it("reports an exception thrown by the learner's function with the case", () => {
    const boom = (): never => {
      throw new TypeError("x.map is not a function");
    };
    expect(() => check("ema", boom)).toThrow(
      /✗ ema: your function threw on case 1\/\d+ \(a step input, alpha = 0.5\): x.map is not a function/,
    );
  });

  it("gives the learner copies of the inputs (mutating them does not change the check)", () => {
    const mutating = (x: number[], alpha: number): number[] => {
      const y = emaClosedForm(x, alpha);
      x.fill(NaN);
      return y;
    };
    expect(evaluateExercise("ema", mutating).status).toBe("passed");
  });

  it("rejects a non-function with a clear error", () => {
    expect(() => check("ema", 42)).toThrow(
      'check("ema"): expected your function as the second argument, got 42',
    );
    expect(() => check("ema", undefined)).toThrow(/got undefined/);
  });

  it("rejects an unknown id, listing the known ids", () => {
    expect(() => check("emma", () => [])).toThrow(
      `check: unknown exercise id "emma"; known ids: ${exercises.map((e) => e.id).join(", ")}`,
    );
  });
});

describe("compareValues and formatValue", () => {
  it("compares numbers with atol + rtol * |expected|", () => {
    expect(compareValues(1, 1 + 1e-10, 1e-9, 0, "r")).toBeNull();
    expect(compareValues(1, 1 + 1e-8, 1e-9, 0, "r")).toBe("r: expected 1, got 1.00000");
    expect(compareValues(0, 1e-13, 0, 1e-12, "r")).toBeNull();
    expect(compareValues(NaN, NaN, 0, 0, "r")).toBeNull();
    expect(compareValues(1, NaN, 1, 1, "r")).toMatch(/expected 1, got NaN/);
    expect(compareValues(1, "1", 0, 0, "r")).toMatch(/r: expected a number 1, got "1"/);
  });

  it("compares arrays, typed arrays and objects recursively, saying where", () => {
    expect(compareValues([1, [2, 3]], [1, [2, 3]], 0, 0, "r")).toBeNull();
    expect(compareValues([1, [2, 3]], [1, [2, 4]], 0, 0, "r")).toBe("r[1][1]: expected 3, got 4");
    expect(compareValues(new Float64Array([1, 2]), [1, 2], 0, 0, "r")).toBeNull();
    expect(compareValues({ a: { b: [1] } }, { a: { b: [2] } }, 0, 0, "r")).toBe(
      "r.a.b[0]: expected 1, got 2",
    );
    expect(compareValues({ a: 1, b: 2 }, { a: 1 }, 0, 0, "r")).toBe('r: missing key "b"');
    expect(compareValues({ a: 1 }, null, 0, 0, "r")).toMatch(/r: expected an object/);
    expect(compareValues("x", "x", 0, 0, "r")).toBeNull();
    expect(compareValues(true, false, 0, 0, "r")).toBe("r: expected true, got false");
  });

  it("formats long arrays compactly", () => {
    expect(formatValue([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toBe(
      "[1, 2, 3, 4, 5, 6, 7, 8, … (10 items)]",
    );
    expect(formatValue(new Float32Array([0.5]))).toBe("Float32Array[0.500000]");
    expect(formatValue({ a: "s", f: () => 1 })).toBe('{ a: "s", f: [function] }');
  });
});

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
