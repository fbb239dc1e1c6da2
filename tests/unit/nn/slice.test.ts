/**
 * sliceLastAxis (lib/src/nn/slice.ts): the chosen columns of the last axis, the dtype kept.
 */
import { describe, expect, it } from "vitest";
import { sliceLastAxis } from "../../../lib/src/index";

describe("sliceLastAxis", () => {
  it("takes columns of the last axis, keeping the dtype", () => {
    const x = { shape: [2, 4], data: new Float64Array([0, 1, 2, 3, 10, 11, 12, 13]) };
    const y = sliceLastAxis(x, 1, 2);
    expect(y.shape).toEqual([2, 2]);
    expect(y.data).toBeInstanceOf(Float64Array);
    expect(Array.from(y.data)).toEqual([1, 2, 11, 12]);
    expect(() => sliceLastAxis(x, 3, 2)).toThrow(
      /sliceLastAxis: argument 'count' must be an integer in \[0, 1\]/,
    );
  });
});
