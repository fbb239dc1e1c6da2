/**
 * linear (lib/src/nn/linear.ts) against y = x Wᵀ + b written per element in float64, for float64
 * and float32 input and output sizes off the 4-row blocking; shape and finiteness errors.
 */
import { describe, expect, it } from "vitest";
import { Rng, linear } from "../../../lib/src/index";
import { at } from "../../helpers/reference";

// References below index nested number[][] arrays built from the flat data, written from the
// PyTorch definitions, in float64.
const TOL32 = 1e-5;

describe("linear", () => {
  it("matches y = x Wᵀ + b written per element, float64 and float32", () => {
    const rng = new Rng(1);
    const x = rng.randn([2, 3, 5]);
    const w = rng.randn([4, 5]);
    const b = rng.randn([4]);
    const y = linear(x, w, b);
    expect(y.shape).toEqual([2, 3, 4]);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let o = 0; o < 4; o++) {
          let s = at(b, o);
          for (let k = 0; k < 5; k++) s += at(x, i, j, k) * at(w, o, k);
          expect(Math.abs(at(y, i, j, o) - s)).toBeLessThan(1e-12);
        }
    const y32 = linear({ shape: x.shape, data: Float32Array.from(x.data) }, w);
    expect(y32.data).toBeInstanceOf(Float32Array);
    const noBias = linear(x, w);
    for (let i = 0; i < y32.data.length; i++) {
      expect(Math.abs(y32.data[i] - noBias.data[i])).toBeLessThan(TOL32);
      expect(Math.abs(noBias.data[i] + b.data[i % 4] - y.data[i])).toBeLessThan(1e-12);
    }
  });
  it("handles output sizes that are not a multiple of the 4-row blocking", () => {
    const rng = new Rng(9);
    for (const out of [1, 3, 5, 6, 7, 9]) {
      const x = rng.randn([3, 6]);
      const w = rng.randn([out, 6]);
      const b = rng.randn([out]);
      const y = linear(x, w, b);
      for (let r = 0; r < 3; r++)
        for (let o = 0; o < out; o++) {
          let s = b.data[o];
          for (let k = 0; k < 6; k++) s += x.data[r * 6 + k] * w.data[o * 6 + k];
          expect(Math.abs(y.data[r * out + o] - s)).toBeLessThan(1e-12);
        }
    }
  });
  it("refuses mismatched shapes and non-finite input, naming the argument", () => {
    const w = { shape: [4, 5], data: new Float64Array(20) };
    expect(() => linear({ shape: [2, 4], data: new Float64Array(8) }, w)).toThrow(
      /linear: argument 'x' must be a tensor whose last axis is 5/,
    );
    expect(() =>
      linear({ shape: [2, 5], data: new Float64Array(10) }, w, {
        shape: [3],
        data: new Float64Array(3),
      }),
    ).toThrow(/linear: argument 'bias'/);
    expect(() => linear({ shape: [1, 5], data: new Float64Array([0, 0, NaN, 0, 0]) }, w)).toThrow(
      /linear: argument 'x' must be/,
    );
    expect(() =>
      linear(
        { shape: [1, 5], data: new Float64Array(5) },
        { shape: [20], data: new Float64Array(20) },
      ),
    ).toThrow(/linear: argument 'weight' must be/);
  });
});
