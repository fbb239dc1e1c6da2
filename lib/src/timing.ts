/**
 * Small timing helpers for measuring how a computation scales with its size, used by lesson 03
 * and the benchmarks. Wall-clock times on a shared machine are noisy; these take the best of a
 * few repeats, each long enough for the clock's resolution not to matter.
 */
import { argumentError, checkArg, checkOptions, describe, schema } from "./validate";
import { bestOfSecondsRaw } from "./timing-raw";

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

/** The result of {@link linearQuadraticFit}: y ≈ a·x + b·x². */
export interface LinearQuadraticFit {
  /** The linear coefficient a (y per unit of x). */
  a: number;
  /** The quadratic coefficient b (y per unit of x²). */
  b: number;
  /** Standard errors of a and b (NaN for two points, which the curve fits exactly). */
  aStdErr: number;
  bStdErr: number;
  /** How many points were fitted. */
  points: number;
}

/**
 * The fit y ≈ a·x + b·x² (no constant term) by least squares on relative errors: each point is
 * weighted by 1/y², since timing noise grows with the time measured. For a cost over a sequence
 * of length L, a is the cost per position that does not depend on L (projections, MLPs, a scan)
 * and b·L the part that grows with it (attention reading every earlier position); the cost per
 * position is a + b·L. Standard errors from the weighted residuals over n − 2 degrees of freedom.
 *
 * @param x sizes (> 0), at least two distinct values (repeated measurements may repeat an x)
 * @param y measurements (> 0), same length
 */
export function linearQuadraticFit(x: ArrayLike<number>, y: ArrayLike<number>): LinearQuadraticFit {
  const fn = "linearQuadraticFit";
  checkPositivePairs(fn, x, y);
  const n = x.length;
  // Weighted normal equations for the columns (x, x²) with weights 1/y², in units of the largest
  // x so that the two columns are of similar size.
  const scale = Math.max(...Array.from(x));
  let s11 = 0;
  let s12 = 0;
  let s22 = 0;
  let r1 = 0;
  let r2 = 0;
  for (let i = 0; i < n; i++) {
    const u = x[i] / scale;
    const w = 1 / (y[i] * y[i]);
    s11 += w * u * u;
    s12 += w * u * u * u;
    s22 += w * u * u * u * u;
    r1 += w * u * y[i];
    r2 += w * u * u * y[i];
  }
  const det = s11 * s22 - s12 * s12;
  if (!(det > 1e-12 * s11 * s22)) {
    throw argumentError(
      fn,
      "x",
      `an array of at least two distinct values (got ${n === 0 ? "none" : `only ${x[0]}`})`,
    );
  }
  const au = (s22 * r1 - s12 * r2) / det;
  const bu = (s11 * r2 - s12 * r1) / det;
  let rss = 0;
  for (let i = 0; i < n; i++) {
    const u = x[i] / scale;
    rss += ((y[i] - au * u - bu * u * u) / y[i]) ** 2;
  }
  const s2 = n > 2 ? rss / (n - 2) : NaN;
  return {
    a: au / scale,
    b: bu / (scale * scale),
    aStdErr: Math.sqrt((s2 * s22) / det) / scale,
    bStdErr: Math.sqrt((s2 * s11) / det) / (scale * scale),
    points: n,
  };
}

/** Longest `minMs` {@link timeMs} accepts: one minute per repeat. */
export const MAX_TIME_MS = 60_000;

const TIME_OPTIONS = schema.options({
  repeats: schema.optional(schema.integer({ min: 1, max: 1000 })),
  minMs: schema.optional(schema.positive({ max: MAX_TIME_MS })),
});
