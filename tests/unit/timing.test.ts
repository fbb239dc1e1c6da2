/**
 * powerLawFit and timeMs (lib/src/timing.ts): an exact power law's exponent and coefficient
 * recovered, positive per-call times, argument errors.
 */
import { describe, it, expect } from "vitest";
import { powerLawFit, timeMs } from "../../lib/src/timing";

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

  it("powerLawFit and timeMs reject bad input", () => {
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
