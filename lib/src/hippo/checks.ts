/**
 * Argument parsers shared by the public HiPPO functions; `fn` is the function the user called.
 * Not exported from lib's index.
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";

/** How a HiPPO recurrence is stepped (see legs.ts). */
export type HippoScanMethod = "bilinear" | "forward" | "backward";

/** The argument `method`: one of the {@link HippoScanMethod}s. */
export const HIPPO_SCAN_METHOD = schema.oneOf<HippoScanMethod>(["bilinear", "forward", "backward"]);

const MATRIX = schema.tensor({ rank: 2, axes: ["N", "N"] });
const ANY_TENSOR = schema.tensor();

/** Checks the arguments A (N, N), N >= 1, and B (N, 1) or (N) of a HiPPO system; returns A, B. */
export function checkHippoSystem(
  fn: string,
  A: unknown,
  B: unknown,
): { a: Tensor; b: Tensor; N: number } {
  const a = checkArg(fn, "A", A, MATRIX);
  const N = a.shape[0];
  if (a.shape[1] !== N) {
    throw argumentError(fn, "A", `a square matrix (N, N) (got shape [${a.shape.join(", ")}])`);
  }
  if (N < 1) throw argumentError(fn, "A", "a matrix with N >= 1 (got shape [0, 0])");
  const b = checkArg(fn, "B", B, ANY_TENSOR);
  const bOk =
    (b.shape.length === 2 && b.shape[0] === N && b.shape[1] === 1) ||
    (b.shape.length === 1 && b.shape[0] === N);
  if (!bOk) {
    throw argumentError(
      fn,
      "B",
      `a tensor of shape (${N}, 1) or (${N}) to match A (got [${b.shape.join(", ")}])`,
    );
  }
  return { a, b, N };
}
