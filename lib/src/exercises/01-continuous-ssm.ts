/** Exercises of lesson 01-continuous-ssm: one RK4 step, and the closed-form scalar response. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { rk4Step } from "../ssm/ode";
import { phi1 } from "../ssm/discretize";

/**
 * One classical RK4 step of size dt for the SSM h' = A h + B x with the input x held constant over
 * the step, i.e. for the vector field f(h) = A h + B x:
 *
 *   k₁ = f(h), k₂ = f(h + dt/2·k₁), k₃ = f(h + dt/2·k₂), k₄ = f(h + dt·k₃)
 *   h_next = h + dt/6·(k₁ + 2k₂ + 2k₃ + k₄)
 *
 * @param A (n, n) as nested rows
 * @param B (n, m) as nested rows
 * @param h state (n)
 * @param x input (m)
 * @param dt step size
 * @returns the state after the step (n)
 */
export function ssmRk4Step(
  A: number[][],
  B: number[][],
  h: number[],
  x: number[],
  dt: number,
): number[] {
  const n = h.length;
  const bx = B.map((row) => row.reduce((s, v, j) => s + v * x[j], 0));
  const f = (_t: number, y: Float64Array): Float64Array =>
    Float64Array.from({ length: n }, (_, i) => A[i].reduce((s, v, j) => s + v * y[j], bx[i]));
  return Array.from(rk4Step(f, 0, h, dt));
}

/**
 * The exact response of the scalar SSM h' = a h + b x to a constant input x from h(0) = h0:
 *
 *   h(t) = e^{at} h0 + (e^{at} − 1)/a · b x     (and h0 + b x t when a = 0),
 *
 * evaluated at each time in t.
 */
export function scalarResponse(a: number, b: number, h0: number, x: number, t: number[]): number[] {
  return t.map((tk) => Math.exp(a * tk) * h0 + tk * phi1(a * tk) * b * x);
}

function randomMatrix(rng: Rng, r: number, c: number, scale = 1): number[][] {
  return Array.from({ length: r }, () => Array.from({ length: c }, () => scale * rng.normal()));
}
function randomVector(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.normal());
}

export const continuousSsmExercises: Exercise[] = [
  {
    id: "ssm-rk4-step",
    lesson: "01-continuous-ssm",
    title: "one RK4 step of h' = A h + B x with x held constant over the step",
    hint:
      "write f(v) = A v + B x as a small helper, then k1 = f(h), k2 = f(h + dt/2*k1), k3 = f(h + dt/2*k2), " +
      "k4 = f(h + dt*k3), and return h + dt/6*(k1 + 2*k2 + 2*k3 + k4) as a new array (do not modify h)",
    reference: ssmRk4Step,
    cases: (rng: Rng) => [
      { label: "leaky integrator (n = 1), no input", args: [[[-1]], [[1]], [1], [0], 0.1] },
      { label: "leaky integrator (n = 1), step input", args: [[[-1]], [[1]], [0], [1], 0.5] },
      {
        label: "damped spring (n = 2)",
        args: [
          [
            [0, 1],
            [-4, -0.4],
          ],
          [[0], [4]],
          [1, 0],
          [0.5],
          0.05,
        ],
      },
      {
        label: "A = 0: the state just integrates B x",
        args: [
          [
            [0, 0],
            [0, 0],
          ],
          [[1], [2]],
          [1, 1],
          [3],
          0.2,
        ],
      },
      ...Array.from({ length: 5 }, (_, k) => {
        const n = 1 + rng.int(4);
        const m = 1 + rng.int(3);
        return {
          label: `random system ${k + 1} (n = ${n}, m = ${m})`,
          args: [
            randomMatrix(rng, n, n, 0.7),
            randomMatrix(rng, n, m),
            randomVector(rng, n),
            randomVector(rng, m),
            rng.uniform(0.01, 0.5),
          ],
        };
      }),
    ],
  },
  {
    id: "scalar-response",
    lesson: "01-continuous-ssm",
    title: "the closed-form response h(t) = e^{at} h0 + (e^{at} - 1)/a * b x of h' = a h + b x",
    hint:
      "one formula per time: Math.exp(a*t)*h0 + (Math.exp(a*t) - 1)/a * b*x; when a = 0 the state " +
      "integrates the input instead: h0 + b*x*t",
    reference: scalarResponse,
    rtol: 1e-9,
    atol: 1e-12,
    cases: (rng: Rng) => {
      const times = (n: number): number[] =>
        Array.from({ length: n }, () => rng.uniform(0, 5)).sort((p, q) => p - q);
      return [
        {
          label: "leaky integrator a = -1, b = 1, step input from rest",
          args: [-1, 1, 0, 1, [0, 0.5, 1, 2, 5]],
        },
        { label: "no input: pure decay", args: [-2, 1, 3, 0, [0, 0.1, 1]] },
        { label: "unstable a = 0.5: the response grows", args: [0.5, 1, 1, 1, [0, 1, 2, 4]] },
        { label: "a = 0: the state integrates the input", args: [0, 2, 1, 0.5, [0, 1, 3]] },
        { label: "no times", args: [-1, 1, 1, 1, []] },
        ...Array.from({ length: 5 }, (_, k) => {
          const a =
            (rng.random() < 0.5 ? -1 : 1) * rng.uniform(0.1, 3) * (rng.random() < 0.8 ? 1 : 0.2);
          return {
            label: `random scalar system ${k + 1}`,
            args: [a, rng.normal(), rng.normal(), rng.normal(), times(6)],
          };
        }),
      ];
    },
  },
];
