/**
 * Causal convolution y = K * x, y_t = Σ_{j=0}^{min(t, lk-1)} K_j x_{t-j}, two ways:
 *
 * - {@link causalConv}: straight from the definition, O(l · lk) per row (O(L²) when the kernel
 *   is as long as the sequence);
 * - {@link fftConv}: by the convolution theorem, O(L log L) per row. The DFT turns *circular*
 *   convolution of length n into a pointwise product; zero-padding both sequences to
 *   n >= l + lk - 1 (a power of two >= 2L for a full-length kernel) leaves room for every
 *   product K_j x_{t-j}, so nothing wraps around and the first l outputs are the causal
 *   convolution.
 *
 * Layouts. x is (…, l): the convolution runs along the last axis of every row. K is (lk) (one
 * kernel for every row) or (d, lk) (one kernel per channel; x must then be (…, d, l) and row r
 * uses kernel r mod d), as returned by `ssmKernel`. Only the first l kernel entries can reach an
 * output, so lk may be shorter or longer than l. The result has x's shape and dtype; sums are
 * accumulated in float64.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, describe, schema } from "../validate";
import { sequenceRows } from "../ssm/checks";
import { MAX_FFT_LENGTH } from "./fft";
import { irfftInto, nextPow2Raw, rfftInto, rfftPlanRaw } from "./fft-raw";

interface ConvArgs {
  xs: Tensor;
  rows: number;
  l: number;
  d: number;
  lk: number;
  K: Float64Array;
}

const ANY_TENSOR = schema.tensor();

/** Parses the arguments x and K shared by the two convolutions. */
function convArgs(fn: string, x: unknown, K: unknown): ConvArgs {
  const xs = checkArg(fn, "x", x, ANY_TENSOR);
  const ks = checkArg(fn, "K", K, ANY_TENSOR);
  if (ks.shape.length !== 1 && ks.shape.length !== 2) {
    throw argumentError(
      fn,
      "K",
      `a tensor of shape (lk) for one kernel or (d, lk) for one per channel (got ${describe(K)})`,
    );
  }
  const banked = ks.shape.length === 2;
  const d = banked ? ks.shape[0] : 1;
  const lk = ks.shape[ks.shape.length - 1];
  if (lk < 1 || d < 1) {
    throw argumentError(fn, "K", `a non-empty kernel (got shape [${ks.shape.join(", ")}])`);
  }
  const { rows, l } = sequenceRows(fn, "x", xs, d, banked, "K");
  return { xs, rows, l, d, lk, K: Float64Array.from(ks.data) };
}

/**
 * Direct causal convolution y_t = Σ_{j=0}^{min(t, lk-1)} K_j x_{t-j} along the last axis.
 * O(l · min(l, lk)) per row.
 *
 * @param x (…, l), or (…, d, l) when K is (d, lk)
 * @param K (lk) or (d, lk)
 * @returns y with x's shape and dtype
 */
export function causalConv(x: Tensor, K: Tensor): Tensor {
  const { xs, rows, l, d, lk, K: k } = convArgs("causalConv", x, K);
  const y = allocate(dtypeOf(xs), xs.data.length);
  const xd = xs.data;
  for (let row = 0; row < rows; row++) {
    const kOff = (row % d) * lk;
    const base = row * l;
    for (let t = 0; t < l; t++) {
      const jmax = Math.min(t, lk - 1);
      let s = 0;
      for (let j = 0; j <= jmax; j++) s += k[kOff + j] * xd[base + t - j];
      y[base + t] = s;
    }
  }
  return { shape: [...xs.shape], data: y };
}

/**
 * Causal convolution by FFT: zero-pad x and K to n = nextPow2(l + m - 1) where m = min(lk, l)
 * (for a kernel as long as the sequence, the smallest power of two >= 2L - 1), take real FFTs,
 * multiply pointwise, transform back and keep the first l samples. O(n log n) per row; a kernel's
 * transform is computed once and reused for every row that uses it.
 *
 * @param x (…, l), or (…, d, l) when K is (d, lk)
 * @param K (lk) or (d, lk)
 * @returns y with x's shape and dtype; equal to {@link causalConv} up to rounding (about 1e-15
 *   relative to Σ|K||x| in float64)
 */
export function fftConv(x: Tensor, K: Tensor): Tensor {
  const { xs, rows, l, d, lk, K: k } = convArgs("fftConv", x, K);
  const y = allocate(dtypeOf(xs), xs.data.length);
  if (rows === 0) return { shape: [...xs.shape], data: y };
  const m = Math.min(lk, l);
  const n = nextPow2Raw(l + m - 1);
  if (n > MAX_FFT_LENGTH) {
    throw argumentError(
      "fftConv",
      "x",
      `a tensor whose last axis l has nextPow2(l + min(lk, l) − 1) <= ${MAX_FFT_LENGTH}, the longest transform (got l = ${l})`,
    );
  }
  const plan = rfftPlanRaw(n);
  const half = (n >> 1) + 1;
  const sRe = new Float64Array(Math.max(1, n >> 1));
  const sIm = new Float64Array(Math.max(1, n >> 1));
  // Kernel spectra, one per channel actually used.
  const used = Math.min(d, rows);
  const kRe = new Float64Array(used * half);
  const kIm = new Float64Array(used * half);
  for (let c = 0; c < used; c++) {
    rfftInto(
      k.subarray(c * lk, c * lk + m),
      plan,
      kRe.subarray(c * half, (c + 1) * half),
      kIm.subarray(c * half, (c + 1) * half),
      sRe,
      sIm,
    );
  }
  const xRe = new Float64Array(half);
  const xIm = new Float64Array(half);
  const out = new Float64Array(n);
  for (let row = 0; row < rows; row++) {
    const c = row % d;
    const base = row * l;
    rfftInto(xs.data.subarray(base, base + l), plan, xRe, xIm, sRe, sIm);
    const off = c * half;
    for (let i = 0; i < half; i++) {
      const ar = xRe[i];
      const ai = xIm[i];
      const br = kRe[off + i];
      const bi = kIm[off + i];
      xRe[i] = ar * br - ai * bi;
      xIm[i] = ar * bi + ai * br;
    }
    irfftInto(xRe, xIm, plan, out, sRe, sIm);
    for (let t = 0; t < l; t++) y[base + t] = out[t];
  }
  return { shape: [...xs.shape], data: y };
}
