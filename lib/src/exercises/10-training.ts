/**
 * Exercises of lesson 10-training: the backward pass of RMSNorm (checked against central finite
 * differences of the forward) and one step of the selective scan's reverse (adjoint) recurrence.
 */
import type { Exercise } from "./check";
import { Rng } from "../rng";

/** y = x / sqrt(mean(x²) + eps) · w for one row (the forward of the first exercise). */
function rmsNormRow(x: number[], w: number[], eps: number): number[] {
  const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, j) => v * r * w[j]);
}

/**
 * ∂(Σ_j g_j y_j)/∂x by central differences (step 1e-6) of {@link rmsNormRow}: the reference is the
 * forward pass itself, so the check does not depend on anyone's backward formula.
 */
function rmsNormRowGradFd(x: number[], w: number[], eps: number, g: number[]): number[] {
  const f = (xs: number[]) => rmsNormRow(xs, w, eps).reduce((s, v, j) => s + v * g[j], 0);
  return x.map((_, i) => {
    const up = [...x];
    const down = [...x];
    up[i] += 1e-6;
    down[i] -= 1e-6;
    return (f(up) - f(down)) / 2e-6;
  });
}

/**
 * One step of the reverse scan at position l for one channel (see lesson 10):
 *   h    = carry + gO · C                 (∂loss/∂x_l; carry = Ā_{l+1} h_{l+1})
 *   Ā    = exp(Δ A)
 *   dB   = h Δ u,   dΔ = Σ_n h (A Ā x_prev + B u),   next carry = Ā h
 * Returns [h, dB, dΔ, next carry].
 */
function reverseScanStepReference(
  carry: number[],
  gO: number,
  C: number[],
  dt: number,
  A: number[],
  B: number[],
  u: number,
  xPrev: number[],
): [number[], number[], number, number[]] {
  const h = carry.map((c, n) => c + gO * C[n]);
  const abar = A.map((a) => Math.exp(dt * a));
  const dB = h.map((hn) => hn * dt * u);
  const dDelta = h.reduce((s, hn, n) => s + hn * (A[n] * abar[n] * xPrev[n] + B[n] * u), 0);
  return [h, dB, dDelta, h.map((hn, n) => abar[n] * hn)];
}

const vec = (rng: Rng, n: number, s = 1) => Array.from({ length: n }, () => rng.normal(0, s));

function stepCase(rng: Rng, n: number): unknown[] {
  return [
    vec(rng, n),
    rng.normal(),
    vec(rng, n),
    rng.uniform(0.01, 1),
    Array.from({ length: n }, () => -rng.uniform(0.5, 4)),
    vec(rng, n),
    rng.normal(),
    vec(rng, n),
  ];
}

export const trainingExercises: Exercise[] = [
  {
    id: "rmsnorm-backward",
    lesson: "10-training",
    title: "the backward pass of RMSNorm for one row: ∂loss/∂x given g = ∂loss/∂y",
    hint:
      "with r = 1/sqrt(mean(x²) + eps): y_j = x_j r w_j and ∂r/∂x_i = −r³ x_i / d, so " +
      "∂x_i = r g_i w_i − x_i r³ (Σ_j g_j w_j x_j) / d",
    reference: rmsNormRowGradFd as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      { label: "d = 1", args: [[2], [1], 1e-5, [1]] },
      { label: "unit weights, d = 4", args: [[1, -2, 3, 0.5], [1, 1, 1, 1], 1e-5, [1, 0, 0, 0]] },
      { label: "large eps", args: [vec(rng, 5), vec(rng, 5), 1, vec(rng, 5)] },
      ...Array.from({ length: 4 }, (_, k) => {
        const d = 3 + rng.int(12);
        return {
          label: `random row ${k + 1} (d = ${d})`,
          args: [vec(rng, d), vec(rng, d), 1e-5, vec(rng, d)],
        };
      }),
    ],
    // finite differences are accurate to ~1e-9 here
    rtol: 1e-6,
    atol: 1e-7,
  },
  {
    id: "reverse-scan-step",
    lesson: "10-training",
    title: "one step of the reverse scan: h = carry + gO·C, then dB, dΔ and the next carry Ā·h",
    hint: "Ā = exp(Δ·A) per state n; dB_n = h_n·Δ·u; dΔ = Σ_n h_n·(A_n·Ā_n·xPrev_n + B_n·u); next carry_n = Ā_n·h_n",
    reference: reverseScanStepReference as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      { label: "n = 1, zero carry", args: [[0], 1, [1], 0.5, [-1], [1], 1, [0]] },
      {
        label: "gO = 0: only the carry flows back",
        args: [[1, 2], 0, [3, 4], 0.1, [-1, -2], [1, 1], 2, [1, 1]],
      },
      ...Array.from({ length: 5 }, (_, k) => ({
        label: `random step ${k + 1}`,
        args: stepCase(rng, 1 + rng.int(16)),
      })),
    ],
  },
];
