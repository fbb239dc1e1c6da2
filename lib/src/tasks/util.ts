/** Small helpers shared by the task generators: scoring and display. */
import { argumentError, checkArg, describe, schema } from "../validate";
import { checkTaskSet } from "./checks";
import type { CopyingSet, InductionSet, TokenTaskSet } from "./types";

/** Checks the argument predictions against the set s: one token per target. */
function checkPredictions(fn: string, predictions: unknown, s: TokenTaskSet): ArrayLike<number> {
  const p = predictions as ArrayLike<number> | null;
  if (p === null || typeof p !== "object" || typeof p.length !== "number") {
    throw argumentError(
      fn,
      "predictions",
      `an array of (n, k) = (${s.count}, ${s.targetLength}) tokens (got ${describe(predictions)})`,
    );
  }
  if (p.length !== s.targets.length) {
    throw argumentError(
      fn,
      "predictions",
      `an array of ${s.targets.length} = (n, k) = (${s.count}, ${s.targetLength}) entries (got ${p.length})`,
    );
  }
  return p;
}

/** Checks the argument i: an example index of the set s. */
function checkExampleIndex(fn: string, i: unknown, s: TokenTaskSet): number {
  return checkArg(fn, "i", i, schema.integer({ min: 0, max: s.count - 1 }));
}

/** Example i of a checked set as arrays. */
function exampleOf(s: TokenTaskSet, i: number): { input: number[]; target: number[] } {
  const l = s.inputLength;
  const k = s.targetLength;
  return {
    input: Array.from(s.inputs.subarray(i * l, (i + 1) * l)),
    target: Array.from(s.targets.subarray(i * k, (i + 1) * k)),
  };
}

/**
 * The fraction of target tokens predicted exactly: mean over all (example, j) of
 * [predictions[i, j] == targets[i, j]].
 *
 * @param predictions (n, k) flat, like the set's targets
 * @param set the task set whose targets are compared
 */
export function tokenAccuracy(predictions: ArrayLike<number>, set: TokenTaskSet): number {
  const s = checkTaskSet("tokenAccuracy", set);
  checkPredictions("tokenAccuracy", predictions, s);
  if (s.targets.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < s.targets.length; i++) if (predictions[i] === s.targets[i]) hits++;
  return hits / s.targets.length;
}

/** Accuracy at each answer index j = 0..k-1 separately (averaged over examples). */
export function accuracyByTarget(predictions: ArrayLike<number>, set: TokenTaskSet): number[] {
  checkPredictions("accuracyByTarget", predictions, checkTaskSet("accuracyByTarget", set));
  const k = set.targetLength;
  const out = new Array<number>(k).fill(0);
  for (let i = 0; i < set.count; i++) {
    for (let j = 0; j < k; j++) if (predictions[i * k + j] === set.targets[i * k + j]) out[j]++;
  }
  return out.map((h) => h / set.count);
}

/**
 * The accuracy of guessing uniformly at random among the tokens a target can take: 1 / (V - 2)
 * for the copying tasks (data tokens), 1 / (V - 1) for induction heads (content tokens).
 */
export function chanceAccuracy(set: CopyingSet | InductionSet): number {
  const s = checkTaskSet("chanceAccuracy", set) as CopyingSet | InductionSet;
  if (s.task === "induction-heads") return 1 / (s.tokens.lastContent - s.tokens.firstContent + 1);
  if (s.task === "copying" || s.task === "selective-copying") {
    return 1 / (s.tokens.lastData - s.tokens.firstData + 1);
  }
  throw argumentError(
    "chanceAccuracy",
    "set",
    `a copying or induction-heads task set (got task ${describe((s as TokenTaskSet).task)})`,
  );
}

/** Example i of a set as plain arrays. */
export function taskExample(set: TokenTaskSet, i: number): { input: number[]; target: number[] } {
  const s = checkTaskSet("taskExample", set);
  return exampleOf(s, checkExampleIndex("taskExample", i, s));
}

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * Example i as a short string for printing. Copying tasks: noise "·", marker "?", data tokens
 * 1, 2, … as letters A, B, … Induction heads: the trigger "*", content tokens 0, 1, … as letters
 * a, b, … With more tokens than letters, tokens are printed as numbers separated by spaces.
 *
 * @returns `input → target`, e.g. "··C··A·F·|??? → CAF"
 */
export function renderExample(set: CopyingSet | InductionSet, i: number): string {
  const s = checkTaskSet("renderExample", set);
  const { input, target } = exampleOf(s, checkExampleIndex("renderExample", i, s));
  let sym: (t: number) => string;
  let sep = "";
  if (set.task === "induction-heads") {
    const small = set.vocabSize - 1 <= 26;
    sym = (t) => (t === set.tokens.trigger ? "*" : small ? LETTERS[t].toLowerCase() : String(t));
    if (!small) sep = " ";
  } else {
    const small = set.vocabSize - 2 <= 26;
    sym = (t) =>
      t === set.tokens.noise
        ? "·"
        : t === set.tokens.marker
          ? "?"
          : small
            ? LETTERS[t - 1]
            : String(t);
    if (!small) sep = " ";
  }
  return `${input.map(sym).join(sep)} → ${target.map(sym).join(sep)}`;
}

/**
 * The Wilson score interval of an accuracy measured as `correct` right out of `count`: the
 * proportions p whose score test |correct/count − p| ≤ z·√(p(1 − p)/count) does not reject, here
 * at 95% (z = 1.959964). Unlike p̂ ± z·√(p̂(1 − p̂)/n), it stays inside [0, 1] and does not shrink
 * to a point at 0% or 100% (at 128 of 128 it is [97.1%, 100%]).
 *
 * @returns `{ low, high }`, 0 ≤ low ≤ correct/count ≤ high ≤ 1
 */
export function wilsonInterval(correct: number, count: number): { low: number; high: number } {
  const fn = "wilsonInterval";
  checkArg(fn, "count", count, schema.integer({ min: 1, max: 2 ** 52 }));
  checkArg(fn, "correct", correct, schema.integer({ min: 0, max: count }));
  const z = 1.959964;
  const p = correct / count;
  const z2n = (z * z) / count;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / count + z2n / (4 * count));
  // The endpoints at 0 and 1 are exact in theory; rounding can leave them a hair outside.
  return { low: correct === 0 ? 0 : center - half, high: correct === count ? 1 : center + half };
}
