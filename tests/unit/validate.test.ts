/**
 * The argument checks of lib/src/validate.ts: describe's summaries, the tensor and scalar checks
 * and the schema helpers, each message naming the function, the argument and what was expected.
 */
import { describe, expect, it } from "vitest";
import {
  MAX_ELEMENTS,
  type TensorSpec,
  checkArg,
  checkFiniteParams,
  checkOptions,
  describe as describeValue,
  firstNonFinite,
  schema,
  withFiniteParams,
} from "../../lib/src/validate";

const t = (shape: number[], data: number[], dtype: "f32" | "f64" = "f64") => ({
  shape,
  data: dtype === "f32" ? new Float32Array(data) : new Float64Array(data),
});

describe("describe", () => {
  it("summarises values without dumping them", () => {
    expect(describeValue(null)).toBe("null");
    expect(describeValue(undefined)).toBe("undefined");
    expect(describeValue(-1.5)).toBe("-1.5");
    expect(describeValue("zoh")).toBe('"zoh"');
    expect(describeValue([1, 2, 3])).toBe("an array of length 3");
    expect(describeValue(new Float32Array(4))).toBe("a Float32Array");
    expect(describeValue(t([2, 1], [1, 2]))).toBe("a tensor of shape [2, 1] (Float64Array)");
    expect(describeValue({ a: 1 })).toBe("an object");
    expect(describeValue(true)).toBe("boolean");
  });
});

// checkArg with a tensor schema, as the public functions call it.
const tensorArg = (fn: string, arg: string, value: unknown, spec: TensorSpec = {}) =>
  checkArg(fn, arg, value, schema.tensor(spec));

describe("checkArg with schema.tensor", () => {
  it("accepts a matching tensor and returns it", () => {
    const x = t([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(tensorArg("f", "x", x)).toBe(x);
    expect(tensorArg("f", "x", x, { rank: 2, shape: [2, null], dtype: "float64" })).toBe(x);
    expect(
      tensorArg("f", "x", t([1], [1], "f32"), { dtype: ["float32", "float64"] }).shape,
    ).toEqual([1]);
    expect(tensorArg("f", "x", t([2], [NaN, Infinity]), { finite: false }).shape).toEqual([2]);
    // Zero-size tensors are accepted (the policy in validate.ts's module doc).
    expect(tensorArg("f", "x", t([0, 3], [])).shape).toEqual([0, 3]);
  });

  it("rejects non-tensors, naming the function, the argument and the layout", () => {
    expect(() => tensorArg("selectiveScan", "u", [1, 2], { axes: ["b", "d", "l"] })).toThrow(
      "selectiveScan: argument 'u' must be a tensor { shape: number[], data: Float32Array | Float64Array } (b, d, l) (got an array of length 2)",
    );
    expect(() => tensorArg("f", "x", null)).toThrow(
      /^f: argument 'x' must be a tensor .*\(got null\)$/,
    );
    expect(() => tensorArg("f", "x", { shape: [2], data: [1, 2] })).toThrow(
      /f: argument 'x' must be a tensor/,
    );
    expect(() => tensorArg("f", "x", { shape: [2], data: new Int32Array(2) })).toThrow(
      /f: argument 'x' must be a tensor/,
    );
  });

  it("rejects bad shapes and size mismatches", () => {
    expect(() => tensorArg("f", "x", t([-1], []))).toThrow(
      "f: argument 'x' must be a tensor whose shape holds non-negative integers (got shape [-1])",
    );
    expect(() => tensorArg("f", "x", t([1.5], [1]))).toThrow(
      /f: argument 'x' must be a tensor whose shape holds non-negative integers/,
    );
    expect(() => tensorArg("f", "x", t([2, 2], [1, 2, 3]))).toThrow(
      "f: argument 'x' must be a tensor whose data length matches its shape: shape [2, 2] needs 4 elements (got 3)",
    );
  });

  it("checks rank, shape and dtype, naming the axis", () => {
    const x = t([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(() => tensorArg("f", "A", x, { rank: 3 })).toThrow(
      "f: argument 'A' must be a tensor with 3 axes (got shape [2, 3])",
    );
    expect(() => tensorArg("f", "A", x, { shape: [2, 4], axes: ["d", "n"] })).toThrow(
      "f: argument 'A' must be a tensor of shape [2, 4] (d, n): axis 1 (n) should be 4 (got shape [2, 3])",
    );
    expect(() => tensorArg("f", "A", x, { shape: [null, 2] })).toThrow(
      /f: argument 'A' must be a tensor of shape \[\*, 2\]/,
    );
    expect(() => tensorArg("f", "A", x, { dtype: "float32" })).toThrow(
      "f: argument 'A' must be a tensor of dtype float32 (got float64)",
    );
  });

  it("rejects non-finite values by default, naming the index", () => {
    expect(() => tensorArg("f", "x", t([3], [0, 1, NaN]))).toThrow(
      "f: argument 'x' must be a tensor of finite values (got NaN at flat index 2)",
    );
  });
});

describe("checkArg with the scalar schemas", () => {
  it("schema.positive", () => {
    expect(checkArg("discretize", "dt", 0.1, schema.positive())).toBe(0.1);
    expect(() => checkArg("discretize", "dt", -1, schema.positive())).toThrow(
      "discretize: argument 'dt' must be a positive finite number (got -1)",
    );
    expect(() => checkArg("discretize", "dt", 0, schema.positive())).toThrow(/\(got 0\)/);
    expect(() => checkArg("discretize", "dt", undefined, schema.positive())).toThrow(
      /\(got undefined\)/,
    );
  });

  it("schema.integer with and without bounds", () => {
    expect(checkArg("f", "n", 3, schema.integer())).toBe(3);
    expect(checkArg("f", "n", 0, schema.integer({ min: 0, max: 0 }))).toBe(0);
    expect(() => checkArg("f", "n", 2.5, schema.integer())).toThrow(
      "f: argument 'n' must be an integer (got 2.5)",
    );
    expect(() => checkArg("f", "n", 0, schema.integer({ min: 1 }))).toThrow(
      "f: argument 'n' must be an integer >= 1 (got 0)",
    );
    expect(() => checkArg("f", "n", 9, schema.integer({ max: 8 }))).toThrow(
      "f: argument 'n' must be an integer <= 8 (got 9)",
    );
    expect(() => checkArg("f", "n", 9, schema.integer({ min: 0, max: 8 }))).toThrow(
      "f: argument 'n' must be an integer in [0, 8] (got 9)",
    );
  });

  it("schema.oneOf", () => {
    const methods = ["zoh", "bilinear", "euler"] as const;
    expect(checkArg("discretize", "method", "zoh", schema.oneOf(methods))).toBe("zoh");
    expect(() => checkArg("discretize", "method", "rk4", schema.oneOf(methods))).toThrow(
      `discretize: argument 'method' must be one of "zoh", "bilinear", "euler" (got "rk4")`,
    );
    expect(() => checkArg("discretize", "method", 1, schema.oneOf(methods))).toThrow(
      /discretize: argument 'method' .*\(got 1\)/,
    );
  });

  it("schema.function", () => {
    const f = (): number => 1;
    expect(checkArg("check", "fn", f, schema.function())).toBe(f);
    expect(() => checkArg("check", "fn", 5, schema.function())).toThrow(
      "check: argument 'fn' must be a function (got 5)",
    );
  });
});

describe("schema", () => {
  it("every schema rejects each of its own invalid() samples and accepts a valid value", () => {
    const cases: [ReturnType<typeof schema.integer> | ReturnType<typeof schema.tensor>, unknown][] =
      [
        [schema.integer({ min: 1, max: 10 }), 5],
        [schema.number({ min: 0 }), 0],
        [schema.positive({ max: 2 }), 2],
        [schema.tensor({ rank: 2, finite: true }), t([1, 2], [1, 2])],
      ];
    const more: [{ problem(v: unknown): string | null; invalid(): unknown[] }, unknown][] = [
      [schema.boolean(), false],
      [schema.string(), "a"],
      [schema.oneOf(["a", "b"]), "b"],
      [schema.function(), () => 1],
      [schema.shape(), [2, 3]],
      [schema.numbers({ minLength: 1 }), [1, 2]],
      [schema.rng(), { random: () => 0.5, normal: () => 0 }],
      [schema.options({ a: schema.optional(schema.integer()) }), { a: 1 }],
    ];
    for (const [s, good] of [...cases, ...more]) {
      expect(s.problem(good)).toBeNull();
      for (const bad of s.invalid()) expect(s.problem(bad), String(bad)).not.toBeNull();
    }
  });

  it("checkArg names the function and the argument, and says what was expected", () => {
    expect(checkArg("f", "n", 3, schema.integer({ min: 1 }))).toBe(3);
    expect(() => checkArg("f", "n", 0, schema.integer({ min: 1, max: 8 }))).toThrow(
      "f: argument 'n' must be an integer in [1, 8] (got 0)",
    );
    expect(() => checkArg("zeros", "shape", [NaN, 3], schema.shape())).toThrow(
      `zeros: argument 'shape' must be a shape: an array of non-negative integers with at most ${MAX_ELEMENTS} elements in all (got [NaN, 3])`,
    );
    expect(() => checkArg("f", "x", [1, "2"], schema.numbers())).toThrow(
      `f: argument 'x' must be an array of finite numbers (got "2" at index 1)`,
    );
  });

  it("optional: undefined and null both mean 'not given'", () => {
    const s = schema.optional(schema.positive());
    expect(s.problem(undefined)).toBeNull();
    expect(s.problem(null)).toBeNull();
    expect(s.problem(-1)).toMatch(/positive/);
    expect(schema.positive().problem(null)).toBe("a positive finite number (got null)");
  });

  it("options: rejects non-objects and unknown keys, names a bad key as options.key", () => {
    const s = schema.options({
      dt: schema.optional(schema.positive()),
      steps: schema.optional(schema.integer({ min: 1 })),
    });
    expect(checkOptions("f", "options", undefined, s)).toEqual({});
    expect(checkOptions("f", "options", null, s)).toEqual({});
    expect(checkOptions("f", "options", { dt: 0.5 }, s)).toEqual({ dt: 0.5 });
    expect(() => checkOptions("f", "options", 42, s)).toThrow(
      "f: argument 'options' must be an options object { dt?, steps? } (got 42)",
    );
    expect(() => checkOptions("f", "options", [1], s)).toThrow(/argument 'options' must be/);
    expect(() => checkOptions("f", "options", { Dt: 1 }, s)).toThrow(
      `f: argument 'options' must be an options object { dt?, steps? } (got an unknown key "Dt"; the keys are dt, steps)`,
    );
    expect(() => checkOptions("f", "options", { steps: 1.5 }, s)).toThrow(
      "f: argument 'options.steps' must be an integer >= 1 (got 1.5)",
    );
    // An argument object (arg ""): its keys are named on their own.
    expect(() => checkOptions("g", "", { steps: 0 }, s)).toThrow(
      "g: argument 'steps' must be an integer >= 1 (got 0)",
    );
  });
});

describe("firstNonFinite", () => {
  const naive = (d: ArrayLike<number>) => {
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return i;
    return -1;
  };
  // every float32 class: zeros, subnormals, the largest finite values, and the three non-finite
  const specials = [
    0,
    -0,
    1e-45,
    -1e-45,
    1.1754942e-38,
    3.4028235e38,
    -3.4028235e38,
    NaN,
    Infinity,
    -Infinity,
  ];

  it("agrees with Number.isFinite on float32 and float64 data holding every class of value", () => {
    for (const make of [(n: number) => new Float32Array(n), (n: number) => new Float64Array(n)]) {
      for (const v of specials) {
        for (const at of [0, 1, 4, 37, 99]) {
          const d = make(100);
          for (let i = 0; i < d.length; i++) d[i] = Math.sin(i) * 10 ** ((i % 7) - 3);
          d[at] = v;
          expect(firstNonFinite(d), `${v} at ${at}`).toBe(naive(d));
          expect(firstNonFinite(d) === -1, `${v}`).toBe(Number.isFinite(v));
        }
      }
    }
  });

  it("reads a float32 view from its own offset and length (a subarray)", () => {
    const whole = new Float32Array(16);
    whole[2] = NaN;
    whole[12] = Infinity;
    expect(firstNonFinite(whole.subarray(3, 12))).toBe(-1);
    expect(firstNonFinite(whole.subarray(3, 13))).toBe(9);
    expect(firstNonFinite(whole.subarray(2))).toBe(0);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });
});

describe("finite parameters: checked once, read again when a result is not finite", () => {
  const params = () =>
    new Map([
      ["a", t([3], [1, 2, 3], "f32")],
      ["b", t([2], [4, 5], "f32")],
    ]);

  /** A call's result: what `run` returns to withFiniteParams. */
  const result = (...values: number[]) => ({ data: Float32Array.from(values) });

  it("checkFiniteParams and withFiniteParams name the tensor and the index", () => {
    const p = params();
    p.get("b")!.data[1] = -Infinity;
    expect(() => checkFiniteParams("f", p)).toThrow(
      "f: argument 'model.params' must hold finite values (got -Infinity in \"b\" at flat index 1)",
    );
    let ran = false;
    expect(() =>
      withFiniteParams("g", p, () => {
        ran = true;
        return result(0);
      }),
    ).toThrow(
      "g: argument 'model.params' must hold finite values (got -Infinity in \"b\" at flat index 1)",
    );
    expect(ran).toBe(false); // refused before the call runs
  });

  it("an array found finite is not read again; a non-finite result reads every array again", () => {
    const p = params();
    const finite = result(0.5, 1);
    expect(withFiniteParams("f", p, () => finite)).toBe(finite);
    p.get("a")!.data[2] = NaN; // changed in place after the check
    expect(() => withFiniteParams("f", p, () => finite)).not.toThrow();
    expect(() => withFiniteParams("f", p, () => result(0.5, NaN))).toThrow(
      "f: argument 'model.params' must hold finite values (got NaN in \"a\" at flat index 2)",
    );
    // a new array (not seen before) is read before the call
    p.set("a", t([3], [1, NaN, 3], "f32"));
    expect(() => withFiniteParams("f", p, () => finite)).toThrow(/got NaN in "a" at flat index 1/);
  });

  it("a non-finite result from finite parameters is returned, not refused", () => {
    const p = params();
    const infinite = result(Infinity);
    expect(withFiniteParams("f", p, () => infinite)).toBe(infinite);
  });
});
