/**
 * The ODE solvers behind ode.ts's public functions and the SSM simulators (continuous.ts): one RK4
 * step and the adaptive Dormand–Prince 5(4) integration (formulas in ode.ts), on a field, state
 * and settings the caller has checked. Nothing here checks or throws an argument error. Not
 * exported from lib's index.
 */
import type { Tensor } from "../tensor";

/** A trajectory: times t (k) and states y (k, n). */
export interface OdeSolution {
  t: Float64Array;
  y: Tensor;
}

/** An adaptive solution, with the work it took. */
export interface DormandPrinceSolution extends OdeSolution {
  /** Accepted and rejected steps, evaluations of f, and the last step size tried. */
  stats: { accepted: number; rejected: number; evaluations: number; lastStep: number };
}

/**
 * f as the solvers call it: a field lib built itself (the SSM simulators), or a user's field
 * wrapped by ode.ts so that each value it returns is checked. The solvers check nothing.
 */
export type Field = (t: number, y: Float64Array) => ArrayLike<number>;

function axpy(y: Float64Array, a: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i] + a * x[i];
  return out;
}

/** One RK4 step (see ode.ts's `rk4Step`) of a field and state the caller has checked. */
export function rk4StepRaw(f: Field, t: number, y: Float64Array, h: number): Float64Array {
  const k1 = f(t, y);
  const k2 = f(t + h / 2, axpy(y, h / 2, k1));
  const k3 = f(t + h / 2, axpy(y, h / 2, k2));
  const k4 = f(t + h, axpy(y, h, k3));
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++)
    out[i] = y[i] + (h / 6) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  return out;
}

// Dormand & Prince (1980) RK5(4)7FM: nodes c, stages a, 5th-order weights b (= the last stage
// row, so the last evaluation is reused as the first of the next step), and b − b̂ for the error.
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const E = [71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40];

/** The settings of {@link dormandPrinceRaw}, checked by its caller. */
export interface DormandPrinceSettings {
  rtol: number;
  atol: number;
  /** Increasing times in (t0, t1] to report y at, or null for every accepted step. */
  tEval: readonly number[] | null;
  /** First trial step, or null to choose it from f(t0, y0). */
  firstStep: number | null;
  maxSteps: number;
}

/**
 * The Dormand–Prince integration of ode.ts's `odeDormandPrince` on a field, state and settings the
 * caller has checked. Instead of throwing, it says where it gave up (`max-steps`: the step budget
 * ran out; `underflow`: the step size underflowed), so that the caller's message names the
 * function the user called.
 */
export function dormandPrinceRaw(
  f: Field,
  y0: Float64Array,
  t0: number,
  t1: number,
  settings: DormandPrinceSettings,
): DormandPrinceSolution | { gaveUpAt: number; reason: "max-steps" | "underflow" } {
  const { rtol, atol, tEval, maxSteps } = settings;
  let y = y0;
  const stops = tEval === null ? [t1] : [...tEval];
  if (stops.length === 0 || stops[stops.length - 1] !== t1) stops.push(t1);
  const report = tEval === null ? "steps" : "stops";
  const reportT1 = tEval === null || (tEval.length > 0 && tEval[tEval.length - 1] === t1);
  const n = y.length;
  const ts: number[] = [t0];
  const ys: number[] = Array.from(y);
  const scaleOf = (u: ArrayLike<number>, v: ArrayLike<number>, i: number): number =>
    atol + rtol * Math.max(Math.abs(u[i]), Math.abs(v[i]));
  const rms = (v: ArrayLike<number>, sc: (i: number) => number): number => {
    let s = 0;
    // A zero error against a zero tolerance (atol = 0 at a zero state) is no error, not 0/0.
    for (let i = 0; i < n; i++) s += v[i] === 0 ? 0 : (v[i] / sc(i)) ** 2;
    return n === 0 ? 0 : Math.sqrt(s / n);
  };

  let evaluations = 0;
  const call = (t: number, v: Float64Array): ArrayLike<number> => {
    evaluations++;
    return f(t, v);
  };
  let t = t0;
  let k1 = call(t, y);
  let h: number;
  if (settings.firstStep !== null) {
    h = settings.firstStep;
  } else {
    const d0 = rms(y, (i) => atol + rtol * Math.abs(y[i]));
    const d1 = rms(k1, (i) => atol + rtol * Math.abs(y[i]));
    h = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
    h = Math.min(h, t1 - t0);
  }
  let accepted = 0;
  let rejected = 0;
  let stopIndex = 0;
  const stages: ArrayLike<number>[] = new Array(7);
  while (stopIndex < stops.length) {
    if (accepted + rejected >= maxSteps) return { gaveUpAt: t, reason: "max-steps" };
    const target = stops[stopIndex];
    const landing = h >= target - t;
    const step = landing ? target - t : h;
    stages[0] = k1;
    for (let s = 1; s < 7; s++) {
      const ys2 = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        let v = y[i];
        for (let j = 0; j < s; j++) v += step * A[s][j] * stages[j][i];
        ys2[i] = v;
      }
      if (s === 6) {
        // The 5th-order solution is the last stage's argument.
        stages[6] = call(t + step, ys2);
        const err = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let e = 0;
          for (let j = 0; j < 7; j++) e += E[j] * stages[j][i];
          err[i] = step * e;
        }
        const errNorm = rms(err, (i) => scaleOf(y, ys2, i));
        const factor = errNorm === 0 ? 5 : Math.min(5, Math.max(0.2, 0.9 * errNorm ** -0.2));
        if (errNorm <= 1) {
          accepted++;
          t = landing ? target : t + step;
          y = ys2;
          k1 = stages[6];
          if (landing) stopIndex++;
          if (report === "steps" || (landing && (stopIndex < stops.length || reportT1))) {
            ts.push(t);
            for (let i = 0; i < n; i++) ys.push(y[i]);
          }
          // After a shortened landing step keep the step size that was planned.
          h = landing ? Math.max(h, step * factor) : step * factor;
        } else {
          rejected++;
          h = step * Math.max(0.2, factor);
        }
      } else {
        stages[s] = call(t + C[s] * step, ys2);
      }
    }
    if (!(h > 0) || t + h === t) return { gaveUpAt: t, reason: "underflow" };
  }
  return {
    t: Float64Array.from(ts),
    y: { shape: [ts.length, n], data: Float64Array.from(ys) },
    stats: { accepted, rejected, evaluations, lastStep: h },
  };
}
