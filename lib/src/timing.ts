/**
 * Small timing helpers for measuring how a computation scales with its size, used by lesson 03
 * and the benchmarks. Wall-clock times on a shared machine are noisy; these take the best of a
 * few repeats, each long enough for the clock's resolution not to matter.
 */
import { argumentError, checkArg, checkOptions, describe, schema } from "./validate";
import { bestOfSecondsRaw } from "./timing-raw";
import { eyeRaw, luRaw, luSolveRaw } from "./linalg/dense";

const FUNCTION = schema.function<() => unknown>();

/**
 * The time one call of `fn` takes, in milliseconds: after one warm-up call (so the JIT compiles
 * it), `repeats` times call `fn` in a loop until at least `minMs` have passed and divide; return
 * the smallest of those averages (the least disturbed by other work on the machine).
 *
 * @param fn the computation
 * @param options `repeats` (default 3, at most 1000), `minMs` (default 20, at most
 *   {@link MAX_TIME_MS}: a whole measurement stays under about repeats · minMs)
 */
export function timeMs(
  fn: () => unknown,
  options: { repeats?: number; minMs?: number } = {},
): number {
  checkArg("timeMs", "fn", fn, FUNCTION);
  const o = checkOptions("timeMs", "options", options, TIME_OPTIONS);
  const repeats = o.repeats ?? 3;
  const minMs = o.minMs ?? 20;
  fn();
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    let iters = 0;
    const t0 = performance.now();
    let t1 = t0;
    do {
      fn();
      iters++;
      t1 = performance.now();
    } while (t1 - t0 < minMs);
    best = Math.min(best, (t1 - t0) / iters);
  }
  return best;
}

/**
 * The shortest of `repeats` single calls of `fn`, in seconds, with no warm-up and no loop: for
 * runs long enough (tens of milliseconds and more) that one call is one measurement. Short
 * computations want {@link timeMs}.
 */
export function bestOfSeconds(repeats: number, fn: () => unknown): number {
  checkArg("bestOfSeconds", "fn", fn, FUNCTION);
  checkArg("bestOfSeconds", "repeats", repeats, schema.integer({ min: 1, max: 1000 }));
  return bestOfSecondsRaw(repeats, fn);
}

/** Checks two same-length arrays of positive finite numbers (`fn` is the function called). */
function checkPositivePairs(fn: string, x: unknown, y: unknown): void {
  const ok = (v: unknown): boolean =>
    Array.isArray(v) || v instanceof Float64Array || v instanceof Float32Array;
  if (!ok(x)) throw argumentError(fn, "x", `an array of numbers (got ${describe(x)})`);
  if (!ok(y)) throw argumentError(fn, "y", `an array of numbers (got ${describe(y)})`);
  const xs = x as ArrayLike<number>;
  const ys = y as ArrayLike<number>;
  if (ys.length !== xs.length) {
    throw argumentError(fn, "y", `an array of the length of x (${xs.length}) (got ${ys.length})`);
  }
  for (const [name, v] of [
    ["x", xs],
    ["y", ys],
  ] as const) {
    for (let i = 0; i < v.length; i++) {
      if (!(v[i] > 0) || !Number.isFinite(v[i])) {
        throw argumentError(
          fn,
          name,
          `positive finite numbers (got ${describe(v[i])} at index ${i})`,
        );
      }
    }
  }
}

/** The result of {@link powerLawFit}. */
export interface PowerLawFit {
  /** p in y ≈ a·x^p. */
  exponent: number;
  /** a in y ≈ a·x^p. */
  coefficient: number;
  /**
   * The standard error of p: s / √(Σ (log x − mean)²) with s² the residual variance of the log
   * fit over n − 2 degrees of freedom (NaN for two points, which any line fits exactly). Under
   * independent noise p ± 2 standard errors is about a 95% interval (wider for few points: the
   * t quantile with n − 2 degrees of freedom is 4.3 for 3 points, 2.6 for 7).
   */
  exponentStdErr: number;
  /** How many points were fitted. */
  points: number;
}

/**
 * The least-squares fit of log y = p · log x + log a: the exponent p of a power law y ≈ a·x^p.
 * A cost that grows like L² has p ≈ 2; like L or L log L, p ≈ 1 (a bit above for L log L).
 * Repeated measurements at one x may be passed as separate points.
 *
 * @param x sizes (> 0), at least two distinct values
 * @param y measurements (> 0), same length
 * @returns `{ exponent: p, coefficient: a, exponentStdErr, points }`
 */
export function powerLawFit(x: ArrayLike<number>, y: ArrayLike<number>): PowerLawFit {
  const fn = "powerLawFit";
  checkPositivePairs(fn, x, y);
  const lx = Array.from(x, Math.log);
  const ly = Array.from(y, Math.log);
  const n = lx.length;
  const mx = lx.reduce((a, b) => a + b, 0) / n;
  const my = ly.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (lx[i] - mx) * (ly[i] - my);
    den += (lx[i] - mx) ** 2;
  }
  if (!(den > 0)) {
    throw argumentError(
      fn,
      "x",
      `an array of at least two distinct values (got ${n === 0 ? "none" : `only ${x[0]}`})`,
    );
  }
  const exponent = num / den;
  let rss = 0;
  for (let i = 0; i < n; i++) rss += (ly[i] - my - exponent * (lx[i] - mx)) ** 2;
  const exponentStdErr = n > 2 ? Math.sqrt(rss / (n - 2) / den) : NaN;
  return { exponent, coefficient: Math.exp(my - exponent * mx), exponentStdErr, points: n };
}

/** The result of {@link quadraticFit}: y ≈ c + a·x + b·x². */
export interface QuadraticFit {
  /** The constant c (y that does not depend on x: a call's fixed cost). */
  c: number;
  /** The linear coefficient a (y per unit of x). */
  a: number;
  /** The quadratic coefficient b (y per unit of x²). */
  b: number;
  /** Standard errors of c, a and b (NaN for three points, which the curve fits exactly). */
  cStdErr: number;
  aStdErr: number;
  bStdErr: number;
  /** How many points were fitted. */
  points: number;
}

/**
 * The fit y ≈ c + a·x + b·x² by least squares on relative errors: each point is weighted by 1/y²,
 * since timing noise grows with the time measured. For the time of a call over a sequence of
 * length L: c is what a call costs whatever its length (checks, setting up), a the cost per
 * position that does not depend on L (projections, MLPs, a scan), and b·L what each position adds
 * as L grows (attention reading every earlier position); the time per position is c/L + a + b·L.
 * Standard errors from the weighted residuals over n − 3 degrees of freedom.
 *
 * @param x sizes (> 0), at least three distinct values (repeated measurements may repeat an x)
 * @param y measurements (> 0), same length
 */
export function quadraticFit(x: ArrayLike<number>, y: ArrayLike<number>): QuadraticFit {
  const fn = "quadraticFit";
  checkPositivePairs(fn, x, y);
  const n = x.length;
  const distinct = new Set(Array.from(x)).size;
  if (distinct < 3) {
    throw argumentError(fn, "x", `an array of at least three distinct values (got ${distinct})`);
  }
  // Weighted normal equations (Xᵀ W X) β = Xᵀ W y for the columns (1, u, u²), u = x / max x (so
  // the columns are of similar size), W = diag(1/y²).
  const scale = Math.max(...Array.from(x));
  const m = new Float64Array(9);
  const r = new Float64Array(3);
  for (let i = 0; i < n; i++) {
    const u = x[i] / scale;
    const row = [1, u, u * u];
    const w = 1 / (y[i] * y[i]);
    for (let j = 0; j < 3; j++) {
      r[j] += w * row[j] * y[i];
      for (let k = 0; k < 3; k++) m[j * 3 + k] += w * row[j] * row[k];
    }
  }
  const lu = luRaw(m, 3);
  const beta = luSolveRaw(lu, r, 1);
  const inv = luSolveRaw(lu, eyeRaw(3), 3); // (Xᵀ W X)⁻¹
  let rss = 0;
  for (let i = 0; i < n; i++) {
    const u = x[i] / scale;
    rss += ((y[i] - beta[0] - beta[1] * u - beta[2] * u * u) / y[i]) ** 2;
  }
  const s2 = n > 3 ? rss / (n - 3) : NaN;
  const err = (j: number) => Math.sqrt(s2 * inv[j * 3 + j]);
  return {
    c: beta[0],
    a: beta[1] / scale,
    b: beta[2] / (scale * scale),
    cStdErr: err(0),
    aStdErr: err(1) / scale,
    bStdErr: err(2) / (scale * scale),
    points: n,
  };
}

/** Longest `minMs` {@link timeMs} accepts: one minute per repeat. */
export const MAX_TIME_MS = 60_000;

const TIME_OPTIONS = schema.options({
  repeats: schema.optional(schema.integer({ min: 1, max: 1000 })),
  minMs: schema.optional(schema.positive({ max: MAX_TIME_MS })),
});
