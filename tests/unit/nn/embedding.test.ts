/**
 * embedding (lib/src/nn/embedding.ts): rows looked up by id; ids out of range, wrong counts and ids
 * that are not an Int32Array refused.
 */
import { describe, expect, it } from "vitest";
import { embedding } from "../../../lib/src/index";

describe("embedding", () => {
  it("looks rows up", () => {
    const w = { shape: [4, 2], data: new Float32Array([0, 1, 10, 11, 20, 21, 30, 31]) };
    const y = embedding(new Int32Array([3, 0, 2, 2]), w, [2, 2]);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.data)).toEqual([30, 31, 0, 1, 20, 21, 20, 21]);
  });
  it("refuses ids out of range, wrong counts and non-Int32Array ids", () => {
    const w = { shape: [4, 2], data: new Float32Array(8) };
    expect(() => embedding(new Int32Array([4]), w, [1, 1])).toThrow(
      /embedding: argument 'ids' must be token ids in \[0, 4\).*got 4/,
    );
    expect(() => embedding(new Int32Array([1, 2]), w, [1, 1])).toThrow(
      /embedding: argument 'ids' must be b·l = 1/,
    );
    expect(() => embedding([1] as unknown as Int32Array, w, [1, 1])).toThrow(
      /embedding: argument 'ids' must be an Int32Array/,
    );
  });
});
