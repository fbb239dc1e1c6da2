/**
 * fft, ifft, rfft, irfft and nextPow2 (lib/src/conv/fft.ts) against the DFT from its definition
 * (O(n²), float64), n = 1 … 1024.
 */
import { describe, it, expect } from "vitest";
import { maxAbsErr } from "../../helpers/reference";
import { fft, ifft, rfft, irfft, nextPow2, isPow2 } from "../../../lib/src/conv/fft";
import { Rng } from "../../../lib/src/rng";

/** The DFT from its definition, O(n²), in float64: the independent reference. */
function naiveDft(re: number[], im: number[], sign = -1): { re: number[]; im: number[] } {
  const n = re.length;
  const outRe: number[] = [];
  const outIm: number[] = [];
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let j = 0; j < n; j++) {
      const a = (sign * 2 * Math.PI * ((j * k) % n)) / n;
      sr += re[j] * Math.cos(a) - im[j] * Math.sin(a);
      si += re[j] * Math.sin(a) + im[j] * Math.cos(a);
    }
    outRe.push(sr);
    outIm.push(si);
  }
  return { re: outRe, im: outIm };
}

const rng = new Rng(7);
const randn = (n: number): number[] => Array.from({ length: n }, () => rng.normal());

// Rounding of a radix-2 FFT grows like log2(n) · eps · ‖x‖; the naive DFT's own error grows like
// n · eps · ‖x‖. With unit-variance entries and n <= 1024, 1e-10 leaves a wide margin.
const TOL = 1e-10;

describe("fft", () => {
  it("matches the naive DFT on random complex inputs, n = 1 … 1024", () => {
    for (const n of [1, 2, 4, 8, 16, 64, 256, 1024]) {
      const re = randn(n);
      const im = randn(n);
      const got = fft(re, im);
      const want = naiveDft(re, im);
      expect(maxAbsErr(got.re, want.re)).toBeLessThan(TOL);
      expect(maxAbsErr(got.im, want.im)).toBeLessThan(TOL);
    }
  });

  it("ifft matches the naive inverse DFT and inverts fft", () => {
    for (const n of [1, 2, 8, 128, 512]) {
      const re = randn(n);
      const im = randn(n);
      const got = ifft(re, im);
      const want = naiveDft(re, im, +1);
      expect(
        maxAbsErr(
          got.re,
          want.re.map((v) => v / n),
        ),
      ).toBeLessThan(TOL);
      expect(
        maxAbsErr(
          got.im,
          want.im.map((v) => v / n),
        ),
      ).toBeLessThan(TOL);
      const back = ifft(fft(re, im).re, fft(re, im).im);
      expect(maxAbsErr(back.re, re)).toBeLessThan(TOL);
      expect(maxAbsErr(back.im, im)).toBeLessThan(TOL);
    }
  });

  it("treats a missing im as zeros and does not modify its inputs", () => {
    const re = new Float64Array(randn(16));
    const copy = Float64Array.from(re);
    const a = fft(re);
    const b = naiveDft(Array.from(re), new Array(16).fill(0));
    expect(maxAbsErr(a.re, b.re)).toBeLessThan(TOL);
    expect(maxAbsErr(a.im, b.im)).toBeLessThan(TOL);
    expect(Array.from(re)).toEqual(Array.from(copy));
  });

  it("rejects bad input with errors naming the argument", () => {
    expect(() => fft([1, 2, 3])).toThrow(/fft: argument 're'.*power of two/);
    expect(() => fft([1, 2], [1])).toThrow(/fft: argument 'im'.*same length/);
    expect(() => fft([1, NaN])).toThrow(/fft: argument 're'.*finite/);
    expect(() => ifft("abc" as unknown as number[])).toThrow(/ifft: argument 're'/);
    expect(() => fft([])).toThrow(/fft: argument 're'/);
  });
});

describe("rfft / irfft", () => {
  it("rfft equals the first n/2 + 1 DFT coefficients of the zero-padded input", () => {
    for (const [len, n] of [
      [1, 1],
      [2, 2],
      [3, 4],
      [5, 16],
      [64, 64],
      [100, 256],
      [1000, 1024],
    ]) {
      const x = randn(len);
      const padded = [...x, ...new Array(n - len).fill(0)];
      const want = naiveDft(padded, new Array(n).fill(0));
      const got = rfft(x, n);
      expect(got.re.length).toBe((n >> 1) + 1);
      expect(maxAbsErr(got.re, want.re.slice(0, (n >> 1) + 1))).toBeLessThan(TOL);
      expect(maxAbsErr(got.im, want.im.slice(0, (n >> 1) + 1))).toBeLessThan(TOL);
    }
  });

  it("irfft inverts rfft", () => {
    for (const n of [1, 2, 4, 32, 512]) {
      const x = randn(n);
      const X = rfft(x);
      expect(maxAbsErr(irfft(X.re, X.im, n), x)).toBeLessThan(TOL);
    }
  });

  it("rejects bad input", () => {
    expect(() => rfft([1, 2, 3], 2)).toThrow(/rfft: argument 'n'/);
    expect(() => rfft([1, 2, 3], 6)).toThrow(/rfft: argument 'n'/);
    expect(() => irfft([1, 2], [0, 0], 3)).toThrow(/irfft: argument 'n'/);
    expect(() => irfft([1, 2], [0, 0], 4)).toThrow(/irfft: argument 're'.*3/);
  });
});

describe("nextPow2", () => {
  it("is the smallest power of two >= n", () => {
    for (let n = 1; n <= 300; n++) {
      const p = nextPow2(n);
      expect(isPow2(p)).toBe(true);
      expect(p).toBeGreaterThanOrEqual(n);
      expect(p / 2).toBeLessThan(n);
    }
    expect(() => nextPow2(0)).toThrow(/nextPow2: argument 'n'/);
    expect(() => nextPow2(2.5)).toThrow(/nextPow2: argument 'n'/);
  });
});
