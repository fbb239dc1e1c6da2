/**
 * The common format of the course's synthetic sequence tasks.
 *
 * A task set holds `count` examples. Example i is an input token sequence of length
 * `inputLength` (row i of `inputs`) and `targetLength` target tokens (row i of `targets`). A causal
 * sequence model reads the input left to right and is scored at the LAST `targetLength` positions:
 * its output at position `targetStart + j` (targetStart = inputLength - targetLength) must predict
 * target j. Every other position is unscored (in training, their loss is ignored).
 *
 * Tokens are integers in [0, vocabSize). Each task documents what its token ids mean in `tokens`.
 */

/** A set of examples of one task, stored row-major in typed arrays. */
export interface TokenTaskSet {
  /** Which generator made it, e.g. "selective-copying". */
  task: string;
  /** Number of examples n. */
  count: number;
  /** Length l of every input sequence. */
  inputLength: number;
  /** Number k of target tokens per example. */
  targetLength: number;
  /** First scored position: inputLength - targetLength. */
  targetStart: number;
  /** Token ids are in [0, vocabSize). */
  vocabSize: number;
  /** (n, l) row-major: inputs[i * l + t] is token t of example i. */
  inputs: Int32Array;
  /** (n, k) row-major. */
  targets: Int32Array;
}

/** Token ids of the copying tasks. */
export interface CopyingTokens {
  /** The noise (filler, "um") token: 0. */
  noise: number;
  /** Data tokens are firstData..lastData = 1..vocabSize-2. */
  firstData: number;
  lastData: number;
  /** The marker token vocabSize-1 that fills the answer positions ("now recall"). */
  marker: number;
}

/** A selective-copying (or plain copying) set. */
export interface CopyingSet extends TokenTaskSet {
  task: "selective-copying" | "copying";
  tokens: CopyingTokens;
  /** The options it was generated with. */
  options: CopyingOptions;
  /** (n, k): positions (in increasing order) where the data tokens of example i sit. */
  positions: Int32Array;
}

/** Options of the copying generators. */
export interface CopyingOptions {
  /** Number of examples n (>= 0). */
  count: number;
  /** Length of the region holding the data tokens among noise (data + noise), >= numTokens. */
  length: number;
  /** Number of data tokens k to copy (>= 1). */
  numTokens: number;
  /** Vocabulary size V >= 3: noise 0, data 1..V-2, marker V-1. */
  vocabSize: number;
}

/** Token ids of the induction-heads task. */
export interface InductionTokens {
  /** Content tokens are 0..vocabSize-2. */
  firstContent: number;
  lastContent: number;
  /** The trigger token vocabSize-1 (the "A" of "A B … A → B"). */
  trigger: number;
}

/** Options of the induction-heads generator. */
export interface InductionOptions {
  /** Number of examples n (>= 0). */
  count: number;
  /** Input length l >= 3. */
  length: number;
  /** Vocabulary size V >= 3: content 0..V-2, trigger V-1. */
  vocabSize: number;
}

/** An induction-heads set. */
export interface InductionSet extends TokenTaskSet {
  task: "induction-heads";
  tokens: InductionTokens;
  options: InductionOptions;
  /** (n): the position p of the first trigger of example i (the answer is at p + 1). */
  triggerPositions: Int32Array;
}
