/**
 * Argument parsers shared by the public linear-algebra and SSM functions. `fn` is the function the
 * user called and `arg` the argument as the user wrote it; both only build the error message.
 * Not exported from lib's index: the public functions call these once, then pass typed values on.
 */
import { checkArg, argumentError, schema } from "../validate";
import { type LuRaw, SINGULAR_PIVOT_RATIO } from "./dense";

const MATRIX = schema.tensor({ rank: 2, axes: ["n", "n"] });

/** Checks that `value` is a finite square matrix (n, n) and returns n. */
export function checkSquare(fn: string, arg: string, value: unknown): number {
  const t = checkArg(fn, arg, value, MATRIX);
  if (t.shape[0] !== t.shape[1]) {
    throw argumentError(fn, arg, `a square matrix (n, n) (got shape [${t.shape.join(", ")}])`);
  }
  return t.shape[0];
}

/** Throws when the factorisation of argument `arg` says it is singular to working precision. */
export function checkNonsingular(fn: string, arg: string, f: LuRaw): void {
  if (!(f.pivotRatio > SINGULAR_PIVOT_RATIO)) {
    throw argumentError(
      fn,
      arg,
      `nonsingular to working precision (got smallest/largest LU pivot = ${f.pivotRatio.toExponential(2)})`,
    );
  }
}
