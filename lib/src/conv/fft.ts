/**
 * The fast Fourier transform, written out: iterative radix-2 Cooley-Tukey over `Float64Array`s.
 *
 * The discrete Fourier transform of a length-n sequence x is
 *
 *   X_k = Σ_{j=0}^{n-1} x_j e^{-2πi jk/n},   k = 0 … n-1,
 *
 * and its inverse is x_j = (1/n) Σ_k X_k e^{+2πi jk/n}. Computed from the definition it costs
 * O(n²). Radix-2 Cooley-Tukey splits x into its even and odd samples, whose transforms E and O
 * (length n/2) combine in n/2 "butterflies"
 *
 *   X_k = E_k + w^k O_k,   X_{k+n/2} = E_k - w^k O_k,   w = e^{-2πi/n},
 *
 * and applies the split recursively: log₂ n levels of O(n) work, O(n log n) in all. The iterative
 * form below first puts the input in bit-reversed order, then runs the levels bottom-up in place.
 * n must be a power of two; callers zero-pad (see {@link nextPow2}).
 *
 * Complex sequences are two arrays, `re` and `im`, of the same length.
 */
import { argumentError, checkArg, describe, schema } from "../validate";
import {
  type FftPlan,
  type RealFftPlan,
  fftInPlace,
  fftPlanRaw,
  irfftInto,
  nextPow2Raw,
  rfftInto,
  rfftPlanRaw,
} from "./fft-raw";

export type { FftPlan, RealFftPlan } from "./fft-raw";

/** A complex sequence as separate real and imaginary parts of equal length. */
export interface ComplexArray {
  re: Float64Array;
  im: Float64Array;
}

/** True when n is a power of two (1, 2, 4, …). */
export function isPow2(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0;
}

/** The smallest power of two >= n (n >= 1): the FFT length to zero-pad to. */
export function nextPow2(n: number): number {
  return nextPow2Raw(checkArg("nextPow2", "n", n, schema.integer({ min: 1, max: 2 ** 30 })));
}

/** Checks the argument n of `fn`: a power of two in [1, MAX_FFT_LENGTH]. */
function checkLength(fn: string, n: unknown): number {
  if (!isPow2(n as number) || (n as number) > MAX_FFT_LENGTH) {
    throw argumentError(fn, "n", `a power of two in [1, ${MAX_FFT_LENGTH}] (got ${describe(n)})`);
  }
  return n as number;
}

/** Builds the {@link FftPlan} for length n (a power of two). */
export function fftPlan(n: number): FftPlan {
  return fftPlanRaw(checkLength("fftPlan", n));
}

/** Builds the {@link RealFftPlan} for real sequences of length n (a power of two). */
export function rfftPlan(n: number): RealFftPlan {
  return rfftPlanRaw(checkLength("rfftPlan", n));
}

const NUMBERS = schema.numbers();

/** Parses the argument `arg` of `fn`: a number[], Float64Array or Float32Array of finite values. */
function toFloat64(fn: string, arg: string, v: unknown): Float64Array {
  const ok = Array.isArray(v) || v instanceof Float64Array || v instanceof Float32Array;
  if (!ok) {
    throw argumentError(fn, arg, `a number[], Float64Array or Float32Array (got ${describe(v)})`);
  }
  return Float64Array.from(checkArg(fn, arg, v, NUMBERS));
}

/** Parses the arguments re and im (im defaults to zeros) of `fn`: a complex sequence. */
function complexInput(fn: string, re: unknown, im: unknown): ComplexArray {
  const r = toFloat64(fn, "re", re);
  const i = im === undefined ? new Float64Array(r.length) : toFloat64(fn, "im", im);
  if (i.length !== r.length) {
    throw argumentError(
      fn,
      "im",
      `an array of the same length as re (${r.length}) (got ${i.length})`,
    );
  }
  if (!isPow2(r.length)) {
    throw argumentError(
      fn,
      "re",
      `an array whose length is a power of two (zero-pad to nextPow2(n)) (got ${r.length})`,
    );
  }
  return { re: r, im: i };
}

/**
 * The discrete Fourier transform X_k = Σ_j x_j e^{-2πi jk/n} of a complex sequence (re + i·im)
 * of length n, a power of two. `im` defaults to zeros (a real input). Returns new arrays; the
 * inputs are not modified. Cost O(n log n).
 */
export function fft(re: ArrayLike<number>, im?: ArrayLike<number>): ComplexArray {
  const z = complexInput("fft", re, im);
  fftInPlace(z.re, z.im, fftPlanRaw(z.re.length));
  return z;
}

/**
 * The inverse transform x_j = (1/n) Σ_k X_k e^{+2πi jk/n}, so that `ifft(fft(x))` returns x (up
 * to rounding). Length n must be a power of two; `im` defaults to zeros. Returns new arrays.
 */
export function ifft(re: ArrayLike<number>, im?: ArrayLike<number>): ComplexArray {
  const z = complexInput("ifft", re, im);
  const n = z.re.length;
  fftInPlace(z.re, z.im, fftPlanRaw(n), true);
  for (let i = 0; i < n; i++) {
    z.re[i] /= n;
    z.im[i] /= n;
  }
  return z;
}

/**
 * The transform of a real sequence x, zero-padded to length n (default: the next power of two
 * >= x.length). Returns the non-redundant half X_0 … X_{n/2} (n/2 + 1 entries); the rest follows
 * from X_{n-k} = conj(X_k). Costs about half a complex FFT of length n.
 */
export function rfft(x: ArrayLike<number>, n?: number): ComplexArray {
  const xs = toFloat64("rfft", "x", x);
  const size = n === undefined ? nextPow2Raw(Math.max(1, xs.length)) : n;
  if (!isPow2(size) || size < xs.length || size > MAX_FFT_LENGTH) {
    throw argumentError(
      "rfft",
      "n",
      `a power of two >= x.length (${xs.length}) (got ${describe(n)})`,
    );
  }
  const plan = rfftPlanRaw(size);
  const m = Math.max(1, size >> 1);
  const out = { re: new Float64Array((size >> 1) + 1), im: new Float64Array((size >> 1) + 1) };
  rfftInto(xs, plan, out.re, out.im, new Float64Array(m), new Float64Array(m));
  return out;
}

/**
 * The real sequence of length n (a power of two) whose half spectrum is (re, im), each of length
 * n/2 + 1 (as returned by {@link rfft}): the inverse of `rfft`, including the 1/n.
 */
export function irfft(re: ArrayLike<number>, im: ArrayLike<number>, n: number): Float64Array {
  checkLength("irfft", n);
  const r = toFloat64("irfft", "re", re);
  const i = toFloat64("irfft", "im", im);
  const want = (n >> 1) + 1;
  if (r.length !== want) {
    throw argumentError("irfft", "re", `an array of length n/2 + 1 = ${want} (got ${r.length})`);
  }
  if (i.length !== want) {
    throw argumentError("irfft", "im", `an array of length n/2 + 1 = ${want} (got ${i.length})`);
  }
  const out = new Float64Array(n);
  const m = Math.max(1, n >> 1);
  irfftInto(r, i, rfftPlanRaw(n), out, new Float64Array(m), new Float64Array(m));
  return out;
}

/** Longest transform the FFTs take (2^26 points; the plan's tables hold n values). */
export const MAX_FFT_LENGTH = 2 ** 26;
