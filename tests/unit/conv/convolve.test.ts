/**
 * causalConv and fftConv (lib/src/conv/convolve.ts) against a second algorithm, the SSM recurrence
 * (ssmRecurrence, tested in ssm/recurrence.test.ts), and the convolution sum written out here;
 * float64 and float32, tolerances scaled by Σ|K|·max|x|; fftConv against causalConv for lengths
 * that are and are not powers of two.
 */
import { describe, it, expect } from "vitest";
import { convScale, maxAbsErr, randomStableSystem } from "../../helpers/reference";
import { ssmKernel } from "../../../lib/src/conv/kernel";
import { causalConv, fftConv } from "../../../lib/src/conv/convolve";
import { ssmRecurrence } from "../../../lib/src/ssm/recurrence";
import { type Tensor, astype } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";

const rng = new Rng(3);

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
      expect(maxAbsErr(causalConv(x, K).data, yRec.data)).toBeLessThan(tol);
      expect(maxAbsErr(fftConv(x, K).data, yRec.data)).toBeLessThan(tol);
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
      expect(maxAbsErr(yDir.data, yRec.data)).toBeLessThan(tol);
      expect(maxAbsErr(yFft.data, yRec.data)).toBeLessThan(tol);
    }
  });

  it("fftConv equals causalConv for lengths that are and are not powers of two", () => {
    for (const L of [1, 2, 3, 5, 7, 8, 15, 16, 17, 100, 128, 129, 1000]) {
      const x = rng.randn([L]);
      const K = rng.randn([L]);
      const tol = 1e-12 * convScale(K.data, x.data);
      expect(maxAbsErr(fftConv(x, K).data, causalConv(x, K).data)).toBeLessThan(tol);
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
      expect(maxAbsErr(causalConv(x, K).data, want)).toBeLessThan(1e-13);
      expect(maxAbsErr(fftConv(x, K).data, want)).toBeLessThan(1e-12);
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
        expect(maxAbsErr(yd.data.slice(off, off + 20), causalConv(row, k).data)).toBeLessThan(
          1e-12,
        );
        expect(
          maxAbsErr(causalConv(x, Kd).data.slice(off, off + 20), causalConv(row, k).data),
        ).toBe(0);
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
