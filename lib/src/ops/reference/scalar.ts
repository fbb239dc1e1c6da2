/**
 * The scalar nonlinearities of activations.ts without the type check of the public versions, for
 * the scans' inner loops and lib's other numeric code (their callers have checked their inputs).
 * Formulas and accuracy are documented in selective/activations.ts (the checked versions, lesson
 * 06). Not exported from lib's index.
 */

/** softplus(x) = log(1 + e^x) = max(x, 0) + log1p(e^{-|x|}). */
export function softplusRaw(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** The x with softplus(x) = y, for y > 0: y + log(-expm1(-y)). */
export function inverseSoftplusRaw(y: number): number {
  return y + Math.log(-Math.expm1(-y));
}

/** σ(x) = 1 / (1 + e^{-x}), without overflow for either sign. */
export function sigmoidRaw(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** silu(x) = x · σ(x). */
export function siluRaw(x: number): number {
  return x * sigmoidRaw(x);
}
