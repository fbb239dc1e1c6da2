/**
 * The FFT kernels behind fft.ts's public functions and `fftConv`: plans, the in-place radix-2
 * transform and the real-input transforms, on arrays the caller has checked (the algorithm is
 * described in fft.ts's module comment). No validation here: these run in the convolutions'
 * loops. Not exported from lib's index.
 */

/** The smallest power of two >= n, for n >= 1. */
export function nextPow2Raw(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Precomputed tables for transforms of one length n (a power of two): the twiddle factors
 * w^k = e^{-2πik/n} for k < n/2 and the bit-reversal permutation. Reusing a plan across many
 * transforms of the same length avoids recomputing n/2 sines and cosines each time.
 */
export interface FftPlan {
  n: number;
  cos: Float64Array;
  sin: Float64Array;
  /** rev[i] = i with its log₂ n bits reversed. */
  rev: Uint32Array;
}

/** Builds the {@link FftPlan} for length n, a power of two the caller has checked. */
export function fftPlanRaw(n: number): FftPlan {
  const half = n >> 1;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    const angle = (-2 * Math.PI * k) / n;
    cos[k] = Math.cos(angle);
    sin[k] = Math.sin(angle);
  }
  const rev = new Uint32Array(n);
  const bits = Math.round(Math.log2(n));
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let b = 0, v = i; b < bits; b++, v >>= 1) r = (r << 1) | (v & 1);
    rev[i] = r;
  }
  return { n, cos, sin, rev };
}

/**
 * The transform in place: overwrites (re, im) with X (forward) or with n·x (inverse, unscaled:
 * the caller divides by n). No validation: `re`, `im` must have length `plan.n`.
 */
export function fftInPlace(
  re: Float64Array,
  im: Float64Array,
  plan: FftPlan,
  inverse = false,
): void {
  const { n, cos, sin, rev } = plan;
  for (let i = 0; i < n; i++) {
    const j = rev[i];
    if (j > i) {
      let t = re[i];
      re[i] = re[j];
      re[j] = t;
      t = im[i];
      im[i] = im[j];
      im[j] = t;
    }
  }
  const sign = inverse ? -1 : 1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size; // twiddle index stride: w_size^k = w_n^(k·n/size)
    for (let start = 0; start < n; start += size) {
      for (let k = 0; k < half; k++) {
        const wr = cos[k * step];
        const wi = sign * sin[k * step];
        const a = start + k;
        const b = a + half;
        const tr = wr * re[b] - wi * im[b];
        const ti = wr * im[b] + wi * re[b];
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
}

/**
 * Tables for real transforms of length n: the complex plan of length n/2 that does the work, and
 * the twiddles e^{-2πik/n} (k <= n/2) that split its result into the spectrum of the real input.
 */
export interface RealFftPlan {
  n: number;
  half: FftPlan | null;
  cos: Float64Array;
  sin: Float64Array;
}

/** Builds the {@link RealFftPlan} for real sequences of length n, a checked power of two. */
export function rfftPlanRaw(n: number): RealFftPlan {
  const m = n >> 1;
  const cos = new Float64Array(m + 1);
  const sin = new Float64Array(m + 1);
  for (let k = 0; k <= m; k++) {
    cos[k] = Math.cos((-2 * Math.PI * k) / n);
    sin[k] = Math.sin((-2 * Math.PI * k) / n);
  }
  return { n, half: n >= 2 ? fftPlanRaw(m) : null, cos, sin };
}

/**
 * Real-input transform with a plan, no validation: x (length <= plan.n, zero-padded to plan.n)
 * -> X_k for k = 0 … n/2 written into (outRe, outIm), each of length n/2 + 1. (The other half is
 * the mirror image: X_{n-k} = conj(X_k) for a real x.)
 *
 * The trick: pack the real samples as the complex sequence z_m = x_{2m} + i·x_{2m+1} of length
 * n/2, transform it once, then separate the spectra E (even samples) and O (odd samples):
 * E_k = (Z_k + conj Z_{n/2-k})/2, O_k = (Z_k - conj Z_{n/2-k})/(2i), X_k = E_k + w^k O_k.
 * Half the work of a complex transform of length n.
 */
export function rfftInto(
  x: ArrayLike<number>,
  plan: RealFftPlan,
  outRe: Float64Array,
  outIm: Float64Array,
  scratchRe: Float64Array,
  scratchIm: Float64Array,
): void {
  const { n, half } = plan;
  if (n === 1) {
    outRe[0] = x.length > 0 ? x[0] : 0;
    outIm[0] = 0;
    return;
  }
  const m = n >> 1;
  const len = x.length;
  for (let j = 0; j < m; j++) {
    scratchRe[j] = 2 * j < len ? x[2 * j] : 0;
    scratchIm[j] = 2 * j + 1 < len ? x[2 * j + 1] : 0;
  }
  fftInPlace(scratchRe, scratchIm, half!);
  for (let k = 0; k <= m; k++) {
    const zr = scratchRe[k === m ? 0 : k];
    const zi = scratchIm[k === m ? 0 : k];
    const cr = scratchRe[k === 0 ? 0 : m - k];
    const ci = -scratchIm[k === 0 ? 0 : m - k]; // conj Z_{m-k}
    const er = 0.5 * (zr + cr);
    const ei = 0.5 * (zi + ci);
    // O = (Z - conj Z')/(2i) = (Zi - Ci)/2 - i (Zr - Cr)/2
    const or = 0.5 * (zi - ci);
    const oi = -0.5 * (zr - cr);
    const wr = plan.cos[k];
    const wi = plan.sin[k];
    outRe[k] = er + wr * or - wi * oi;
    outIm[k] = ei + wr * oi + wi * or;
  }
}

/**
 * Inverse of {@link rfftInto}, no validation: the half spectrum (X_0 … X_{n/2}) of a real
 * sequence -> its n real samples, scaled by 1/n, written into `out` (length n). Undoes the
 * packing: Z_k = E_k + i·O_k with E_k = (X_k + conj X_{n/2-k})/2 and
 * O_k = (X_k - conj X_{n/2-k}) conj(w^k)/2, then z = IFFT(Z) and x_{2m} = Re z_m, x_{2m+1} = Im z_m.
 */
export function irfftInto(
  re: ArrayLike<number>,
  im: ArrayLike<number>,
  plan: RealFftPlan,
  out: Float64Array,
  scratchRe: Float64Array,
  scratchIm: Float64Array,
): void {
  const { n, half } = plan;
  if (n === 1) {
    out[0] = re[0];
    return;
  }
  const m = n >> 1;
  for (let k = 0; k < m; k++) {
    const xr = re[k];
    const xi = im[k];
    const cr = re[m - k];
    const ci = -im[m - k]; // conj X_{m-k}
    const er = 0.5 * (xr + cr);
    const ei = 0.5 * (xi + ci);
    const dr = 0.5 * (xr - cr);
    const di = 0.5 * (xi - ci);
    const wr = plan.cos[k];
    const wi = -plan.sin[k]; // conj w^k = e^{+2πik/n}
    const or = dr * wr - di * wi;
    const oi = dr * wi + di * wr;
    // Z = E + i O
    scratchRe[k] = er - oi;
    scratchIm[k] = ei + or;
  }
  fftInPlace(scratchRe, scratchIm, half!, true);
  for (let j = 0; j < m; j++) {
    out[2 * j] = scratchRe[j] / m;
    out[2 * j + 1] = scratchIm[j] / m;
  }
}
