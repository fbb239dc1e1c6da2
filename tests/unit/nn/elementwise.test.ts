/**
 * siluTensor, softplusTensor, sigmoidTensor (lib/src/nn/elementwise.ts) and transpose12
 * (nn/transpose.ts) against their closed forms and index definitions.
 */
import { describe, expect, it } from "vitest";
import { sigmoidTensor, siluTensor, softplusTensor, transpose12 } from "../../../lib/src/index";

describe("elementwise and transpose12", () => {
  it("apply the closed forms", () => {
    const x = { shape: [2, 2], data: new Float64Array([-3, -0.5, 0, 4]) };
    const s = siluTensor(x);
    const p = softplusTensor(x);
    const g = sigmoidTensor(x);
    x.data.forEach((v, i) => {
      expect(s.data[i]).toBeCloseTo(v / (1 + Math.exp(-v)), 14);
      expect(p.data[i]).toBeCloseTo(Math.log(1 + Math.exp(v)), 14);
      expect(g.data[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 14);
    });
  });
  it("transpose12 swaps the last two axes", () => {
    const x = { shape: [2, 2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
    const y = transpose12(x);
    expect(y.shape).toEqual([2, 3, 2]);
    expect(Array.from(y.data)).toEqual([1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12]);
  });
});
