/**
 * powerLawFit, quadraticFit and timeMs (lib/src/timing.ts): exact laws recovered, standard
 * errors against numpy's least squares on a noisy set, positive per-call times, argument errors.
 */
import { describe, it, expect } from "vitest";
import { quadraticFit, powerLawFit, timeMs } from "../../lib/src/timing";

// A noisy timing set: two repeats at each of five lengths.
const NOISY_X = [128, 256, 512, 1024, 2048, 128, 256, 512, 1024, 2048];
const NOISY_Y = [3.1, 5.9, 13.2, 30.5, 88.0, 3.4, 6.3, 12.1, 33.0, 80.0];

describe("timing helpers", () => {
  it("powerLawFit recovers the exponent and coefficient of an exact power law", () => {
    const x = [64, 128, 256, 1024, 4096];
    for (const [a, p] of [
      [3e-4, 2],
      [0.5, 1],
      [2, 1.37],
    ]) {
      const fit = powerLawFit(
        x,
        x.map((v) => a * v ** p),
      );
      expect(Math.abs(fit.exponent - p)).toBeLessThan(1e-12);
      expect(Math.abs(fit.coefficient - a) / a).toBeLessThan(1e-10);
    }
  });

  it("powerLawFit's standard error matches numpy's least squares (and is 0 for an exact law)", () => {
    // numpy 2 (/work reference venv): lstsq of log y on [1, log x]; s² = residuals² / (n − 2);
    // cov = s² (XᵀX)⁻¹; printed with repr.
    const fit = powerLawFit(NOISY_X, NOISY_Y);
    expect(fit.points).toBe(10);
    expect(fit.exponent).toBeCloseTo(1.176308908857931, 12);
    expect(fit.coefficient).toBeCloseTo(0.009500347687160803, 12);
    expect(fit.exponentStdErr).toBeCloseTo(0.04104532696702887, 12);
    const exact = powerLawFit([1, 2, 4, 8], [3, 12, 48, 192]);
    expect(exact.exponentStdErr).toBeLessThan(1e-12);
    expect(Number.isNaN(powerLawFit([1, 2], [1, 4]).exponentStdErr)).toBe(true);
  });

  it("quadraticFit recovers c + a·x + b·x² exactly, and matches numpy's weighted least squares on noise", () => {
    const x = [100, 300, 700, 1500, 4000];
    for (const [c, a, b] of [
      [5, 0.02, 1e-5],
      [0, 0.5, 0],
      [30, 1e-3, 3e-4],
    ]) {
      const fit = quadraticFit(
        x,
        x.map((v) => c + a * v + b * v * v),
      );
      expect(Math.abs(fit.c - c)).toBeLessThan(1e-9 * Math.max(c, 1));
      expect(Math.abs(fit.a - a) / a).toBeLessThan(1e-9);
      expect(Math.abs(fit.b - b)).toBeLessThan(1e-12 * Math.max(b, 1e-6));
      expect(fit.aStdErr).toBeLessThan(1e-9 * a);
    }
    // numpy: A = [1, x, x²], W = diag(1/y²), coef = solve(AᵀWA, AᵀWy),
    // s² = Σ((y − A coef)/y)² / (n − 3), cov = s² (AᵀWA)⁻¹, printed with repr.
    const fit = quadraticFit(NOISY_X, NOISY_Y);
    expect(fit.points).toBe(10);
    expect(fit.c / 0.7689740997621491).toBeCloseTo(1, 9);
    expect(fit.a / 0.01781245317244142).toBeCloseTo(1, 9);
    expect(fit.b / 1.1261788446612812e-5).toBeCloseTo(1, 9);
    expect(fit.cStdErr / 0.2586682443862774).toBeCloseTo(1, 9);
    expect(fit.aStdErr / 0.0015837301569684484).toBeCloseTo(1, 9);
    expect(fit.bStdErr / 1.2289952997124938e-6).toBeCloseTo(1, 9);
    expect(Number.isNaN(quadraticFit([1, 2, 3], [1, 2, 4]).bStdErr)).toBe(true);
  });

  it("powerLawFit and timeMs reject bad input", () => {
    expect(() => quadraticFit([1, 2], [1])).toThrow(/quadraticFit: argument 'y'/);
    expect(() => quadraticFit([3, 3, 4], [1, 2, 3])).toThrow(
      /quadraticFit: argument 'x' must be an array of at least three distinct values \(got 2\)/,
    );
    expect(() => quadraticFit([1, 2, 3], [1, 0, 2])).toThrow(
      /quadraticFit: argument 'y'.*positive/,
    );
    expect(() => powerLawFit([1, 2], [1])).toThrow(/powerLawFit: argument 'y'/);
    expect(() => powerLawFit([1, -2], [1, 2])).toThrow(/powerLawFit: argument 'x'.*positive/);
    expect(() => powerLawFit([2, 2], [1, 2])).toThrow(/powerLawFit: argument 'x'.*distinct/);
    expect(() => timeMs("f" as unknown as () => void)).toThrow(/timeMs: argument 'fn'/);
    expect(() => timeMs(() => 0, { repeats: 0 })).toThrow(
      /timeMs: argument 'options.repeats' must be an integer in \[1, 1000\] \(got 0\)/,
    );
    expect(() => timeMs(() => 0, { minMs: -1 })).toThrow(
      /timeMs: argument 'options.minMs' must be a positive finite number/,
    );
  });

  it("timeMs returns a positive per-call time", () => {
    const t = timeMs(() => Math.sqrt(2), { repeats: 1, minMs: 1 });
    expect(t).toBeGreaterThan(0);
    expect(Number.isFinite(t)).toBe(true);
  });
});
