/**
 * The scalar nonlinearities of the selective SSM: softplus (which turns a raw step size into a
 * positive Δ), its inverse (used to initialise the Δ bias), the logistic sigmoid and SiLU (the
 * output gate).
 */
import { argumentError, checkArg, describe, schema } from "../validate";
import { inverseSoftplusRaw, sigmoidRaw, siluRaw, softplusRaw } from "../ops/reference/scalar";

/**
 * softplus(x) = log(1 + e^x), computed without overflow or cancellation as
 * max(x, 0) + log1p(e^{-|x|}). It is smooth, positive, ≈ e^x for x ≪ 0 and ≈ x for x ≫ 0.
 * (PyTorch switches to the identity above x = 20; the difference there is below 2.1e-9.)
 *
 * @param x any number (NaN propagates, ±Infinity map to +Infinity / 0)
 */
export function softplus(x: number): number {
  if (typeof x !== "number") throw notANumber("softplus", x);
  return softplusRaw(x);
}

/**
 * The inverse of {@link softplus}: the x with softplus(x) = y, for y > 0, computed as
 * x = y + log(-expm1(-y)) = log(e^y - 1), which stays accurate for tiny y (where
 * x ≈ log y) and for large y (where x ≈ y).
 *
 * @param y a positive finite number
 */
export function inverseSoftplus(y: number): number {
  return inverseSoftplusRaw(checkArg("inverseSoftplus", "y", y, schema.positive()));
}

/** The logistic sigmoid σ(x) = 1 / (1 + e^{-x}), evaluated without overflow for either sign. */
export function sigmoid(x: number): number {
  if (typeof x !== "number") throw notANumber("sigmoid", x);
  return sigmoidRaw(x);
}

/** SiLU (swish): silu(x) = x · σ(x), Mamba's gate nonlinearity. */
export function silu(x: number): number {
  if (typeof x !== "number") throw notANumber("silu", x);
  return siluRaw(x);
}

// These take any number (NaN propagates), so the only check is the type. lib's own loops call the
// unchecked versions in ops/reference/scalar.ts.
function notANumber(fn: string, x: unknown): Error {
  return argumentError(fn, "x", `a number (got ${describe(x)})`);
}
