/**
 * The Legendre helpers of lib/src/hippo/legendre.ts against the explicit sum formula of P_n, exact
 * Gauss-Legendre integration of polynomials, and coefficients computed by Simpson quadrature
 * (tests/helpers/reference.ts).
 */
import { describe, it, expect } from "vitest";
import {
  gaussLegendre,
  legendreP,
  legendreProject,
  legendreReconstruct,
} from "../../../lib/src/hippo/legendre";
import { legendreCoefficients, legendreExplicit } from "../../helpers/reference";

describe("Legendre basis", () => {
  it("legendreP matches the explicit sum formula", () => {
    const x = [-1, -0.7, -0.1, 0, 0.3, 0.99, 1];
    const P = legendreP(12, x);
    expect(P.shape).toEqual([12, 7]);
    for (let n = 0; n < 12; n++) {
      for (let j = 0; j < 7; j++) {
        expect(Math.abs(P.data[n * 7 + j] - legendreExplicit(n, x[j]))).toBeLessThan(1e-12);
      }
    }
  });

  it("gaussLegendre integrates x^p exactly for p <= 2M - 1", () => {
    for (const M of [1, 2, 5, 20]) {
      const { nodes, weights } = gaussLegendre(M);
      for (let p = 0; p <= 2 * M - 1; p++) {
        let s = 0;
        for (let i = 0; i < M; i++) s += weights[i] * nodes[i] ** p;
        const want = p % 2 === 1 ? 0 : 2 / (p + 1);
        expect(Math.abs(s - want)).toBeLessThan(1e-13);
      }
    }
  });

  it("legendreProject agrees with Simpson quadrature and reconstructs polynomials exactly", () => {
    const f = (u: number): number => Math.exp(u) * Math.sin(5 * u);
    const c = legendreProject(f, 10);
    const want = legendreCoefficients(f, 10, 1);
    for (let n = 0; n < 10; n++) expect(Math.abs(c.data[n] - want[n])).toBeLessThan(1e-10);
    const lin = legendreProject((u) => u, 4);
    const linWant = [0.5, Math.sqrt(3) / 6, 0, 0];
    for (let n = 0; n < 4; n++) expect(Math.abs(lin.data[n] - linWant[n])).toBeLessThan(1e-14);
    const poly = (u: number): number => 1 - 2 * u + 3 * u ** 3 - u ** 5;
    const u = Array.from({ length: 21 }, (_, i) => i / 20);
    const rec = legendreReconstruct(legendreProject(poly, 6), u);
    for (let i = 0; i < 21; i++) expect(Math.abs(rec.data[i] - poly(u[i]))).toBeLessThan(1e-12);
  });

  it("rejects bad input", () => {
    expect(() => legendreP(3, [0, 1.5])).toThrow(/legendreP: argument 'x'.*\[-1, 1\]/);
    expect(() => legendreReconstruct({ shape: [2, 2], data: new Float64Array(4) }, [0])).toThrow(
      /legendreReconstruct: argument 'c'/,
    );
    expect(() => legendreReconstruct({ shape: [2], data: new Float64Array(2) }, [-0.1])).toThrow(
      /legendreReconstruct: argument 'u'/,
    );
    expect(() => legendreProject(() => NaN, 3)).toThrow(/legendreProject: argument 'f'/);
    expect(() => gaussLegendre(0)).toThrow(/gaussLegendre: argument 'M'/);
  });
});
