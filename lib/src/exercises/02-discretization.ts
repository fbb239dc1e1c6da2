/** Exercises of lesson 02-discretization: ZOH for a diagonal A, bilinear for a 2 × 2 A. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { tensor } from "../tensor";
import { discretize, discretizeDiagonal } from "../ssm/discretize";

/**
 * Zero-order hold for a diagonal A = diag(a) and one input column b (n):
 *
 *   Ā_i = e^{Δ a_i},   B̄_i = (e^{Δ a_i} − 1)/a_i · b_i   (Δ · b_i when a_i = 0).
 */
export function zohDiagonal(
  a: number[],
  b: number[],
  dt: number,
): { Abar: number[]; Bbar: number[] } {
  const r = discretizeDiagonal(tensor(a), tensor(b), dt, "zoh");
  return { Abar: Array.from(r.Abar.data), Bbar: Array.from(r.Bbar.data) };
}

/**
 * The bilinear (Tustin) discretization of a 2 × 2 system with one input column b (2):
 *
 *   Ā = (I − Δ/2·A)⁻¹ (I + Δ/2·A),   B̄ = (I − Δ/2·A)⁻¹ Δ b.
 */
export function bilinear2x2(
  A: number[][],
  b: number[],
  dt: number,
): { Abar: number[][]; Bbar: number[] } {
  const r = discretize(tensor(A), tensor(b), dt, "bilinear");
  const d = Array.from(r.Abar.data);
  return { Abar: [d.slice(0, 2), d.slice(2, 4)], Bbar: Array.from(r.Bbar.data) };
}

export const discretizationExercises: Exercise[] = [
  {
    id: "zoh-diagonal",
    lesson: "02-discretization",
    title:
      "zero-order hold for a diagonal A: Abar_i = exp(dt*a_i), Bbar_i = (exp(dt*a_i) - 1)/a_i * b_i",
    hint:
      "each state is its own scalar system; loop over i. When a_i = 0 the formula is 0/0: its limit is " +
      "dt * b_i (the state just integrates the input)",
    reference: zohDiagonal,
    rtol: 1e-9,
    atol: 1e-12,
    cases: (rng: Rng) => [
      { label: "the gate: a = -1, b = 1, dt = 0.5", args: [[-1], [1], 0.5] },
      { label: "a = 0: pure integrator", args: [[0, -1], [2, 1], 0.25] },
      { label: "S4D-Real initialisation a = -(1..4)", args: [[-1, -2, -3, -4], [1, 1, 1, 1], 0.1] },
      { label: "a large step forgets almost everything", args: [[-1, -5], [1, 1], 20] },
      { label: "no states", args: [[], [], 0.1] },
      ...Array.from({ length: 5 }, (_, k) => {
        const n = 1 + rng.int(6);
        return {
          label: `random diagonal system ${k + 1} (n = ${n})`,
          args: [
            Array.from({ length: n }, () => -rng.uniform(0.05, 5)),
            Array.from({ length: n }, () => rng.normal()),
            Math.exp(rng.uniform(Math.log(0.001), Math.log(1))),
          ],
        };
      }),
    ],
  },
  {
    id: "bilinear-2x2",
    lesson: "02-discretization",
    title:
      "the bilinear discretization of a 2x2 system: Abar = (I - dt/2 A)^-1 (I + dt/2 A), Bbar = (I - dt/2 A)^-1 dt b",
    hint:
      "form M = I - dt/2*A and P = I + dt/2*A; invert the 2x2 M with [[d, -b], [-c, a]] / (a*d - b*c); " +
      "then Abar = M^-1 P (a 2x2 product) and Bbar = M^-1 (dt*b)",
    reference: bilinear2x2,
    rtol: 1e-9,
    atol: 1e-12,
    cases: (rng: Rng) => [
      {
        label: "damped spring, omega = 2, zeta = 0.2",
        args: [
          [
            [0, 1],
            [-4, -0.8],
          ],
          [0, 4],
          0.1,
        ],
      },
      {
        label: "diagonal A",
        args: [
          [
            [-1, 0],
            [0, -3],
          ],
          [1, 1],
          0.5,
        ],
      },
      {
        label: "rotation generator: bilinear keeps |eigenvalues| = 1",
        args: [
          [
            [0, -1],
            [1, 0],
          ],
          [1, 0],
          0.3,
        ],
      },
      {
        label: "A = 0",
        args: [
          [
            [0, 0],
            [0, 0],
          ],
          [1, -1],
          0.2,
        ],
      },
      ...Array.from({ length: 5 }, (_, k) => ({
        label: `random 2x2 system ${k + 1}`,
        args: [
          [
            [rng.uniform(-3, 0.5), rng.normal()],
            [rng.normal(), rng.uniform(-3, 0.5)],
          ],
          [rng.normal(), rng.normal()],
          rng.uniform(0.01, 0.5),
        ],
      })),
    ],
  },
];
