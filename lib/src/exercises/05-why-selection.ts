/** Exercises of lesson 05-why-selection. */
import type { Exercise } from "./check";
import type { Rng } from "../rng";

/**
 * The smallest selective memory: a decaying bag of words, h ← decay · h + e(x_t), with one channel
 * per token (e(x) the one-hot vector of x), that looks at each token before it steps and skips the
 * filler entirely: on the filler the state is neither decayed nor written. An LTI memory applies
 * the same step to every token; this one chooses its step by content, which is what lesson 06's
 * selective SSM does with Δ(x_t) ≈ 0.
 *
 * @param tokens token ids in [0, vocabSize), in order
 * @param vocabSize number of channels V
 * @param filler the token id to ignore
 * @param decay the factor applied to the state at every real token
 * @returns the final state h, V numbers (zeros for an empty or all-filler sequence)
 */
function fillerSkippingMemory(
  tokens: number[],
  vocabSize: number,
  filler: number,
  decay: number,
): number[] {
  const h: number[] = new Array(vocabSize).fill(0);
  for (const x of tokens) {
    if (x === filler) continue;
    for (let v = 0; v < vocabSize; v++) h[v] *= decay;
    h[x] += 1;
  }
  return h;
}

export const whySelectionExercises: Exercise[] = [
  {
    id: "filler-skipping-memory",
    lesson: "05-why-selection",
    title:
      "a memory that skips the filler: (tokens, vocabSize, filler, decay) -> final state h (vocabSize numbers)",
    hint:
      "start from h = vocabSize zeros; for each token x: if x is the filler, do nothing (no decay, no " +
      "write); otherwise multiply every entry of h by decay, then add 1 to h[x]. Return h; do not " +
      "decay before the first real word or after the last one.",
    reference: fillerSkippingMemory,
    cases: (rng: Rng) => [
      { label: "one word", args: [[2], 4, 0, 0.8] },
      { label: "no fillers", args: [[1, 2, 3, 1], 4, 0, 0.5] },
      { label: "only fillers: the state stays zero", args: [[0, 0, 0], 3, 0, 0.9] },
      { label: "an empty sentence", args: [[], 4, 1, 0.8] },
      {
        label: 'the lesson\'s sentence "I um want to um um copy this" (um = 5)',
        args: [[0, 5, 1, 2, 5, 5, 3, 4], 6, 5, 0.8],
      },
      { label: "fillers at both ends", args: [[3, 3, 1, 2, 3], 4, 3, 0.7] },
      { label: "decay 1: a bag of words", args: [[1, 0, 2, 1, 0, 1], 3, 0, 1] },
      { label: "decay 0: only the last real word", args: [[1, 2, 0, 0], 3, 0, 0] },
      ...Array.from({ length: 6 }, (_, k) => {
        const vocabSize = 2 + rng.int(9);
        const length = rng.int(30);
        return {
          label: `random sentence ${k + 1}`,
          args: [
            Array.from({ length }, () => rng.int(vocabSize)),
            vocabSize,
            rng.int(vocabSize),
            rng.uniform(0, 1),
          ],
        };
      }),
    ],
  },
];
