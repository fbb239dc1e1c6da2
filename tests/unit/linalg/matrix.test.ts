import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import {
  Rng,
  type Tensor,
  det,
  eigvals,
  identity,
  inverse,
  lu,
  matmul,
  matvec,
  norm,
  solve,
  spectralAbscissa,
  spectralRadius,
  tensor,
  transpose,
} from "../../../lib/src/index";

/** A[i][j] of a row-major (r, c) tensor. */
const at = (t: Tensor, i: number, j: number): number => t.data[i * t.shape[1] + j];

/** Reference product by explicit dot products of rows and columns (float64). */
function naiveMatmul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

function randomMatrix(rng: Rng, r: number, c: number): number[][] {
  return Array.from({ length: r }, () => Array.from({ length: c }, () => rng.normal()));
}

function toRows(t: Tensor): number[][] {
  const [r, c] = t.shape;
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => at(t, i, j)));
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/** A random orthogonal matrix as a product of Givens rotations (its inverse is its transpose). */
function randomOrthogonal(rng: Rng, n: number): number[][] {
  let q = toRows(identity(n));
  for (let s = 0; s < 3 * n; s++) {
    const i = rng.int(n);
    let j = rng.int(n);
    if (i === j) j = (j + 1) % n;
    const th = rng.uniform(0, 2 * Math.PI);
    const g = toRows(identity(n));
    g[i][i] = Math.cos(th);
    g[j][j] = Math.cos(th);
    g[i][j] = -Math.sin(th);
    g[j][i] = Math.sin(th);
    q = naiveMatmul(g, q);
  }
  return q;
}

describe("matmul / matvec / transpose / identity", () => {
  it("matches explicit dot products on random shapes (tol 1e-13)", () => {
    const rng = new Rng(1);
    for (const [r, k, c] of [
      [1, 1, 1],
      [2, 3, 4],
      [5, 5, 5],
      [7, 2, 3],
    ]) {
      const a = randomMatrix(rng, r, k);
      const b = randomMatrix(rng, k, c);
      const got = matmul(tensor(a), tensor(b));
      expect(got.shape).toEqual([r, c]);
      expect(maxDiff(toRows(got), naiveMatmul(a, b))).toBeLessThan(1e-13);
    }
  });

  it("matvec equals matmul with a column, identity is neutral, transpose swaps indices", () => {
    const rng = new Rng(2);
    const a = randomMatrix(rng, 4, 3);
    const x = [rng.normal(), rng.normal(), rng.normal()];
    const y = matvec(tensor(a), tensor(x));
    const ref = naiveMatmul(
      a,
      x.map((v) => [v]),
    );
    ref.forEach((row, i) => expect(Math.abs(row[0] - y.data[i])).toBeLessThan(1e-14));
    expect(toRows(matmul(identity(4), tensor(a)))).toEqual(a);
    const t = transpose(tensor(a));
    expect(t.shape).toEqual([3, 4]);
    a.forEach((row, i) => row.forEach((v, j) => expect(at(t, j, i)).toBe(v)));
  });

  it("float32 in both arguments gives float32, otherwise float64", () => {
    const a32 = tensor([[1, 2]], "float32");
    const b32 = tensor([[3], [4]], "float32");
    expect(matmul(a32, b32).data).toBeInstanceOf(Float32Array);
    expect(matmul(a32, tensor([[3], [4]])).data).toBeInstanceOf(Float64Array);
    expect(identity(2, "float32").data).toBeInstanceOf(Float32Array);
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => matmul(tensor([[1, 2]]), tensor([[1, 2]]))).toThrow(/matmul: argument 'B'/);
    expect(() => matmul(tensor([1, 2]), tensor([[1], [2]]))).toThrow(/matmul: argument 'A'/);
    expect(() => matmul(rawTensor([[NaN]]), tensor([[1]]))).toThrow(/matmul: argument 'A'.*finite/);
    expect(() => matvec(tensor([[1, 2]]), tensor([1, 2, 3]))).toThrow(/matvec: argument 'x'/);
    expect(() => identity(-1)).toThrow(/identity: argument 'n'/);
    expect(() => identity(1.5)).toThrow(/identity: argument 'n'/);
  });
});

describe("norms", () => {
  it("match their definitions", () => {
    const rng = new Rng(3);
    const a = randomMatrix(rng, 4, 6);
    const colSums = a[0].map((_, j) => a.reduce((s, row) => s + Math.abs(row[j]), 0));
    const rowSums = a.map((row) => row.reduce((s, v) => s + Math.abs(v), 0));
    const fro = Math.sqrt(a.flat().reduce((s, v) => s + v * v, 0));
    const A = tensor(a);
    expect(norm(A, "1")).toBeCloseTo(Math.max(...colSums), 13);
    expect(norm(A, "inf")).toBeCloseTo(Math.max(...rowSums), 13);
    expect(norm(A, "fro")).toBeCloseTo(fro, 13);
    expect(norm(A, "max")).toBe(Math.max(...a.flat().map(Math.abs)));
    expect(norm(tensor([3, -4]))).toBeCloseTo(5, 14);
  });

  it("the Frobenius norm does not overflow on huge entries", () => {
    expect(norm(tensor([[3e200, 4e200]]), "fro") / 5e200).toBeCloseTo(1, 14);
  });

  it("rejects an unknown kind", () => {
    expect(() => norm(tensor([[1]]), "2" as never)).toThrow(/norm: argument 'kind'/);
  });
});

describe("LU, solve, inverse, det", () => {
  it("P A = L U with L unit lower and U upper triangular", () => {
    const rng = new Rng(4);
    const a = randomMatrix(rng, 6, 6);
    const { L, U, perm } = lu(tensor(a));
    const pa = perm.map((p) => a[p]);
    expect(maxDiff(naiveMatmul(toRows(L), toRows(U)), pa)).toBeLessThan(1e-13);
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
      const b = naiveMatmul(a, x);
      expect(maxDiff(toRows(solve(tensor(a), tensor(b))), x)).toBeLessThan(1e-11);
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
    const prod = naiveMatmul(a, toRows(inverse(tensor(a))));
    expect(maxDiff(prod, toRows(identity(5)))).toBeLessThan(1e-12);
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
    expect(det(tensor(naiveMatmul(a, b)))).toBeCloseTo(det(tensor(a)) * det(tensor(b)), 8);
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
      const d = toRows(identity(n)).map((r) => r.map(() => 0));
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
      const a = naiveMatmul(naiveMatmul(q, d), qt);
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
