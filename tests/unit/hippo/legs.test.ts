import { describe, it, expect } from "vitest";
import { hippoLegS, hippoScan } from "../../../lib/src/hippo/legs";
import {
  gaussLegendre,
  legendreP,
  legendreProject,
  legendreReconstruct,
} from "../../../lib/src/hippo/legendre";
import { hippoMemoryMatrix, minNormReconstruct } from "../../../lib/src/hippo/memory";
import { s4dKernel, s4dLin, s4dReal } from "../../../lib/src/hippo/s4d";
import { discretize } from "../../../lib/src/ssm/discretize";
import { ssmKernel } from "../../../lib/src/conv/kernel";
import type { Tensor } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";

/** Composite Simpson's rule on [a, b] with n (even) panels: the tests' own quadrature. */
function simpson(g: (s: number) => number, a: number, b: number, n = 4000): number {
  const h = (b - a) / n;
  let s = g(a) + g(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * g(a + i * h);
  return (s * h) / 3;
}

/** P_n(x) from the explicit sum P_n(x) = 2^-n Σ_k C(n,k)² (x-1)^(n-k) (x+1)^k. */
function legendreExplicit(n: number, x: number): number {
  let s = 0;
  let binom = 1;
  for (let k = 0; k <= n; k++) {
    s += binom * binom * (x - 1) ** (n - k) * (x + 1) ** k;
    binom = (binom * (n - k)) / (k + 1);
  }
  return s / 2 ** n;
}

/** Legendre coefficients of f on [0, t], c_n = (1/t) ∫ f(s) sqrt(2n+1) P_n(2s/t - 1) ds, by Simpson. */
function coefficients(f: (s: number) => number, N: number, t: number): number[] {
  return Array.from(
    { length: N },
    (_, n) =>
      simpson((s) => f(s) * Math.sqrt(2 * n + 1) * legendreExplicit(n, (2 * s) / t - 1), 0, t) / t,
  );
}

describe("hippoLegS", () => {
  it("has the closed-form entries A_nk = -sqrt(2n+1)sqrt(2k+1) (n>k), -(n+1) (n=k), 0 (n<k); B_n = sqrt(2n+1)", () => {
    for (const N of [1, 2, 3, 8, 17]) {
      const { A, B } = hippoLegS(N);
      expect(A.shape).toEqual([N, N]);
      expect(B.shape).toEqual([N, 1]);
      for (let n = 0; n < N; n++) {
        expect(B.data[n]).toBeCloseTo(Math.sqrt(2 * n + 1), 14);
        for (let k = 0; k < N; k++) {
          const want = n > k ? -Math.sqrt((2 * n + 1) * (2 * k + 1)) : n === k ? -(n + 1) : 0;
          expect(Math.abs(A.data[n * N + k] - want)).toBeLessThan(1e-13);
        }
      }
    }
  });

  it("gives the ODE obeyed by the Legendre coefficients: c'(t) = (1/t)(A c(t) + B f(t))", () => {
    // Exact coefficients by quadrature at t ± h, t ± 2h; fourth-order central difference against the
    // right-hand side. The difference error is O(h⁴) (measured 6e-8 at h = 5e-3, 16x less per halving).
    const f = (s: number): number => Math.sin(3 * s) + 0.5 * s * s - Math.cos(7 * s);
    const N = 6;
    const { A, B } = hippoLegS(N);
    for (const t of [0.7, 2]) {
      const h = 2.5e-3;
      const [c2m, c1m, c, c1p, c2p] = [-2, -1, 0, 1, 2].map((j) => coefficients(f, N, t + j * h));
      for (let n = 0; n < N; n++) {
        const lhs = (-c2p[n] + 8 * c1p[n] - 8 * c1m[n] + c2m[n]) / (12 * h);
        let rhs = B.data[n] * f(t);
        for (let k = 0; k < N; k++) rhs += A.data[n * N + k] * c[k];
        rhs /= t;
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-7);
      }
    }
  });

  it("rejects bad N", () => {
    expect(() => hippoLegS(0)).toThrow(/hippoLegS: argument 'N'/);
    expect(() => hippoLegS(2.5)).toThrow(/hippoLegS: argument 'N'/);
  });
});

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
    const want = coefficients(f, 10, 1);
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

describe("hippoScan (HiPPO-LegS memory)", () => {
  const f = (u: number): number =>
    Math.sin(6 * u) + 0.5 * Math.cos(17 * u + 1) + 0.3 * Math.sin(40 * u * u);
  const L = 2000;
  const samples: Tensor = {
    shape: [L],
    data: Float64Array.from({ length: L }, (_, k) => f((k + 1) / L)),
  };
  const u = Float64Array.from({ length: L }, (_, j) => (j + 1) / L);
  const rmsError = (rec: Tensor): number => {
    let e = 0;
    for (let j = 0; j < L; j++) e += (rec.data[j] - samples.data[j]) ** 2;
    return Math.sqrt(e / L);
  };

  it("reconstruction error of a smooth signal decreases with N", () => {
    const errors = [4, 8, 16, 32].map((N) => {
      const { A, B } = hippoLegS(N);
      const states = hippoScan(A, B, samples);
      expect(states.shape).toEqual([L, N]);
      const c: Tensor = { shape: [N], data: states.data.slice((L - 1) * N) };
      return rmsError(legendreReconstruct(c, u));
    });
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThan(errors[i - 1]);
    expect(errors[3]).toBeLessThan(0.01); // signal RMS is about 0.8
  });

  it("tracks the offline optimal coefficients (bilinear within 5e-3, better than forward/backward)", () => {
    const N = 16;
    const { A, B } = hippoLegS(N);
    const exact = coefficients((s) => f(s / L), N, L);
    const err: Record<string, number> = {};
    for (const method of ["bilinear", "forward", "backward"] as const) {
      const c = hippoScan(A, B, samples, method).data.slice((L - 1) * N);
      err[method] = Math.max(...exact.map((v, n) => Math.abs(c[n] - v)));
    }
    expect(err.bilinear).toBeLessThan(5e-3);
    expect(err.bilinear).toBeLessThan(err.forward);
    expect(err.bilinear).toBeLessThan(err.backward);
  });

  it("hippoMemoryMatrix M satisfies c_L = M f, for LegS and for a dense random A", () => {
    const rng = new Rng(2);
    const N = 6;
    const Lm = 120;
    const legs = hippoLegS(N);
    const G = rng.randn([N, N]);
    const random = {
      A: { shape: [N, N], data: G.data.map((v, i) => v - (i % (N + 1) === 0 ? 3 : 0)) },
      B: rng.randn([N]),
    };
    const x = rng.randn([Lm]);
    for (const sys of [legs, random]) {
      for (const method of ["bilinear", "forward", "backward"] as const) {
        const M = hippoMemoryMatrix(sys.A, sys.B, Lm, method);
        expect(M.shape).toEqual([N, Lm]);
        const c = hippoScan(sys.A, sys.B, x, method).data.slice((Lm - 1) * N);
        for (let i = 0; i < N; i++) {
          let s = 0;
          for (let j = 0; j < Lm; j++) s += M.data[i * Lm + j] * x.data[j];
          expect(Math.abs(s - c[i])).toBeLessThan(1e-12 * (1 + Math.abs(c[i])));
        }
      }
    }
  });

  it("minNormReconstruct returns a history that reproduces the state, exactly for f in the row space", () => {
    const rng = new Rng(4);
    const { A, B } = hippoLegS(5);
    const M = hippoMemoryMatrix(A, B, 50);
    const z = rng.randn([5]);
    const f = new Float64Array(50);
    for (let i = 0; i < 5; i++) for (let t = 0; t < 50; t++) f[t] += M.data[i * 50 + t] * z.data[i];
    const c = new Float64Array(5);
    for (let i = 0; i < 5; i++) for (let t = 0; t < 50; t++) c[i] += M.data[i * 50 + t] * f[t];
    const rec = minNormReconstruct(M, { shape: [5], data: c }, 0);
    let scale = 0;
    for (const v of f) scale = Math.max(scale, Math.abs(v));
    for (let t = 0; t < 50; t++) expect(Math.abs(rec.data[t] - f[t])).toBeLessThan(1e-9 * scale);
  });

  it("rejects bad input", () => {
    const { A, B } = hippoLegS(3);
    expect(() =>
      hippoScan(
        A,
        { shape: [4], data: new Float64Array(4) },
        { shape: [2], data: new Float64Array(2) },
      ),
    ).toThrow(/hippoScan: argument 'B'/);
    expect(() => hippoScan(A, B, { shape: [2, 2], data: new Float64Array(4) })).toThrow(
      /hippoScan: argument 'f'/,
    );
    expect(() =>
      hippoScan(A, B, { shape: [2], data: new Float64Array(2) }, "rk4" as "bilinear"),
    ).toThrow(/hippoScan: argument 'method'/);
    expect(() => hippoMemoryMatrix(A, B, 0)).toThrow(/hippoMemoryMatrix: argument 'L'/);
    expect(() => minNormReconstruct({ shape: [3, 4], data: new Float64Array(12) }, B)).toThrow(
      /minNormReconstruct: argument 'c'/,
    );
  });
});

describe("S4D", () => {
  it("s4dReal and s4dLin have the stated entries", () => {
    const r = s4dReal(5);
    expect(Array.from(r.Are.data)).toEqual([-1, -2, -3, -4, -5]);
    expect(r.Aim).toBeUndefined();
    expect(Array.from(r.B.data)).toEqual([1, 1, 1, 1, 1]);
    const l = s4dLin(4);
    expect(Array.from(l.Are.data)).toEqual([-0.5, -0.5, -0.5, -0.5]);
    expect(Array.from(l.Aim!.data)).toEqual([0, Math.PI, 2 * Math.PI, 3 * Math.PI]);
    expect(() => s4dLin(0)).toThrow(/s4dLin: argument 'N'/);
    expect(() => s4dReal(-1)).toThrow(/s4dReal: argument 'N'/);
  });

  it("s4dKernel equals the kernel of the equivalent dense real system (ZOH by matrix exponential)", () => {
    const rng = new Rng(9);
    const dt = 0.05;
    const L = 60;
    // Real: A = diag(a), B, C dense.
    const real = s4dReal(4);
    const Cr = rng.randn([4]);
    const Ad: Tensor = { shape: [4, 4], data: new Float64Array(16) };
    for (let n = 0; n < 4; n++) Ad.data[n * 5] = real.Are.data[n];
    const dr = discretize(Ad, { shape: [4, 1], data: real.B.data }, dt, "zoh");
    const want = ssmKernel(dr.Abar, dr.Bbar, Cr, L);
    const got = s4dKernel(real, { re: Cr }, dt, L);
    for (let k = 0; k < L; k++) expect(Math.abs(got.data[k] - want.data[k])).toBeLessThan(1e-12);
    // Complex with conjugate pairs: state h = x + i y per pair, a real 2×2 block [[ar, -ai], [ai, ar]];
    // input enters as (Re B, Im B); the output 2 Re(C h) = 2 (Cre x - Cim y).
    const lin = { ...s4dLin(3), Bim: rng.randn([3]) };
    lin.B = rng.randn([3]);
    const C = { re: rng.randn([3]), im: rng.randn([3]) };
    const n2 = 6;
    const A2 = new Float64Array(n2 * n2);
    const B2 = new Float64Array(n2);
    const C2 = new Float64Array(n2);
    for (let n = 0; n < 3; n++) {
      const [ar, ai] = [lin.Are.data[n], lin.Aim!.data[n]];
      A2[2 * n * n2 + 2 * n] = ar;
      A2[2 * n * n2 + 2 * n + 1] = -ai;
      A2[(2 * n + 1) * n2 + 2 * n] = ai;
      A2[(2 * n + 1) * n2 + 2 * n + 1] = ar;
      B2[2 * n] = lin.B.data[n];
      B2[2 * n + 1] = lin.Bim.data[n];
      C2[2 * n] = 2 * C.re.data[n];
      C2[2 * n + 1] = -2 * C.im.data[n];
    }
    const d2 = discretize({ shape: [n2, n2], data: A2 }, { shape: [n2, 1], data: B2 }, dt, "zoh");
    const want2 = ssmKernel(d2.Abar, d2.Bbar, { shape: [n2], data: C2 }, L);
    const got2 = s4dKernel(lin, C, dt, L);
    for (let k = 0; k < L; k++) expect(Math.abs(got2.data[k] - want2.data[k])).toBeLessThan(1e-12);
  });

  it("s4dKernel rejects bad input", () => {
    const s = s4dLin(3);
    const C = { re: { shape: [3], data: new Float64Array(3) } };
    expect(() => s4dKernel(s, C, 0, 10)).toThrow(/s4dKernel: argument 'dt'/);
    expect(() => s4dKernel(s, C, 0.1, -1)).toThrow(/s4dKernel: argument 'L'/);
    expect(() => s4dKernel(s, { re: { shape: [2], data: new Float64Array(2) } }, 0.1, 4)).toThrow(
      /s4dKernel: argument 'C.re'/,
    );
    expect(() =>
      s4dKernel({ ...s, Aim: { shape: [4], data: new Float64Array(4) } }, C, 0.1, 4),
    ).toThrow(/s4dKernel: argument 'ssm.Aim'/);
  });
});
