/**
 * The tensor helpers (lib/src/tensor.ts): numel and strides from their definitions, tensor and
 * toNested round trips on nested arrays built here, zeros, astype, dtypeOf, allocate and
 * maxAbsDiff.
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../helpers/raw-tensor";
import {
  type NestedNumbers,
  allocate,
  astype,
  dtypeOf,
  maxAbsDiff,
  numel,
  strides,
  tensor,
  toNested,
  zeros,
} from "../../lib/src/tensor";
import { Rng } from "../../lib/src/rng";

/** Row-major strides from their definition: stride[i] = product of shape[i+1..]. */
function refStrides(shape: number[]): number[] {
  return shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
}

/** A nested array of the given shape whose leaf at index (i, j, ...) is f(i, j, ...). */
function build(
  shape: number[],
  f: (idx: number[]) => number,
  prefix: number[] = [],
): NestedNumbers {
  if (prefix.length === shape.length) return f(prefix);
  return Array.from({ length: shape[prefix.length] }, (_, i) => build(shape, f, [...prefix, i]));
}

describe("numel and strides", () => {
  it("numel is the product of the shape (1 for a scalar)", () => {
    expect(numel([])).toBe(1);
    expect(numel([7])).toBe(7);
    expect(numel([2, 3, 4])).toBe(24);
    expect(numel([5, 0, 3])).toBe(0);
  });

  it("strides are row-major", () => {
    for (const shape of [[], [4], [2, 3], [2, 3, 4], [5, 1, 2, 7], [3, 0, 2]]) {
      expect(strides(shape)).toEqual(refStrides(shape));
    }
  });
});

describe("tensor and toNested", () => {
  it("infers the shape and lays data out row-major", () => {
    const shape = [2, 3, 4];
    const f = (idx: number[]): number => 100 * idx[0] + 10 * idx[1] + idx[2] + 0.5;
    const t = tensor(build(shape, f));
    expect(t.shape).toEqual(shape);
    expect(t.data).toBeInstanceOf(Float64Array);
    const st = refStrides(shape);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        for (let k = 0; k < 4; k++)
          expect(t.data[i * st[0] + j * st[1] + k * st[2]]).toBe(f([i, j, k]));
      }
    }
  });

  it("round-trips random nested arrays of several shapes and dtypes", () => {
    const rng = new Rng(7);
    for (const shape of [[], [1], [5], [3, 2], [2, 1, 3], [2, 2, 2, 2]]) {
      const nested = build(shape, () => rng.int(1000) - 500);
      expect(toNested(tensor(nested))).toEqual(nested);
      const t32 = tensor(nested, "float32");
      expect(t32.data).toBeInstanceOf(Float32Array);
      expect(toNested(t32)).toEqual(nested); // small integers are exact in float32
    }
  });

  it("handles empty axes", () => {
    expect(tensor([]).shape).toEqual([0]);
    expect(tensor([[], []]).shape).toEqual([2, 0]);
    expect(toNested(tensor([[], []]))).toEqual([[], []]);
  });

  it("rejects ragged nesting", () => {
    expect(() => tensor([[1, 2], [3]])).toThrow(
      /tensor: argument 'values' must be a nested array of numbers with equal-length rows/,
    );
    expect(() => tensor([[1, 2], 3] as NestedNumbers)).toThrow(/equal-length rows/);
    expect(() => tensor([1, [2]] as NestedNumbers)).toThrow(/equal-length rows/);
    expect(() =>
      tensor([
        [[1], [2]],
        [[3], [4, 5]],
      ]),
    ).toThrow(/equal-length rows/);
  });
});

describe("zeros, astype, dtypeOf, allocate", () => {
  it("zeros has the shape, dtype and only zeros", () => {
    const z = zeros([3, 2], "float32");
    expect(z.shape).toEqual([3, 2]);
    expect(dtypeOf(z)).toBe("float32");
    expect(Array.from(z.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(dtypeOf(zeros([1]))).toBe("float64");
  });

  it("astype copies and converts", () => {
    const t = tensor([
      [0.1, 2],
      [3, 4],
    ]);
    const f = astype(t, "float32");
    expect(dtypeOf(f)).toBe("float32");
    expect(f.data[0]).toBe(Math.fround(0.1));
    f.shape[0] = 99;
    expect(t.shape).toEqual([2, 2]); // a copy, not a view
    expect(allocate("float64", 3)).toBeInstanceOf(Float64Array);
  });
});

describe("maxAbsDiff", () => {
  it("is the largest absolute elementwise difference", () => {
    const rng = new Rng(3);
    const a = rng.randn([4, 5]);
    const b = rng.randn([4, 5]);
    let ref = 0;
    for (let i = 0; i < 20; i++) ref = Math.max(ref, Math.abs(a.data[i] - b.data[i]));
    expect(maxAbsDiff(a, b)).toBe(ref);
    expect(maxAbsDiff(a, a)).toBe(0);
  });

  it("reports NaN or infinite differences as Infinity", () => {
    const a = rawTensor([1, NaN, 3]);
    expect(maxAbsDiff(a, tensor([1, 2, 3]))).toBe(Infinity);
    expect(maxAbsDiff(rawTensor([1, Infinity]), tensor([1, 0]))).toBe(Infinity);
    // A NaN after a large finite difference still wins.
    expect(maxAbsDiff(rawTensor([100, NaN]), tensor([0, 0]))).toBe(Infinity);
  });

  it("rejects tensors of different sizes, naming both shapes", () => {
    expect(() => maxAbsDiff(zeros([2, 3]), zeros([7]))).toThrow(
      "maxAbsDiff: argument 'b' must be a tensor of a's shape [2, 3] (got shape [7])",
    );
  });
});
