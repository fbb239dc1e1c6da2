import { describe, it, expect } from "vitest";
import { ssmKernel } from "../../../lib/src/conv/kernel";
import { causalConv, fftConv } from "../../../lib/src/conv/convolve";
import { ssmRecurrence } from "../../../lib/src/ssm/recurrence";
import { powerLawFit, timeMs } from "../../../lib/src/timing";
import { type Tensor, astype } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";
import { randomStableSystem } from "../../helpers/reference";

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

/** Σ_j |K_j| · max|x|: the size of the sums a convolution adds, which scales rounding errors. */
function convScale(K: ArrayLike<number>, x: ArrayLike<number>): number {
  let sk = 0;
  for (let i = 0; i < K.length; i++) sk += Math.abs(K[i]);
  let mx = 0;
  for (let i = 0; i < x.length; i++) mx = Math.max(mx, Math.abs(x[i]));
  return sk * mx;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const rng = new Rng(3);

describe("ssmKernel", () => {
  it("equals C Ā^j B̄ from explicit matrix powers (float64, 1e-12 relative)", () => {
    for (const n of [1, 2, 5, 8]) {
      const { Abar, Bbar, C } = randomStableSystem(rng, n);
      const K = ssmKernel(Abar, Bbar, C, 40);
      expect(K.shape).toEqual([40]);
      const want = referenceKernel(Abar, Bbar, C, 40);
      expect(maxDiff(K.data, want)).toBeLessThan(1e-12 * convScale(want, [1]));
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
      expect(maxDiff(bank.data.slice(c * 9, c * 9 + 9), want)).toBeLessThan(1e-12);
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

describe("causalConv and fftConv", () => {
  it("convolution with the kernel equals the recurrence on random stable systems (float64)", () => {
    // Tolerance: 1e-13 · Σ|K|·max|x| (measured errors are about 2e-15 of that scale).
    for (const [n, L] of [
      [2, 64],
      [4, 100],
      [8, 257],
      [16, 1024],
    ]) {
      const { Abar, Bbar, C } = randomStableSystem(rng, n);
      const x = rng.randn([L]);
      const K = ssmKernel(Abar, Bbar, C, L);
      const yRec = ssmRecurrence(Abar, Bbar, C, x);
      const tol = 1e-13 * convScale(K.data, x.data);
      expect(maxDiff(causalConv(x, K).data, yRec.data)).toBeLessThan(tol);
      expect(maxDiff(fftConv(x, K).data, yRec.data)).toBeLessThan(tol);
    }
  });

  it("convolution equals the recurrence in float32 within 5e-6 · Σ|K|·max|x|", () => {
    // float32 has eps ≈ 1.2e-7; the recurrence rounds its state at every step, the convolution
    // rounds K and the output once. Measured differences are about 2e-7 of the scale above.
    for (const [n, L] of [
      [4, 128],
      [16, 1000],
    ]) {
      const sys = randomStableSystem(rng, n);
      const A32 = astype(sys.Abar, "float32");
      const B32 = astype(sys.Bbar, "float32");
      const C32 = astype(sys.C, "float32");
      const x32 = astype(rng.randn([L]), "float32");
      const K32 = ssmKernel(A32, B32, C32, L);
      expect(K32.data).toBeInstanceOf(Float32Array);
      const yRec = ssmRecurrence(A32, B32, C32, x32);
      const yDir = causalConv(x32, K32);
      const yFft = fftConv(x32, K32);
      expect(yDir.data).toBeInstanceOf(Float32Array);
      expect(yFft.data).toBeInstanceOf(Float32Array);
      const tol = 5e-6 * convScale(K32.data, x32.data);
      expect(maxDiff(yDir.data, yRec.data)).toBeLessThan(tol);
      expect(maxDiff(yFft.data, yRec.data)).toBeLessThan(tol);
    }
  });

  it("fftConv equals causalConv for lengths that are and are not powers of two", () => {
    for (const L of [1, 2, 3, 5, 7, 8, 15, 16, 17, 100, 128, 129, 1000]) {
      const x = rng.randn([L]);
      const K = rng.randn([L]);
      const tol = 1e-12 * convScale(K.data, x.data);
      expect(maxDiff(fftConv(x, K).data, causalConv(x, K).data)).toBeLessThan(tol);
    }
  });

  it("causalConv matches the definition written in the test, kernels shorter and longer than x", () => {
    for (const [l, lk] of [
      [10, 3],
      [10, 10],
      [6, 13],
      [1, 1],
    ]) {
      const x = rng.randn([l]);
      const K = rng.randn([lk]);
      const want: number[] = [];
      for (let t = 0; t < l; t++) {
        let s = 0;
        for (let j = 0; j < lk; j++) if (t - j >= 0) s += K.data[j] * x.data[t - j];
        want.push(s);
      }
      expect(maxDiff(causalConv(x, K).data, want)).toBeLessThan(1e-13);
      expect(maxDiff(fftConv(x, K).data, want)).toBeLessThan(1e-12);
    }
  });

  it("applies K (lk) to every row and K (d, lk) per channel of x (b, d, l)", () => {
    const x = rng.randn([2, 3, 20]);
    const Kd = rng.randn([3, 20]);
    const yd = fftConv(x, Kd);
    const y1 = causalConv(x, rng.randn([5]));
    expect(yd.shape).toEqual([2, 3, 20]);
    expect(y1.shape).toEqual([2, 3, 20]);
    for (let b = 0; b < 2; b++) {
      for (let c = 0; c < 3; c++) {
        const off = (b * 3 + c) * 20;
        const row: Tensor = { shape: [20], data: x.data.slice(off, off + 20) };
        const k: Tensor = { shape: [20], data: Kd.data.slice(c * 20, c * 20 + 20) };
        expect(maxDiff(yd.data.slice(off, off + 20), causalConv(row, k).data)).toBeLessThan(1e-12);
        expect(maxDiff(causalConv(x, Kd).data.slice(off, off + 20), causalConv(row, k).data)).toBe(
          0,
        );
      }
    }
    const empty = fftConv({ shape: [3, 0], data: new Float64Array(0) }, rng.randn([4]));
    expect(empty.shape).toEqual([3, 0]);
  });

  it("rejects bad input with errors naming the function and argument", () => {
    const x = rng.randn([2, 3, 10]);
    for (const [name, f] of [
      ["causalConv", causalConv],
      ["fftConv", fftConv],
    ] as const) {
      expect(() => f(x, rng.randn([2, 10]))).toThrow(new RegExp(`${name}: argument 'x'.*d = 2`));
      expect(() => f(x, rng.randn([3, 2, 10]))).toThrow(new RegExp(`${name}: argument 'K'`));
      expect(() => f(x, { shape: [0], data: new Float64Array(0) })).toThrow(
        new RegExp(`${name}: argument 'K' must be a non-empty`),
      );
      expect(() => f({ shape: [], data: new Float64Array(1) }, rng.randn([3]))).toThrow(
        new RegExp(`${name}: argument 'x'`),
      );
      expect(() => f([1, 2, 3] as unknown as Tensor, rng.randn([3]))).toThrow(
        new RegExp(`${name}: argument 'x'`),
      );
      const nan = rng.randn([4]);
      nan.data[1] = NaN;
      expect(() => f(rng.randn([4]), nan)).toThrow(new RegExp(`${name}: argument 'K'.*finite`));
    }
  });
});

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
