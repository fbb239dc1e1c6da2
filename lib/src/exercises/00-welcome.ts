/** Exercises of lesson 00-welcome: a first taste of the check workflow. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { checkArg, schema } from "../validate";

/**
 * The exponential moving average y_t = (1 - α) y_{t-1} + α x_t with y_{-1} = 0: the simplest
 * linear recurrence, and (as lesson 02 shows) an SSM with one state.
 *
 * @param x input sequence (l)
 * @param alpha smoothing factor in [0, 1]
 * @returns y (l)
 */
export function exponentialMovingAverage(x: number[], alpha: number): number[] {
  checkArg("exponentialMovingAverage", "x", x, schema.numbers());
  checkArg("exponentialMovingAverage", "alpha", alpha, schema.number({ min: 0, max: 1 }));
  const y: number[] = [];
  let h = 0;
  for (const xt of x) {
    h = (1 - alpha) * h + alpha * xt;
    y.push(h);
  }
  return y;
}

export const welcomeExercises: Exercise[] = [
  {
    id: "ema",
    lesson: "00-welcome",
    title: "the exponential moving average y_t = (1 - alpha) * y_{t-1} + alpha * x_t",
    hint: "start from y = 0 before the first element, and return one output per input",
    reference: exponentialMovingAverage,
    cases: (rng: Rng) => {
      const random = (n: number): number[] => Array.from({ length: n }, () => rng.normal());
      return [
        { label: "a step input, alpha = 0.5", args: [[1, 1, 1, 1], 0.5] },
        { label: "empty input", args: [[], 0.3] },
        { label: "alpha = 0 keeps the state at 0", args: [random(5), 0] },
        { label: "alpha = 1 copies the input", args: [random(5), 1] },
        ...Array.from({ length: 5 }, (_, k) => ({
          label: `random input ${k + 1}`,
          args: [random(3 + rng.int(30)), rng.random()],
        })),
      ];
    },
  },
];
