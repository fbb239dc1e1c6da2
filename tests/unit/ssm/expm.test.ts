/**
 * expm and expmWithInfo (lib/src/ssm/expm.ts) against the Taylor series, closed forms (rotation
 * generators, nilpotent and diagonal A), V diag(e^λ) V⁻¹ for stiff and large-norm A, and the
 * identities e^A e^-A = I and e^((s+t)A) = e^(sA) e^(tA).
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import { Rng, expm, expmDiagonal, expmWithInfo, tensor } from "../../../lib/src/index";
import {
  type M,
  add,
  eye,
  maxAbs,
  mul,
  randomOrthogonal,
  relErr,
  rows,
  scale,
  taylorExpm,
} from "../../helpers/reference";

const transposeM = (a: M): M => a[0].map((_, j) => a.map((row) => row[j]));
const matrixRelErr = (got: M, want: M): number => relErr(got.flat(), want.flat());

function randomMatrix(rng: Rng, n: number, norm1: number): M {
  const a = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
  const colMax = Math.max(...a[0].map((_, j) => a.reduce((s, row) => s + Math.abs(row[j]), 0)));
  return scale(a, norm1 / colMax);
}

/** The inverse of a unit upper triangular matrix by back substitution. */
function invUnitUpper(t: M): M {
  const n = t.length;
  const x = eye(n);
  for (let col = 0; col < n; col++) {
    for (let i = n - 1; i >= 0; i--) {
      let v = i === col ? 1 : 0;
      for (let k = i + 1; k < n; k++) v -= t[i][k] * x[k][col];
      x[i][col] = v;
    }
  }
  return x;
}

describe("expm", () => {
  it("matches the Taylor series for well-scaled random A in every Padé regime (rel tol 1e-13)", () => {
    const rng = new Rng(11);
    // ‖A‖₁ in each band of the degree selection: m = 3, 5, 7, 9, then 13 without scaling.
    for (const norm1 of [0.01, 0.2, 0.9, 2, 4]) {
      for (const n of [1, 2, 3, 6]) {
        const a = randomMatrix(rng, n, norm1);
        expect(matrixRelErr(rows(expm(tensor(a))), taylorExpm(a))).toBeLessThan(1e-13);
      }
    }
  });

  it("rotation generator [[0, -θ], [θ, 0]] gives [[cos θ, -sin θ], [sin θ, cos θ]] (tol 1e-13·max(1, θ))", () => {
    for (const th of [1e-3, 0.5, 1, Math.PI, 10, 100]) {
      const got = rows(
        expm(
          tensor([
            [0, -th],
            [th, 0],
          ]),
        ),
      );
      const want = [
        [Math.cos(th), -Math.sin(th)],
        [Math.sin(th), Math.cos(th)],
      ];
      expect(maxAbs(add(got, want, -1))).toBeLessThan(1e-13 * Math.max(1, th));
    }
  });

  it("nilpotent A: the series stops, e^A = I + A + A²/2 + A³/6 (tol 1e-14)", () => {
    const a = [
      [0, 1, 2, -3],
      [0, 0, 4, 5],
      [0, 0, 0, -6],
      [0, 0, 0, 0],
    ];
    const a2 = mul(a, a);
    const a3 = mul(a2, a);
    const want = add(add(add(eye(4), a), scale(a2, 0.5)), scale(a3, 1 / 6));
    expect(matrixRelErr(rows(expm(tensor(a))), want)).toBeLessThan(1e-14);
    // A Jordan block λI + N: e^{λ} (I + N).
    const lam = -2.5;
    const got = rows(
      expm(
        tensor([
          [lam, 1],
          [0, lam],
        ]),
      ),
    );
    const jordan = [
      [Math.exp(lam), Math.exp(lam)],
      [0, Math.exp(lam)],
    ];
    expect(matrixRelErr(got, jordan)).toBeLessThan(1e-14);
  });

  it("diagonal A gives exp of each entry, from tiny to stiff (rel tol 1e-13 per entry: 2^8 squarings)", () => {
    const d = [-1000, -30, -1, 0, 1e-9, 0.5, 5];
    const got = rows(expm(tensor(d.map((v, i) => d.map((_, j) => (i === j ? v : 0))))));
    d.forEach((v, i) => {
      expect(Math.abs(got[i][i] - Math.exp(v))).toBeLessThanOrEqual(1e-13 * Math.exp(v));
      d.forEach((_, j) => i !== j && expect(got[i][j]).toBe(0));
    });
    const diag = expmDiagonal(tensor(d));
    d.forEach((v, i) => expect(diag.data[i]).toBe(Math.exp(v)));
  });

  it("stiff A = V diag(λ) V⁻¹ with λ down to -1e3, normal and non-normal V (tol 1e-11)", () => {
    const rng = new Rng(12);
    const lambdas = [-1000, -400, -20, -1, -0.1];
    const n = lambdas.length;
    const q = randomOrthogonal(rng, n);
    // Non-normal eigenvectors: V = Q T with T unit upper triangular (κ(V) ≈ 10-100).
    const t = eye(n).map((row, i) => row.map((v, j) => (j > i ? rng.uniform(-1, 1) : v)));
    for (const [v, vinv] of [
      [q, transposeM(q)],
      [mul(q, t), mul(invUnitUpper(t), transposeM(q))],
    ] as const) {
      const a = mul(
        mul(
          v,
          scale(eye(n), 0).map((row, i) => row.map((_, j) => (i === j ? lambdas[i] : 0))),
        ),
        vinv,
      );
      const want = mul(
        mul(
          v,
          eye(n).map((row, i) => row.map((_, j) => (i === j ? Math.exp(lambdas[i]) : 0))),
        ),
        vinv,
      );
      const got = rows(expm(tensor(a)));
      expect(maxAbs(add(got, want, -1))).toBeLessThan(1e-11);
    }
  });

  it("large-norm A with complex eigenvalues, through V diag(e^λ) V⁻¹ in real block form (tol 1e-11 relative)", () => {
    const rng = new Rng(13);
    const q = randomOrthogonal(rng, 4);
    // Blocks [[a, -b], [b, a]] have e^{block} = e^a [[cos b, -sin b], [sin b, cos b]].
    const blocks = [
      [-3, 25],
      [0.2, 8],
    ];
    const d = eye(4).map((r) => r.map(() => 0));
    const e = eye(4).map((r) => r.map(() => 0));
    blocks.forEach(([a, b], k) => {
      const i = 2 * k;
      d[i][i] = d[i + 1][i + 1] = a;
      d[i][i + 1] = -b;
      d[i + 1][i] = b;
      e[i][i] = e[i + 1][i + 1] = Math.exp(a) * Math.cos(b);
      e[i][i + 1] = -Math.exp(a) * Math.sin(b);
      e[i + 1][i] = Math.exp(a) * Math.sin(b);
    });
    const a = mul(mul(q, d), transposeM(q));
    const want = mul(mul(q, e), transposeM(q));
    expect(matrixRelErr(rows(expm(tensor(a))), want)).toBeLessThan(1e-11);
  });

  it("expm(A) · expm(-A) = I for random A up to ‖A‖₁ = 8 (tol 1e-11)", () => {
    const rng = new Rng(14);
    for (const norm1 of [0.5, 3, 8]) {
      for (const n of [2, 5, 8]) {
        const a = randomMatrix(rng, n, norm1);
        const p = mul(rows(expm(tensor(a))), rows(expm(tensor(scale(a, -1)))));
        expect(maxAbs(add(p, eye(n), -1))).toBeLessThan(1e-11);
      }
    }
  });

  it("e^{(s+t)A} = e^{sA} e^{tA} (semigroup property, tol 1e-12)", () => {
    const rng = new Rng(15);
    const a = randomMatrix(rng, 4, 3);
    const lhs = rows(expm(tensor(scale(a, 1.7))));
    const rhs = mul(rows(expm(tensor(scale(a, 0.5)))), rows(expm(tensor(scale(a, 1.2)))));
    expect(matrixRelErr(lhs, rhs)).toBeLessThan(1e-12);
  });

  it("keeps float32 input as float32 (computing in float64), and handles n = 0", () => {
    const a = [
      [0.1, -0.3],
      [0.2, 0.05],
    ];
    const got = expm(tensor(a, "float32"));
    expect(got.data).toBeInstanceOf(Float32Array);
    const want = taylorExpm(rows(tensor(a, "float32")));
    expect(matrixRelErr(rows(got), want)).toBeLessThan(1e-7);
    expect(expm(tensor([[1]])).data).toBeInstanceOf(Float64Array);
    expect(expm({ shape: [0, 0], data: new Float64Array(0) }).shape).toEqual([0, 0]);
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => expm(tensor([[1, 2, 3]]))).toThrow(/expm: argument 'A' must be a square/);
    expect(() => expm(tensor([1, 2]))).toThrow(/expm: argument 'A'/);
    expect(() =>
      expm(
        rawTensor([
          [NaN, 0],
          [0, 1],
        ]),
      ),
    ).toThrow(/expm: argument 'A'.*finite/);
    expect(() => expm({ shape: [2, 2], data: [1, 0, 0, 1] } as never)).toThrow(
      /expm: argument 'A'/,
    );
    expect(() => expmDiagonal(tensor([[1]]))).toThrow(/expmDiagonal: argument 'a'/);
  });
});

describe("expmWithInfo", () => {
  // ‖A‖₁ of c·[[-1, 1], [0, -1]] is 2c (column 1 sums |c| + |c|). Degrees and squarings below are
  // worked out by hand from Higham's thresholds θ_3 ≈ 0.015, θ_5 ≈ 0.254, θ_7 ≈ 0.950,
  // θ_9 ≈ 2.098, θ_13 ≈ 5.372: s is the least integer with ‖A‖₁ / 2^s ≤ θ_13.
  const jordan = (c: number) =>
    tensor([
      [-c, c],
      [0, -c],
    ]);
  // e^{c·J} for J = [[-1, 1], [0, -1]] is e^{-c} [[1, c], [0, 1]] (J = -I + nilpotent).
  const jordanExp = (c: number): M => [
    [Math.exp(-c), c * Math.exp(-c)],
    [0, Math.exp(-c)],
  ];
  const cases: [number, number, number][] = [
    // [c, degree, squarings]: ‖A‖₁ = 2c
    [0.005, 3, 0], // 0.01 ≤ θ_3
    [0.1, 5, 0], // 0.2 ≤ θ_5
    [0.4, 7, 0], // 0.8 ≤ θ_7
    [1, 9, 0], // 2 ≤ θ_9
    [2.5, 13, 0], // 5 ≤ θ_13
    [5, 13, 1], // 10: θ_13 < 10 ≤ 2 θ_13
    [500, 13, 8], // 1000: 2^7 θ_13 ≈ 688 < 1000 ≤ 2^8 θ_13 ≈ 1375
  ];
  it.each(cases)(
    "c = %s: degree %s, %s squarings, and e^A to 1e-13 relative",
    (c, degree, squarings) => {
      const info = expmWithInfo(jordan(c));
      expect(info.norm1).toBe(2 * c);
      expect(info.degree).toBe(degree);
      expect(info.squarings).toBe(squarings);
      const want = jordanExp(c);
      const got = rows(info.expA);
      const err = Math.max(
        ...got
          .flat()
          .map((v, i) => Math.abs(v - want.flat()[i]) / Math.max(Math.abs(want.flat()[i]), 1e-300)),
      );
      expect(err).toBeLessThan(c >= 500 ? 1e-10 : 1e-13);
    },
  );

  it("returns exactly what expm returns, in the same dtype", () => {
    const a = tensor(
      [
        [-3, 1, 0.5],
        [0.2, -7, 2],
        [1, 0, -12],
      ],
      "float32",
    );
    const info = expmWithInfo(a);
    expect(info.expA.data).toBeInstanceOf(Float32Array);
    expect(Array.from(info.expA.data)).toEqual(Array.from(expm(a).data));
  });

  it("rejects bad input, naming itself", () => {
    expect(() => expmWithInfo(tensor([[1, 2, 3]]))).toThrow(
      /expmWithInfo: argument 'A' must be a square/,
    );
  });
});
