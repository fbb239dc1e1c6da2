/** Exercises of lesson 06-selective-ssm. */
import type { Exercise } from "./check";
import type { Rng } from "../rng";
import { inverseSoftplus, softplus } from "../selective/activations";
import { logUniformDt } from "../selective/s6";

/**
 * One step of the selective recurrence for a single channel with state size n:
 * h'[i] = exp(Δ·A[i])·h[i] + Δ·B[i]·u and y = Σ_i C[i]·h'[i].
 *
 * @param h state before the step (n)
 * @param u this position's input
 * @param delta this position's step size Δ > 0
 * @param A (n), B (n), C (n): the channel's diagonal A and this position's B and C
 * @returns the new state h' (n) and the output y
 */
export function selectiveStep(
  h: number[],
  u: number,
  delta: number,
  A: number[],
  B: number[],
  C: number[],
): { h: number[]; y: number } {
  const next = h.map((hi, i) => Math.exp(delta * A[i]) * hi + delta * B[i] * u);
  return { h: next, y: next.reduce((s, hi, i) => s + C[i] * hi, 0) };
}

/**
 * Mamba's Δ-bias initialisation from uniform numbers: dt = exp(log dtMin + v·(log dtMax -
 * log dtMin)) is log-uniform in [dtMin, dtMax], and the bias is softplus⁻¹(dt) so that
 * softplus(bias) = dt.
 */
function dtBiasFromUniform(v: number[], dtMin: number, dtMax: number): number[] {
  return v.map((vi) => inverseSoftplus(logUniformDt(vi, dtMin, dtMax)));
}

export const selectiveSsmExercises: Exercise[] = [
  {
    id: "s6-selective-step",
    lesson: "06-selective-ssm",
    title: "one step of the selective recurrence for one channel: h' = exp(ΔA)·h + ΔB·u, y = C·h'",
    hint:
      "each state entry i is independent: h'[i] = Math.exp(delta * A[i]) * h[i] + delta * B[i] * u; " +
      "then y = sum over i of C[i] * h'[i]; return { h: h', y } and leave the input array h unchanged",
    reference: selectiveStep,
    cases: (rng: Rng) => {
      const vec = (n: number, s = 1): number[] => Array.from({ length: n }, () => s * rng.normal());
      const neg = (n: number): number[] => Array.from({ length: n }, () => -Math.exp(rng.normal()));
      return [
        { label: "n = 1, A = -1, zero state: h' = Δ·B·u", args: [[0], 2, 0.5, [-1], [1], [1]] },
        {
          label: "Δ = 0 keeps the state and ignores the input",
          args: [[1, -2], 5, 0, [-1, -2], [1, 1], [1, 1]],
        },
        {
          label: "a large Δ forgets the old state",
          args: [[3, 3], 1, 50, [-1, -2], [0.02, 0.02], [1, -1]],
        },
        { label: "empty state (n = 0)", args: [[], 1, 0.1, [], [], []] },
        ...Array.from({ length: 6 }, (_, k) => {
          const n = 1 + rng.int(16);
          return {
            label: `random n = ${n} (${k + 1})`,
            args: [vec(n), rng.normal(), Math.exp(rng.normal() - 2), neg(n), vec(n), vec(n)],
          };
        }),
      ];
    },
  },
  {
    id: "s6-softplus",
    lesson: "06-selective-ssm",
    title: "softplus(x) = log(1 + e^x), accurate and without overflow for any x",
    hint:
      "Math.log(1 + Math.exp(x)) overflows to Infinity for x > 709; use softplus(x) = max(x, 0) + " +
      "Math.log1p(Math.exp(-|x|)), which never exponentiates a large positive number",
    reference: softplus,
    cases: (rng: Rng) => [
      { label: "x = 0 gives log 2", args: [0] },
      { label: "a large x (e^x overflows)", args: [800] },
      { label: "a large negative x", args: [-800] },
      { label: "x = 20 and beyond: softplus(x) ≈ x", args: [25] },
      { label: "x = -30: softplus(x) ≈ e^x", args: [-30] },
      ...Array.from({ length: 8 }, (_, k) => ({
        label: `random x (${k + 1})`,
        args: [5 * rng.normal()],
      })),
    ],
  },
  {
    id: "s6-dt-bias-init",
    lesson: "06-selective-ssm",
    title:
      "the Δ bias init: dt log-uniform in [dtMin, dtMax] from uniforms v, then bias = softplus⁻¹(dt)",
    hint:
      "dt = Math.exp(Math.log(dtMin) + v * (Math.log(dtMax) - Math.log(dtMin))); the inverse of " +
      "softplus is bias = log(e^dt - 1), best written dt + Math.log(-Math.expm1(-dt)) (or " +
      "Math.log(Math.expm1(dt))) to stay accurate for small dt",
    reference: dtBiasFromUniform,
    cases: (rng: Rng) => [
      { label: "v = 0 and v = 1 give dtMin and dtMax", args: [[0, 1], 0.001, 0.1] },
      { label: "v = 0.5 gives the geometric mean", args: [[0.5], 0.001, 0.1] },
      { label: "no channels", args: [[], 0.001, 0.1] },
      { label: "a wide range", args: [[0, 0.25, 0.75, 1], 1e-6, 10] },
      ...Array.from({ length: 4 }, (_, k) => ({
        label: `random uniforms, Mamba's range (${k + 1})`,
        args: [Array.from({ length: 1 + rng.int(12) }, () => rng.random()), 0.001, 0.1],
      })),
    ],
  },
];
