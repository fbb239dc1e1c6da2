/**
 * eigvals, spectralAbscissa and spectralRadius (lib/src/linalg/eig.ts) against closed forms (2 ×
 * 2), known spectra built as V D Vᵀ with a random orthogonal V, the roots of a companion matrix,
 * and the trace and determinant identities.
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import { mul, randomMatrix, randomOrthogonal, rows } from "../../helpers/reference";
import {
  Rng,
  type Tensor,
  det,
  eigvals,
  identity,
  spectralAbscissa,
  spectralRadius,
  tensor,
} from "../../../lib/src/index";

/** Sorts eigenvalue pairs like eigvals does: by real part, then imaginary part, descending. */
function sortPairs(p: [number, number][]): [number, number][] {
  return [...p].sort((u, v) => v[0] - u[0] || v[1] - u[1]);
}

function expectEigs(A: Tensor, expected: [number, number][], tol: number): void {
  const { re, im } = eigvals(A);
  const want = sortPairs(expected);
  expect(re.length).toBe(want.length);
  // Match each expected eigenvalue to the nearest computed one (robust to ties in sorting).
  const used = new Set<number>();
  for (const [wr, wi] of want) {
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < re.length; i++) {
      const d = Math.hypot(re[i] - wr, im[i] - wi);
      if (!used.has(i) && d < bestD) [best, bestD] = [i, d];
    }
    used.add(best);
    expect(bestD).toBeLessThan(tol * Math.max(1, Math.hypot(wr, wi)));
  }
}

describe("eigvals", () => {
  it("2 × 2 closed forms: rotation generator ±iθ, triangular, symmetric", () => {
    expectEigs(
      tensor([
        [0, -2],
        [2, 0],
      ]),
      [
        [0, 2],
        [0, -2],
      ],
      1e-15,
    );
    expectEigs(
      tensor([
        [3, 7],
        [0, -1],
      ]),
      [
        [3, 0],
        [-1, 0],
      ],
      1e-15,
    );
    expectEigs(
      tensor([
        [2, 1],
        [1, 2],
      ]),
      [
        [3, 0],
        [1, 0],
      ],
      1e-15,
    );
    // Damped spring: -ζω ± iω√(1-ζ²).
    const w = 3;
    const z = 0.1;
    expectEigs(
      tensor([
        [0, 1],
        [-w * w, -2 * z * w],
      ]),
      [
        [-z * w, w * Math.sqrt(1 - z * z)],
        [-z * w, -w * Math.sqrt(1 - z * z)],
      ],
      1e-14,
    );
  });

  it("recovers known spectra of V diag(λ) Vᵀ with orthogonal V, real and complex (tol 1e-10)", () => {
    const rng = new Rng(7);
    for (const n of [3, 4, 6, 9]) {
      const q = randomOrthogonal(rng, n);
      // Block diagonal: complex pairs as [[a, -b], [b, a]] blocks, the rest real.
      const d = rows(identity(n)).map((r) => r.map(() => 0));
      const expected: [number, number][] = [];
      let i = 0;
      while (i < n) {
        if (i + 1 < n && rng.random() < 0.5) {
          const a = rng.uniform(-3, 1);
          const b = rng.uniform(0.5, 4);
          d[i][i] = a;
          d[i + 1][i + 1] = a;
          d[i][i + 1] = -b;
          d[i + 1][i] = b;
          expected.push([a, b], [a, -b]);
          i += 2;
        } else {
          const l = rng.uniform(-5, 2);
          d[i][i] = l;
          expected.push([l, 0]);
          i += 1;
        }
      }
      const qt = q[0].map((_, j) => q.map((row) => row[j]));
      const a = mul(mul(q, d), qt);
      expectEigs(tensor(a), expected, 1e-10);
    }
  });

  it("finds the roots 1..6 of a companion matrix (non-normal, tol 1e-7)", () => {
    // Coefficients of (x-1)(x-2)...(x-6) = x⁶ + c5 x⁵ + ... + c0.
    let poly = [1];
    for (let r = 1; r <= 6; r++) {
      const next = new Array(poly.length + 1).fill(0);
      poly.forEach((c, k) => {
        next[k] += c;
        next[k + 1] -= r * c;
      });
      poly = next;
    }
    const n = 6;
    const comp = Array.from({ length: n }, () => new Array(n).fill(0));
    for (let j = 0; j < n; j++) comp[0][j] = -poly[j + 1];
    for (let i = 1; i < n; i++) comp[i][i - 1] = 1;
    expectEigs(
      tensor(comp),
      [1, 2, 3, 4, 5, 6].map((r): [number, number] => [r, 0]),
      1e-7,
    );
  });

  it("trace and determinant identities hold on random matrices", () => {
    const rng = new Rng(8);
    for (const n of [3, 5, 8, 16]) {
      const a = randomMatrix(rng, n, n);
      const { re, im } = eigvals(tensor(a));
      const trace = a.reduce((s, row, i) => s + row[i], 0);
      expect(Math.abs(re.reduce((s, v) => s + v, 0) - trace)).toBeLessThan(1e-10 * n);
      expect(Math.abs(im.reduce((s, v) => s + v, 0))).toBeLessThan(1e-10 * n);
      // Π λ as a complex product equals det A.
      let pr = 1;
      let pi = 0;
      for (let i = 0; i < n; i++) [pr, pi] = [pr * re[i] - pi * im[i], pr * im[i] + pi * re[i]];
      const d = det(tensor(a));
      expect(Math.abs(pr - d)).toBeLessThan(1e-9 * Math.max(1, Math.abs(d)));
    }
  });

  it("spectral abscissa and radius", () => {
    const a = tensor([
      [-1, 5],
      [0, -2],
    ]);
    expect(spectralAbscissa(a)).toBeCloseTo(-1, 14);
    expect(spectralRadius(a)).toBeCloseTo(2, 14);
    expect(
      spectralRadius(
        tensor([
          [0, -3],
          [3, 0],
        ]),
      ),
    ).toBeCloseTo(3, 14);
  });

  it("rejects non-square or non-finite A", () => {
    expect(() => eigvals(tensor([[1, 2, 3]]))).toThrow(/eigvals: argument 'A'/);
    expect(() => eigvals(rawTensor([[NaN]]))).toThrow(/eigvals: argument 'A'/);
  });
});
