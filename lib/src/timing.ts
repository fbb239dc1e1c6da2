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

/**
 * The least-squares fit of log y = p · log x + log a: the exponent p of a power law y ≈ a·x^p.
 * A cost that grows like L² has p ≈ 2; like L or L log L, p ≈ 1 (a bit above for L log L).
 *
 * @param x sizes (> 0), at least two distinct values
 * @param y measurements (> 0), same length
 * @returns `{ exponent: p, coefficient: a }`
 */
export function powerLawFit(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
): { exponent: number; coefficient: number } {
  const fn = "powerLawFit";
  const ok = (v: unknown): boolean =>
    Array.isArray(v) || v instanceof Float64Array || v instanceof Float32Array;
  if (!ok(x)) throw argumentError(fn, "x", `an array of numbers (got ${describe(x)})`);
  if (!ok(y)) throw argumentError(fn, "y", `an array of numbers (got ${describe(y)})`);
  if (y.length !== x.length) {
    throw argumentError(fn, "y", `an array of the length of x (${x.length}) (got ${y.length})`);
  }
  for (const [name, v] of [
    ["x", x],
    ["y", y],
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
  const lx = Array.from(x, Math.log);
  const ly = Array.from(y, Math.log);
  const mx = lx.reduce((a, b) => a + b, 0) / lx.length;
  const my = ly.reduce((a, b) => a + b, 0) / ly.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < lx.length; i++) {
    num += (lx[i] - mx) * (ly[i] - my);
    den += (lx[i] - mx) ** 2;
  }
  if (!(den > 0)) {
    throw argumentError(
      fn,
      "x",
      `an array of at least two distinct values (got ${lx.length === 0 ? "none" : `only ${x[0]}`})`,
    );
  }
  const exponent = num / den;
  return { exponent, coefficient: Math.exp(my - exponent * mx) };
}

/** Longest `minMs` {@link timeMs} accepts: one minute per repeat. */
export const MAX_TIME_MS = 60_000;

const TIME_OPTIONS = schema.options({
  repeats: schema.optional(schema.integer({ min: 1, max: 1000 })),
  minMs: schema.optional(schema.positive({ max: MAX_TIME_MS })),
});
