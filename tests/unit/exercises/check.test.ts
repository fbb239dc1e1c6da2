/**
 * The exercise checker (lib/src/exercises/check.ts): check and evaluateExercise report a stub as
 * not implemented, pass an independently written EMA (its closed form) and fail wrong results
 * naming the case, expected vs got and the hint; cloneArgument, compareValues and formatValue. Also
 * lesson 00's reference exponentialMovingAverage against that closed form.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
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
import { exponentialMovingAverage } from "../../../lib/src/exercises/00-welcome";
import { Rng } from "../../../lib/src/rng";

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

  it("an infinity must be met exactly, whatever the tolerance", () => {
    expect(compareValues(-Infinity, -Infinity, 1e-9, 1e-12, "r")).toBeNull();
    expect(compareValues(-Infinity, 0, 1e-9, 1e-12, "r")).toMatch(/r: expected -Infinity, got 0/);
    expect(compareValues(Infinity, -Infinity, 1, 1, "r")).toMatch(/expected Infinity/);
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
