/**
 * HiPPO-LegS (lib/src/hippo/legs.ts, memory.ts): A and B against their closed-form entries; the ODE
 * c'(t) = (A c + B f) / t against Legendre coefficients computed by Simpson quadrature; hippoScan
 * tracking the offline optimal coefficients; the memory matrix (c_L = M f) and minNormReconstruct.
 */
import { describe, it, expect } from "vitest";
import { hippoLegS, hippoScan } from "../../../lib/src/hippo/legs";
import { legendreReconstruct } from "../../../lib/src/hippo/legendre";
import { hippoMemoryMatrix, minNormReconstruct } from "../../../lib/src/hippo/memory";
import type { Tensor } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";
import { legendreCoefficients } from "../../helpers/reference";

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
      const [c2m, c1m, c, c1p, c2p] = [-2, -1, 0, 1, 2].map((j) =>
        legendreCoefficients(f, N, t + j * h),
      );
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
    const exact = legendreCoefficients((s) => f(s / L), N, L);
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
