/** Small helpers shared by the task generators: argument checks, scoring, and display. */
import type { Rng } from "../rng";
import { assertInteger, describe } from "../validate";
import type { CopyingSet, InductionSet, TokenTaskSet } from "./types";

/** Checks that `rng` is an `Rng` (by its methods, so a second copy of lib still works). */
export function checkRng(fn: string, rng: unknown): Rng {
  const r = rng as Partial<Rng> | null;
  if (
    r === null ||
    typeof r !== "object" ||
    typeof r.int !== "function" ||
    typeof r.permutation !== "function"
  ) {
    throw new Error(`${fn}: argument 'rng' must be an Rng (new Rng(seed)) (got ${describe(rng)})`);
  }
  return rng as Rng;
}

/** Checks that `set` looks like a task set from a generator or loader (inputs, targets, count). */
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
    throw new Error(
      `${fn}: argument 'set' must be a task set { inputs, targets, count, ... } from a task generator (got ${describe(set)})`,
    );
  }
  return s as TokenTaskSet;
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
  if (
    predictions === null ||
    typeof predictions !== "object" ||
    typeof predictions.length !== "number"
  ) {
    throw new Error(
      `tokenAccuracy: argument 'predictions' must be an array of (n, k) = (${s.count}, ${s.targetLength}) tokens (got ${describe(predictions)})`,
    );
  }
  if (predictions.length !== s.targets.length) {
    throw new Error(
      `tokenAccuracy: argument 'predictions' must be an array of ${s.targets.length} = (n, k) = (${s.count}, ${s.targetLength}) entries (got ${predictions.length})`,
    );
  }
  if (s.targets.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < s.targets.length; i++) if (predictions[i] === s.targets[i]) hits++;
  return hits / s.targets.length;
}

/** Accuracy at each answer index j = 0..k-1 separately (averaged over examples). */
export function accuracyByTarget(predictions: ArrayLike<number>, set: TokenTaskSet): number[] {
  checkTaskSet("accuracyByTarget", set);
  tokenAccuracy(predictions, set);
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
  throw new Error(
    `chanceAccuracy: argument 'set' must be a copying or induction-heads task set (got task ${describe((s as TokenTaskSet).task)})`,
  );
}

/** Example i of a set as plain arrays. */
export function taskExample(set: TokenTaskSet, i: number): { input: number[]; target: number[] } {
  const s = checkTaskSet("taskExample", set);
  assertInteger("taskExample: i", i, 0, s.count - 1);
  const l = s.inputLength;
  const k = s.targetLength;
  return {
    input: Array.from(s.inputs.subarray(i * l, (i + 1) * l)),
    target: Array.from(s.targets.subarray(i * k, (i + 1) * k)),
  };
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
  assertInteger("renderExample: i", i, 0, s.count - 1);
  const { input, target } = taskExample(set, i);
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
