/** Exercises of lesson 07-parallel-scan: the scan operator and Blelloch's down-sweep. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { combine } from "../scan/combine";
import { blellochDownSweep, blellochUpSweep } from "../scan/linear-scan";

/** The down-sweep on copies, returning the exclusive scan as [a, b] (the exercise's signature). */
function downSweepReference(a: number[], b: number[]): [number[], number[]] {
  const ra = [...a];
  const rb = [...b];
  blellochDownSweep(ra, rb);
  return [ra, rb];
}

/** Up-swept pairs of a random sequence of length P (the input of the down-sweep exercise). */
function upSwept(rng: Rng, P: number): [number[], number[]] {
  const a = Array.from({ length: P }, () => rng.uniform(-1, 1));
  const b = Array.from({ length: P }, () => rng.normal());
  blellochUpSweep(a, b);
  return [a, b];
}

export const parallelScanExercises: Exercise[] = [
  {
    id: "scan-combine",
    lesson: "07-parallel-scan",
    title: "the scan operator (a1, b1) ∘ (a2, b2) = (a1·a2, a2·b1 + b2), earlier pair first",
    hint: "running h → a1·h + b1 and then h → a2·h + b2 gives a2·(a1·h + b1) + b2; read off the new a and b",
    reference: (first: [number, number], second: [number, number]) => combine(first, second),
    cases: (rng: Rng) => {
      const pair = (): [number, number] => [rng.uniform(-2, 2), rng.normal()];
      return [
        {
          label: "(2, 1) then (3, 1)",
          args: [
            [2, 1],
            [3, 1],
          ],
        },
        {
          label: "(3, 1) then (2, 1): the order matters",
          args: [
            [3, 1],
            [2, 1],
          ],
        },
        {
          label: "the identity (1, 0) first",
          args: [
            [1, 0],
            [0.5, 2],
          ],
        },
        {
          label: "the identity (1, 0) second",
          args: [
            [0.5, 2],
            [1, 0],
          ],
        },
        {
          label: "a reset (a2 = 0) forgets the first pair",
          args: [
            [0.9, 5],
            [0, -1],
          ],
        },
        ...Array.from({ length: 6 }, (_, k) => ({
          label: `random pairs ${k + 1}`,
          args: [pair(), pair()],
        })),
      ];
    },
  },
  {
    id: "blelloch-down-sweep",
    lesson: "07-parallel-scan",
    title:
      "Blelloch's down-sweep: turn up-swept pairs (a, b) into the exclusive scan, returned as [a, b]",
    hint:
      "set the root (index P-1) to the identity (1, 0); then for stride = P, P/2, ..., 2 and every " +
      "i = stride-1, 2·stride-1, ... with left child l = i - stride/2: save x_l, copy x_i into x_l, " +
      "and set x_i = (old x_i) ∘ (saved x_l), prefix first",
    reference: downSweepReference,
    cases: (rng: Rng) => [
      { label: "length 1", args: upSwept(rng, 1) },
      { label: "length 2", args: upSwept(rng, 2) },
      {
        label: "length 4, all a = 1 (a plain prefix sum of b)",
        args: (() => {
          const a = [1, 1, 1, 1];
          const b = [1, 2, 3, 4];
          blellochUpSweep(a, b);
          return [a, b];
        })(),
      },
      ...[4, 8, 16, 32, 64].map((P) => ({ label: `random, length ${P}`, args: upSwept(rng, P) })),
    ],
    rtol: 1e-9,
    atol: 1e-12,
  },
];
