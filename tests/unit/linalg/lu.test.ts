/**
 * lu, solve, inverse and det (lib/src/linalg/lu.ts): P A = L U with triangular factors, known
 * solutions recovered, the pivoting plain elimination would need, A A⁻¹ = I, det's sign and product
 * rules; products computed with nested arrays here.
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import { at, maxDiff, mul, randomMatrix, rows } from "../../helpers/reference";
import { Rng, det, identity, inverse, lu, solve, tensor } from "../../../lib/src/index";

describe("LU, solve, inverse, det", () => {
  it("P A = L U with L unit lower and U upper triangular", () => {
    const rng = new Rng(4);
    const a = randomMatrix(rng, 6, 6);
    const { L, U, perm } = lu(tensor(a));
    const pa = perm.map((p) => a[p]);
    expect(maxDiff(mul(rows(L), rows(U)), pa)).toBeLessThan(1e-13);
    for (let i = 0; i < 6; i++) {
      expect(at(L, i, i)).toBe(1);
      for (let j = i + 1; j < 6; j++) {
        expect(at(L, i, j)).toBe(0);
        expect(at(U, j, i)).toBe(0);
      }
    }
    // Partial pivoting keeps every multiplier at most 1 in size.
    expect(Math.max(...L.data.map(Math.abs))).toBeLessThanOrEqual(1);
  });

  it("solve recovers a known solution (vector and matrix right-hand sides, tol 1e-11)", () => {
    const rng = new Rng(5);
    for (const n of [1, 2, 5, 12]) {
      const a = randomMatrix(rng, n, n).map((row, i) => row.map((v, j) => v + (i === j ? 3 : 0)));
      const x = randomMatrix(rng, n, 3);
      const b = mul(a, x);
      expect(maxDiff(rows(solve(tensor(a), tensor(b))), x)).toBeLessThan(1e-11);
      const xv = solve(tensor(a), tensor(b.map((r) => r[0])));
      expect(xv.shape).toEqual([n]);
      xv.data.forEach((v, i) => expect(Math.abs(v - x[i][0])).toBeLessThan(1e-11));
    }
  });

  it("pivoting handles a tiny leading entry that breaks elimination without it", () => {
    // [[1e-20, 1], [1, 1]] x = [1, 2] has x ≈ [1, 1]; without pivoting x₀ comes out 0.
    const x = solve(
      tensor([
        [1e-20, 1],
        [1, 1],
      ]),
      tensor([1, 2]),
    );
    expect(x.data[0]).toBeCloseTo(1, 14);
    expect(x.data[1]).toBeCloseTo(1, 14);
  });

  it("inverse: A A⁻¹ = I (tol 1e-12); det: sign and product rules", () => {
    const rng = new Rng(6);
    const a = randomMatrix(rng, 5, 5).map((row, i) => row.map((v, j) => v + (i === j ? 4 : 0)));
    const prod = mul(a, rows(inverse(tensor(a))));
    expect(maxDiff(prod, rows(identity(5)))).toBeLessThan(1e-12);
    // det of a triangular matrix is the product of its diagonal; swapping two rows flips the sign.
    const tri = [
      [2, 5, 1],
      [0, -3, 7],
      [0, 0, 0.5],
    ];
    expect(det(tensor(tri))).toBeCloseTo(-3, 13);
    expect(det(tensor([tri[2], tri[1], tri[0]]))).toBeCloseTo(3, 13);
    // det(AB) = det(A) det(B).
    const b = randomMatrix(rng, 5, 5);
    expect(det(tensor(mul(a, b)))).toBeCloseTo(det(tensor(a)) * det(tensor(b)), 8);
  });

  it("rejects singular and malformed systems, naming the argument", () => {
    expect(() =>
      solve(
        tensor([
          [1, 2],
          [2, 4],
        ]),
        tensor([1, 2]),
      ),
    ).toThrow(/solve: argument 'A' must be nonsingular/);
    expect(() =>
      inverse(
        tensor([
          [0, 0],
          [0, 0],
        ]),
      ),
    ).toThrow(/inverse: argument 'A' must be nonsingular/);
    expect(() => solve(tensor([[1, 2, 3]]), tensor([1]))).toThrow(
      /solve: argument 'A' must be a square/,
    );
    expect(() =>
      solve(
        tensor([
          [1, 0],
          [0, 1],
        ]),
        tensor([1, 2, 3]),
      ),
    ).toThrow(/solve: argument 'B'/);
    expect(() =>
      det(
        rawTensor([
          [1, Infinity],
          [0, 1],
        ]),
      ),
    ).toThrow(/det: argument 'A'.*finite/);
  });
});
