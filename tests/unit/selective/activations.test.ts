/**
 * softplus, inverseSoftplus, sigmoid and silu (lib/src/selective/activations.ts) against log(1 +
 * e^x) where that is accurate and its limits elsewhere, inversion over the whole Δ range, and
 * x·σ(x).
 */
import { describe, expect, it } from "vitest";
import { inverseSoftplus, sigmoid, silu, softplus } from "../../../lib/src/index";

describe("softplus, its inverse, SiLU", () => {
  it("softplus agrees with log(1 + e^x) where that is accurate, and with its limits elsewhere", () => {
    for (let x = -30; x <= 30; x += 0.37) {
      expect(softplus(x)).toBeCloseTo(Math.log1p(Math.exp(x)), 14);
    }
    expect(softplus(800)).toBe(800); // log(1 + e^800) overflows naively
    expect(softplus(-800)).toBe(0);
    expect(softplus(-50) / Math.exp(-50)).toBeCloseTo(1, 14);
    expect(softplus(0)).toBeCloseTo(Math.LN2, 15);
  });

  it("inverseSoftplus inverts softplus over the whole dt range and beyond", () => {
    for (const y of [1e-8, 1e-4, 0.001, 0.01, 0.1, 1, 5, 30, 700]) {
      expect(Math.abs(softplus(inverseSoftplus(y)) - y) / y).toBeLessThan(1e-14);
      expect(inverseSoftplus(y)).toBeCloseTo(Math.log(Math.exp(y) - 1), y < 1e-6 ? 6 : 10);
    }
    expect(() => inverseSoftplus(0)).toThrow(
      /inverseSoftplus: argument 'y' must be a positive finite number \(got 0\)/,
    );
    expect(() => inverseSoftplus(NaN)).toThrow(/inverseSoftplus: argument 'y'/);
  });

  it("silu(x) = x · sigmoid(x), with sigmoid = 1 / (1 + e^-x)", () => {
    for (let x = -20; x <= 20; x += 0.5) {
      expect(sigmoid(x)).toBeCloseTo(1 / (1 + Math.exp(-x)), 15);
      expect(silu(x)).toBeCloseTo(x / (1 + Math.exp(-x)), 14);
    }
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
  });
});
