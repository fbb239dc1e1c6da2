/**
 * ssmKernel (lib/src/conv/kernel.ts) against C Ā^j B̄ from explicit matrix powers with nested
 * arrays (float64, 1e-12 relative), single systems and banks.
 */
import { describe, it, expect } from "vitest";
import { convScale, maxAbsErr, randomStableSystem } from "../../helpers/reference";
import { ssmKernel } from "../../../lib/src/conv/kernel";
import { type Tensor } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";

/** C Ā^j B̄ from explicit matrix powers with nested arrays: the test's own kernel. */
function referenceKernel(Abar: Tensor, Bbar: Tensor, C: Tensor, L: number): number[] {
  const n = Bbar.data.length;
  const A = Array.from({ length: n }, (_, i) => Array.from(Abar.data.slice(i * n, i * n + n)));
  const mul = (X: number[][], Y: number[][]) =>
    X.map((row) => Y[0].map((_, j) => row.reduce((s, v, k) => s + v * Y[k][j], 0)));
  let P: number[][] = A.map((row, i) => row.map((_, j) => (i === j ? 1 : 0)));
  const K: number[] = [];
  for (let j = 0; j < L; j++) {
    let s = 0;
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) s += C.data[a] * P[a][b] * Bbar.data[b];
    K.push(s);
    P = mul(P, A);
  }
  return K;
}

const rng = new Rng(3);

describe("ssmKernel", () => {
  it("equals C Ā^j B̄ from explicit matrix powers (float64, 1e-12 relative)", () => {
    for (const n of [1, 2, 5, 8]) {
      const { Abar, Bbar, C } = randomStableSystem(rng, n);
      const K = ssmKernel(Abar, Bbar, C, 40);
      expect(K.shape).toEqual([40]);
      const want = referenceKernel(Abar, Bbar, C, 40);
      expect(maxAbsErr(K.data, want)).toBeLessThan(1e-12 * convScale(want, [1]));
    }
  });

  it("accepts B̄ (N) and C (N), L = 0 and L = 1, and a bank (d, N, N) -> (d, L)", () => {
    const s = [randomStableSystem(rng, 3), randomStableSystem(rng, 3)];
    const flatB: Tensor = { shape: [3], data: s[0].Bbar.data };
    const flatC: Tensor = { shape: [3], data: s[0].C.data };
    expect(Array.from(ssmKernel(s[0].Abar, flatB, flatC, 7).data)).toEqual(
      Array.from(ssmKernel(s[0].Abar, s[0].Bbar, s[0].C, 7).data),
    );
    expect(ssmKernel(s[0].Abar, flatB, flatC, 0).shape).toEqual([0]);
    const k1 = ssmKernel(s[0].Abar, flatB, flatC, 1);
    let cb = 0;
    for (let i = 0; i < 3; i++) cb += s[0].C.data[i] * s[0].Bbar.data[i];
    expect(Math.abs(k1.data[0] - cb)).toBeLessThan(1e-14);
    const bank = ssmKernel(
      { shape: [2, 3, 3], data: Float64Array.from([...s[0].Abar.data, ...s[1].Abar.data]) },
      { shape: [2, 3, 1], data: Float64Array.from([...s[0].Bbar.data, ...s[1].Bbar.data]) },
      { shape: [2, 3], data: Float64Array.from([...s[0].C.data, ...s[1].C.data]) },
      9,
    );
    expect(bank.shape).toEqual([2, 9]);
    for (let c = 0; c < 2; c++) {
      const want = referenceKernel(s[c].Abar, s[c].Bbar, s[c].C, 9);
      expect(maxAbsErr(bank.data.slice(c * 9, c * 9 + 9), want)).toBeLessThan(1e-12);
    }
  });

  it("rejects bad input with errors naming the argument", () => {
    const { Abar, Bbar, C } = randomStableSystem(rng, 3);
    expect(() => ssmKernel(Abar, Bbar, C, -1)).toThrow(/ssmKernel: argument 'L'/);
    expect(() => ssmKernel(Abar, Bbar, C, 2.5)).toThrow(/ssmKernel: argument 'L'/);
    expect(() => ssmKernel(rng.randn([3, 4]), Bbar, C, 4)).toThrow(/ssmKernel: argument 'Abar'/);
    expect(() => ssmKernel(Abar, rng.randn([4]), C, 4)).toThrow(/ssmKernel: argument 'Bbar'/);
    expect(() => ssmKernel(Abar, Bbar, rng.randn([3, 3]), 4)).toThrow(/ssmKernel: argument 'C'/);
    const inf = rng.randn([3, 3]);
    inf.data[0] = Infinity;
    expect(() => ssmKernel(inf, Bbar, C, 4)).toThrow(/ssmKernel: argument 'Abar'.*finite/);
  });
});
