/**
 * The fixed task sets committed in `datasets/`: what they hold and how to load them. The script
 * `lib/scripts/datasets/make-synthetic.ts` writes them from these specifications, and the tests
 * regenerate them and compare.
 */
import { Rng } from "../rng";
import { selectiveCopying } from "./copying";
import { inductionHeads } from "./induction";
import { readTaskFile } from "./task-file";
import { checkArg, schema } from "../validate";
import type { CopyingOptions, CopyingSet, InductionOptions, InductionSet } from "./types";

/** One committed task file: generator options (without count) and each split's seed and size. */
export interface FixedTaskSpec<O> {
  file: string;
  options: Omit<O, "count">;
  splits: Record<"train" | "test", { seed: number; count: number }>;
}

/** `datasets/selective-copying.json`: 64 positions with 8 data tokens, vocabulary 16 (14 data tokens). */
export const SELECTIVE_COPYING_SET: FixedTaskSpec<CopyingOptions> = {
  file: "selective-copying.json",
  options: { length: 64, numTokens: 8, vocabSize: 16 },
  splits: { train: { seed: 20231201, count: 1200 }, test: { seed: 20231202, count: 400 } },
};

/** `datasets/induction-heads.json`: sequences of 64 tokens, vocabulary 16 (15 content tokens). */
export const INDUCTION_HEADS_SET: FixedTaskSpec<InductionOptions> = {
  file: "induction-heads.json",
  options: { length: 64, vocabSize: 16 },
  splits: { train: { seed: 20231211, count: 800 }, test: { seed: 20231212, count: 200 } },
};

/** Generates a split of the committed selective-copying set from its seed (no file involved). */
export function generateSelectiveCopyingSplit(split: "train" | "test"): CopyingSet {
  const { seed, count } =
    SELECTIVE_COPYING_SET.splits[checkSplit("generateSelectiveCopyingSplit", split)];
  return selectiveCopying(new Rng(seed), { ...SELECTIVE_COPYING_SET.options, count });
}

/** Generates a split of the committed induction-heads set from its seed (no file involved). */
export function generateInductionHeadsSplit(split: "train" | "test"): InductionSet {
  const { seed, count } =
    INDUCTION_HEADS_SET.splits[checkSplit("generateInductionHeadsSplit", split)];
  return inductionHeads(new Rng(seed), { ...INDUCTION_HEADS_SET.options, count });
}

function checkSplit(fn: string, split: unknown): "train" | "test" {
  return checkArg(fn, "split", split, schema.oneOf(["train", "test"] as const));
}

/** Loads a split of `datasets/selective-copying.json` (checksum-verified). */
export function loadSelectiveCopying(split: "train" | "test"): CopyingSet {
  const fn = "loadSelectiveCopying";
  return readTaskFile(fn, SELECTIVE_COPYING_SET.file, checkSplit(fn, split)) as CopyingSet;
}

/** Loads a split of `datasets/induction-heads.json` (checksum-verified). */
export function loadInductionHeads(split: "train" | "test"): InductionSet {
  const fn = "loadInductionHeads";
  return readTaskFile(fn, INDUCTION_HEADS_SET.file, checkSplit(fn, split)) as InductionSet;
}
