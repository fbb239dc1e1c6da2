/**
 * The scan operator combine (lib/src/scan/combine.ts): associative, the composition of the affine
 * maps it stands for, identity (1, 0) on both sides, not commutative.
 */
import { describe, expect, it } from "vitest";
import { Rng, applyPair, combine } from "../../../lib/src/index";

describe("combine (the scan operator)", () => {
  it("is associative on random pairs (relative error < 1e-14)", () => {
    const rng = new Rng(7);
    for (let k = 0; k < 200; k++) {
      const x: [number, number] = [rng.uniform(-2, 2), rng.normal()];
      const y: [number, number] = [rng.uniform(-2, 2), rng.normal()];
      const z: [number, number] = [rng.uniform(-2, 2), rng.normal()];
      const left = combine(combine(x, y), z);
      const right = combine(x, combine(y, z));
      for (let i = 0; i < 2; i++) {
        expect(Math.abs(left[i] - right[i])).toBeLessThanOrEqual(1e-14 * (1 + Math.abs(left[i])));
      }
    }
  });

  it("composes the affine maps: applying x ∘ y equals applying x, then y", () => {
    const rng = new Rng(8);
    for (let k = 0; k < 50; k++) {
      const x: [number, number] = [rng.normal(), rng.normal()];
      const y: [number, number] = [rng.normal(), rng.normal()];
      const h = rng.normal();
      const direct = y[0] * (x[0] * h + x[1]) + y[1];
      expect(applyPair(combine(x, y), h)).toBeCloseTo(direct, 12);
    }
  });

  it("has identity (1, 0) on both sides and is not commutative", () => {
    expect(combine([1, 0], [0.5, 2])).toEqual([0.5, 2]);
    expect(combine([0.5, 2], [1, 0])).toEqual([0.5, 2]);
    expect(combine([2, 1], [3, 1])).toEqual([6, 4]);
    expect(combine([3, 1], [2, 1])).toEqual([6, 3]);
  });

  it("rejects malformed pairs, naming the argument", () => {
    expect(() => combine([1] as unknown as [number, number], [1, 2])).toThrow(
      /combine: argument 'first'/,
    );
    expect(() => combine([1, 2], [1, NaN])).toThrow(
      /combine: argument 'second\[1\] \(b\)' must be a finite number/,
    );
    expect(() => combine("ab" as unknown as [number, number], [1, 2])).toThrow(/first/);
  });
});
