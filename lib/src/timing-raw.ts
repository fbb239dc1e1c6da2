/**
 * The timing loop behind timing.ts's bestOfSeconds, for lib's own measurements (the machine
 * limits of selective-fast), whose arguments are checked by the public function the user called.
 * Not exported from lib's index.
 */

/** The shortest of `repeats` single calls of `fn`, in seconds. */
export function bestOfSecondsRaw(repeats: number, fn: () => unknown): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}
