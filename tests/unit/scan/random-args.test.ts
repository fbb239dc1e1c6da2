/**
 * randomSelectiveScanArgs (lib/src/scan/random-args.ts): Mamba-like shapes, dtype and Δ bias range,
 * and inputs the fast scan accepts and computes like the float64 reference of
 * tests/helpers/selective-scan.ts.
 */
import { describe, expect, it } from "vitest";
import { Rng, randomSelectiveScanArgs, selectiveScanFast } from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";
import { referenceScan } from "../../helpers/selective-scan";

// float32 arithmetic, over at most a few hundred steps of a contracting recurrence
const TOL = 2e-5;

describe("randomSelectiveScanArgs", () => {
  it("makes Mamba-like float32 inputs of the requested size that both scans accept", () => {
    const args = randomSelectiveScanArgs(new Rng(3), { batch: 2, dim: 5, length: 7, dstate: 4 });
    expect(args.u.shape).toEqual([2, 5, 7]);
    expect(args.B.shape).toEqual([2, 4, 7]);
    expect(args.A.shape).toEqual([5, 4]);
    expect(Array.from(args.A.data.subarray(0, 4))).toEqual([-1, -2, -3, -4]);
    expect(args.u.data).toBeInstanceOf(Float32Array);
    // softplus(bias) is the initial step size, log-uniform in [0.001, 0.1]
    for (const b of args.deltaBias!.data) {
      const dt = Math.log1p(Math.exp(b));
      expect(dt).toBeGreaterThan(0.001 * (1 - 1e-5));
      expect(dt).toBeLessThan(0.1 * (1 + 1e-5));
    }
    const want = referenceScan(args);
    expect(relErr(selectiveScanFast(args).out.data, want.out)).toBeLessThan(TOL);
    expect(() =>
      randomSelectiveScanArgs(new Rng(1), { batch: 1, dim: 0, length: 1, dstate: 1 }),
    ).toThrow(/size.dim/);
    expect(() =>
      randomSelectiveScanArgs({} as Rng, { batch: 1, dim: 1, length: 1, dstate: 1 }),
    ).toThrow(/rng/);
  });
});
