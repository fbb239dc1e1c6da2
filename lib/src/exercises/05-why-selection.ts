/** Exercises of lesson 05-why-selection. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { selectiveCopying } from "../tasks/copying";

/**
 * The selective-copying generator with plain arrays, as the lesson's exercise asks for it: the
 * examples `selectiveCopying(new Rng(seed), { count, length, numTokens, vocabSize })` makes, as
 * rows of numbers. Per example it draws the numTokens data tokens (each `1 + rng.int(vocabSize -
 * 2)`), then `rng.permutation(length)`, whose first numTokens entries, sorted, are the positions.
 *
 * @returns inputs (count rows of length + numTokens tokens) and targets (count rows of numTokens)
 */
export function selectiveCopyingRows(
  seed: number,
  count: number,
  length: number,
  numTokens: number,
  vocabSize: number,
): { inputs: number[][]; targets: number[][] } {
  const set = selectiveCopying(new Rng(seed), { count, length, numTokens, vocabSize });
  const l = set.inputLength;
  return {
    inputs: Array.from({ length: count }, (_, i) =>
      Array.from(set.inputs.subarray(i * l, (i + 1) * l)),
    ),
    targets: Array.from({ length: count }, (_, i) =>
      Array.from(set.targets.subarray(i * numTokens, (i + 1) * numTokens)),
    ),
  };
}

export const whySelectionExercises: Exercise[] = [
  {
    id: "selective-copying-generator",
    lesson: "05-why-selection",
    title:
      "the selective-copying generator (seed, count, length, numTokens, vocabSize) -> { inputs, targets }",
    hint:
      "per example: first draw the numTokens data tokens, each 1 + rng.int(vocabSize - 2); then " +
      "rng.permutation(length).slice(0, numTokens) sorted increasingly gives their positions; the input is " +
      "length noise tokens (0) with the data tokens at those positions, followed by numTokens markers " +
      "(vocabSize - 1); the target is the data tokens in order. Use one Rng(seed) for all examples.",
    reference: selectiveCopyingRows,
    cases: (rng: Rng) => [
      { label: "one example, 2 data tokens among 6 positions", args: [1, 1, 6, 2, 5] },
      { label: "no examples", args: [2, 0, 8, 3, 6] },
      { label: "every position holds a data token (length = numTokens)", args: [3, 3, 4, 4, 6] },
      { label: "a single data token", args: [4, 5, 10, 1, 8] },
      { label: "the smallest vocabulary (one data token value)", args: [5, 4, 7, 3, 3] },
      { label: "the lesson's size", args: [6, 3, 64, 8, 16] },
      ...Array.from({ length: 4 }, (_, k) => {
        const numTokens = 1 + rng.int(6);
        return {
          label: `random sizes ${k + 1}`,
          args: [
            rng.int(1000),
            1 + rng.int(5),
            numTokens + rng.int(20),
            numTokens,
            3 + rng.int(20),
          ],
        };
      }),
    ],
  },
];
