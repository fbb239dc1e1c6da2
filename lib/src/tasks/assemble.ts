/**
 * Assembles task sets from their flat arrays: one place for the fields a generated set and a set
 * read from disk share. Internal to `tasks/` (not re-exported from the package).
 */
import type {
  CopyingOptions,
  CopyingSet,
  CopyingTokens,
  InductionOptions,
  InductionSet,
  InductionTokens,
} from "./types";

/** The token ids of a copying task with a checked vocabulary size V (see copyingTokens). */
export function copyingTokenIds(V: number): CopyingTokens {
  return { noise: 0, firstData: 1, lastData: V - 2, marker: V - 1 };
}

/** The token ids of the induction-heads task with a checked V (see inductionTokens). */
export function inductionTokenIds(V: number): InductionTokens {
  return { firstContent: 0, lastContent: V - 2, trigger: V - 1 };
}

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
    tokens: copyingTokenIds(opts.vocabSize),
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
    tokens: inductionTokenIds(opts.vocabSize),
    options: opts,
    triggerPositions,
  };
}
