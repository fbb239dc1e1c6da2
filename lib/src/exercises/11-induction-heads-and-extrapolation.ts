/** Exercises of lesson 11-induction-heads-and-extrapolation. */
import type { Exercise } from "./check";
import type { Rng } from "../rng";
import { ropeInvFreq } from "../transformer/rope";

/**
 * The angles RoPE rotates a query–key pair by when they are `distance` positions apart:
 * distance · inv_freq_j with inv_freq_j = 1 / θ^(2j / headDim), j = 0 … headDim/2 − 1
 * (the score q·k of RoPE depends on the positions only through these angles).
 *
 * @param headDim even head width, theta the RoPE base, distance the relative position p − s
 * @returns headDim/2 angles in radians (not reduced modulo 2π)
 */
export function ropeAngles(headDim: number, theta: number, distance: number): number[] {
  return Array.from(ropeInvFreq(headDim, theta), (w) => distance * w);
}

export const inductionExtrapolationExercises: Exercise[] = [
  {
    id: "rope-angles",
    lesson: "11-induction-heads-and-extrapolation",
    title:
      "RoPE's rotation angles at a distance: distance · θ^(−2j/headDim) for j = 0 … headDim/2 − 1",
    hint:
      "pair j of a head turns by the angle position · inv_freq_j with inv_freq_j = 1 / θ^(2j / headDim); " +
      "the score of a query at p and a key at s sees only the difference of their angles, (p − s) · inv_freq_j",
    reference: ropeAngles as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      { label: "distance 0: no rotation", args: [16, 10000, 0] },
      { label: "one pair (headDim 2): a single angle = distance", args: [2, 10000, 5] },
      { label: "the model of this lesson at its training length", args: [16, 10000, 32] },
      ...Array.from({ length: 4 }, (_, i) => {
        const headDim = 2 * (1 + rng.int(64));
        const theta = [10000, 500000, 100][rng.int(3)];
        const distance = rng.int(1 << 16);
        return {
          label: `headDim ${headDim}, θ ${theta}, distance ${distance} (${i + 1})`,
          args: [headDim, theta, distance],
        };
      }),
    ],
  },
];
