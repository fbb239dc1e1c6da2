import { describe, expect, it } from "vitest";
import {
  assertFiniteArray,
  assertFiniteNumber,
  assertFunction,
  assertInteger,
  assertOneOf,
  assertPositive,
  assertTensor,
  describe as describeValue,
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

describe("assertTensor", () => {
  it("accepts a matching tensor and returns it", () => {
    const x = t([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(assertTensor("f: x", x)).toBe(x);
    expect(assertTensor("f: x", x, { rank: 2, shape: [2, null], dtype: "float64" })).toBe(x);
    expect(
      assertTensor("f: x", t([1], [1], "f32"), { dtype: ["float32", "float64"] }).shape,
    ).toEqual([1]);
    expect(assertTensor("f: x", t([2], [NaN, Infinity]), { finite: false }).shape).toEqual([2]);
  });

  it("rejects non-tensors, naming the argument and the layout", () => {
    expect(() => assertTensor("selectiveScan: u", [1, 2], { axes: ["b", "d", "l"] })).toThrow(
      "selectiveScan: u: expected a tensor { shape: number[], data: Float32Array | Float64Array } (b, d, l), got an array of length 2",
    );
    expect(() => assertTensor("f: x", null)).toThrow(/^f: x: expected a tensor .* got null$/);
    expect(() => assertTensor("f: x", { shape: [2], data: [1, 2] })).toThrow(
      /f: x: expected a tensor/,
    );
    expect(() => assertTensor("f: x", { shape: [2], data: new Int32Array(2) })).toThrow(
      /f: x: expected a tensor/,
    );
  });

  it("rejects bad shapes and size mismatches", () => {
    expect(() => assertTensor("f: x", t([-1], []))).toThrow(
      /f: x: shape must hold non-negative integers, got \[-1\]/,
    );
    expect(() => assertTensor("f: x", t([1.5], [1]))).toThrow(
      /f: x: shape must hold non-negative integers/,
    );
    expect(() => assertTensor("f: x", t([2, 2], [1, 2, 3]))).toThrow(
      "f: x: data has 3 elements but shape [2, 2] needs 4",
    );
  });

  it("checks rank, shape and dtype, naming the axis", () => {
    const x = t([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(() => assertTensor("f: A", x, { rank: 3 })).toThrow(
      "f: A: expected 3 axes, got shape [2, 3]",
    );
    expect(() => assertTensor("f: A", x, { shape: [2, 4], axes: ["d", "n"] })).toThrow(
      "f: A: expected shape [2, 4] (d, n), got [2, 3]: axis 1 (n) should be 4",
    );
    expect(() => assertTensor("f: A", x, { shape: [null, 2] })).toThrow(
      /f: A: expected shape \[\*, 2\]/,
    );
    expect(() => assertTensor("f: A", x, { dtype: "float32" })).toThrow(
      "f: A: expected dtype float32, got float64",
    );
  });

  it("rejects non-finite values by default, naming the index", () => {
    expect(() => assertTensor("f: x", t([3], [0, 1, NaN]))).toThrow(
      "f: x: expected finite values, found NaN at flat index 2",
    );
    expect(() => assertFiniteArray("g: y", [1, -Infinity])).toThrow(
      "g: y: expected finite values, found -Infinity at flat index 1",
    );
    expect(() => assertFiniteArray("g: y", [1, 2])).not.toThrow();
  });
});

describe("scalar assertions", () => {
  it("assertFiniteNumber", () => {
    expect(assertFiniteNumber("f: a", -2.5)).toBe(-2.5);
    expect(() => assertFiniteNumber("f: a", NaN)).toThrow(
      "f: a: expected a finite number, got NaN",
    );
    expect(() => assertFiniteNumber("f: a", "1")).toThrow(
      'f: a: expected a finite number, got "1"',
    );
    expect(() => assertFiniteNumber("f: a", Infinity)).toThrow(/f: a/);
  });

  it("assertPositive", () => {
    expect(assertPositive("discretize: dt", 0.1)).toBe(0.1);
    expect(() => assertPositive("discretize: dt", -1)).toThrow(
      "discretize: dt: expected a positive number, got -1",
    );
    expect(() => assertPositive("discretize: dt", 0)).toThrow(
      /discretize: dt: expected a positive number, got 0/,
    );
    expect(() => assertPositive("discretize: dt", undefined)).toThrow(
      /discretize: dt: expected a finite number/,
    );
  });

  it("assertInteger with and without bounds", () => {
    expect(assertInteger("f: n", 3)).toBe(3);
    expect(assertInteger("f: n", 0, 0, 0)).toBe(0);
    expect(() => assertInteger("f: n", 2.5)).toThrow("f: n: expected an integer, got 2.5");
    expect(() => assertInteger("f: n", 0, 1)).toThrow("f: n: expected an integer >= 1, got 0");
    expect(() => assertInteger("f: n", 9, -Infinity, 8)).toThrow(
      "f: n: expected an integer <= 8, got 9",
    );
    expect(() => assertInteger("f: n", 9, 0, 8)).toThrow(
      "f: n: expected an integer in [0, 8], got 9",
    );
  });

  it("assertOneOf", () => {
    const methods = ["zoh", "bilinear", "euler"] as const;
    expect(assertOneOf("discretize: method", "zoh", methods)).toBe("zoh");
    expect(() => assertOneOf("discretize: method", "rk4", methods)).toThrow(
      'discretize: method: expected one of "zoh", "bilinear", "euler", got "rk4"',
    );
    expect(() => assertOneOf("discretize: method", 1, methods)).toThrow(
      /discretize: method: .* got 1/,
    );
  });

  it("assertFunction", () => {
    const f = (): number => 1;
    expect(assertFunction("check: fn", f)).toBe(f);
    expect(() => assertFunction("check: fn", 5)).toThrow("check: fn: expected a function, got 5");
  });
});
