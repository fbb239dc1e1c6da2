/**
 * Argument parsers shared by the public task functions (generators, loaders, scoring); `fn` is
 * the function the user called. Not exported from lib's index.
 */
import type { Rng } from "../rng";
import { MAX_ELEMENTS, argumentError, checkOptions, describe, schema } from "../validate";
import type { CopyingOptions, InductionOptions, TokenTaskSet } from "./types";

/** Checks the argument rng: an `Rng` (by its methods, so a second copy of lib still works). */
export function checkRng(fn: string, rng: unknown): Rng {
  const r = rng as Partial<Rng> | null;
  if (
    r === null ||
    typeof r !== "object" ||
    typeof r.int !== "function" ||
    typeof r.permutation !== "function"
  ) {
    throw argumentError(fn, "rng", `an Rng (new Rng(seed)) (got ${describe(rng)})`);
  }
  return rng as Rng;
}

/** Checks the argument set: a task set from a generator or loader (inputs, targets, count). */
export function checkTaskSet(fn: string, set: unknown): TokenTaskSet {
  const s = set as Partial<TokenTaskSet> | null;
  if (
    s === null ||
    typeof s !== "object" ||
    !(s.inputs instanceof Int32Array) ||
    !(s.targets instanceof Int32Array) ||
    typeof s.count !== "number" ||
    typeof s.targetLength !== "number"
  ) {
    throw argumentError(
      fn,
      "set",
      `a task set { inputs, targets, count, ... } from a task generator (got ${describe(set)})`,
    );
  }
  return s as TokenTaskSet;
}

const COPYING_OPTIONS = schema.options({
  count: schema.integer({ min: 0, max: MAX_ELEMENTS }),
  length: schema.integer({ min: 1, max: MAX_ELEMENTS }),
  numTokens: schema.integer({ min: 1, max: MAX_ELEMENTS }),
  vocabSize: schema.integer({ min: 3, max: 2 ** 31 - 1 }),
});

/** Checks the argument options of a copying generator (or a task file's options). */
export function checkCopyingOptions(fn: string, options: unknown): CopyingOptions {
  const o = checkOptions(fn, "options", options, COPYING_OPTIONS) as CopyingOptions;
  const { count, numTokens, length, vocabSize } = o;
  if (length < numTokens) {
    throw argumentError(
      fn,
      "options.length",
      `at least numTokens = ${numTokens} positions to hold the data tokens (got ${length})`,
    );
  }
  if (count * (length + numTokens) > MAX_ELEMENTS) {
    throw argumentError(
      fn,
      "options",
      `a request for at most ${MAX_ELEMENTS} tokens in all (got count · (length + numTokens) = ${count * (length + numTokens)})`,
    );
  }
  return { count, length, numTokens, vocabSize };
}

const INDUCTION_OPTIONS = schema.options({
  count: schema.integer({ min: 0, max: MAX_ELEMENTS }),
  length: schema.integer({ min: 3, max: MAX_ELEMENTS }),
  vocabSize: schema.integer({ min: 3, max: 2 ** 31 - 1 }),
});

/** Checks the argument options of the induction-heads generator (or a task file's options). */
export function checkInductionOptions(fn: string, options: unknown): InductionOptions {
  const { count, length, vocabSize } = checkOptions(
    fn,
    "options",
    options,
    INDUCTION_OPTIONS,
  ) as InductionOptions;
  if (count * length > MAX_ELEMENTS) {
    throw argumentError(
      fn,
      "options",
      `a request for at most ${MAX_ELEMENTS} tokens in all (got count · length = ${count * length})`,
    );
  }
  return { count, length, vocabSize };
}
