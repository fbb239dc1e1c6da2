/**
 * rmsNorm (lib/src/nn/rms-norm.ts) against x / sqrt(mean(x²) + eps) · w written here; weight size
 * and eps errors.
 */
import { describe, expect, it } from "vitest";
import { Rng, rmsNorm } from "../../../lib/src/index";

describe("rmsNorm", () => {
  it("divides by the root mean square and scales by the weight", () => {
    const rng = new Rng(2);
    const x = rng.randn([3, 2, 7]);
    const w = rng.randn([7]);
    const eps = 1e-5;
    const y = rmsNorm(x, w, eps);
    for (let r = 0; r < 6; r++) {
      const row = Array.from(x.data.slice(r * 7, r * 7 + 7));
      const rms = Math.sqrt(row.reduce((a, v) => a + v * v, 0) / 7 + eps);
      row.forEach((v, j) =>
        expect(Math.abs(y.data[r * 7 + j] - (v / rms) * w.data[j])).toBeLessThan(1e-12),
      );
    }
    // with weight 1 and eps 0 every row has mean square 1
    const ones = { shape: [7], data: new Float64Array(7).fill(1) };
    const z = rmsNorm(x, ones, 0);
    const ms = Array.from(z.data.slice(0, 7)).reduce((a, v) => a + v * v, 0) / 7;
    expect(ms).toBeCloseTo(1, 12);
  });
  it("refuses a weight of the wrong size and a negative eps", () => {
    const x = { shape: [2, 3], data: new Float64Array(6) };
    expect(() => rmsNorm(x, { shape: [2], data: new Float64Array(2) }, 1e-5)).toThrow(
      /rmsNorm: argument 'weight'/,
    );
    expect(() => rmsNorm(x, { shape: [3], data: new Float64Array(3) }, -1)).toThrow(
      /rmsNorm: argument 'eps'/,
    );
  });
});
