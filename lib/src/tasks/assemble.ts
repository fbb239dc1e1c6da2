/**
 * Assembles task sets from their flat arrays: one place for the fields a generated set and a set
 * read from disk share. Internal to `tasks/` (not re-exported from the package).
 */
import { copyingTokens } from "./copying";
import { inductionTokens } from "./induction";
import type { CopyingOptions, CopyingSet, InductionOptions, InductionSet } from "./types";

/**
 * A (selective) copying set: inputs `(count, length + numTokens)`, targets and positions
 * `(count, numTokens)`, flat and row-major; the targets start after the `length` data positions.
 */
export function copyingSet(
  task: "selective-copying" | "copying",
  opts: CopyingOptions,
  inputs: Int32Array,
  targets: Int32Array,
  positions: Int32Array,
): CopyingSet {
  return {
    task,
    count: opts.count,
    inputLength: opts.length + opts.numTokens,
    targetLength: opts.numTokens,
    targetStart: opts.length,
    vocabSize: opts.vocabSize,
    inputs,
    targets,
    tokens: copyingTokens(opts.vocabSize),
    options: opts,
    positions,
  };
}

/**
 * An induction-heads set: inputs `(count, length)`, targets `(count, 1)` and the first trigger's
 * position per example `(count)`; the target is read at the last position.
 */
export function inductionSet(
  opts: InductionOptions,
  inputs: Int32Array,
  targets: Int32Array,
  triggerPositions: Int32Array,
): InductionSet {
  return {
    task: "induction-heads",
    count: opts.count,
    inputLength: opts.length,
    targetLength: 1,
    targetStart: opts.length - 1,
    vocabSize: opts.vocabSize,
    inputs,
    targets,
    tokens: inductionTokens(opts.vocabSize),
    options: opts,
    triggerPositions,
  };
}
