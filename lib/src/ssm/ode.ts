/**
 * Ordinary differential equation solvers for y'(t) = f(t, y), y ∈ ℝⁿ: the classical fixed-step
 * Runge–Kutta method of order 4 (RK4), and the adaptive Dormand–Prince 5(4) pair used as an
 * accurate reference (it is the method behind MATLAB's ode45 and SciPy's RK45).
 */
import type { Tensor } from "../tensor";
import {
  assertFiniteNumber,
  assertFunction,
  assertInteger,
  checkOptions,
  describe,
  isAbsent,
  schema,
} from "../validate";

/** The right-hand side f(t, y) of y' = f(t, y); returns y' (n). It must not modify y. */
export type VectorField = (t: number, y: Float64Array) => ArrayLike<number>;

/** A trajectory: times t (k) and states y (k, n). */
export interface OdeSolution {
  t: Float64Array;
  y: Tensor;
}

function toState(fn: string, y0: unknown): Float64Array {
  const data =
    y0 !== null && typeof y0 === "object" && "data" in y0 && ArrayBuffer.isView((y0 as Tensor).data)
      ? (y0 as Tensor).data
      : y0;
  if (!(Array.isArray(data) || data instanceof Float64Array || data instanceof Float32Array)) {
    throw new Error(
      `${fn}: argument 'y0' must be an array of numbers (n) or a tensor (n) (got ${describe(y0)})`,
    );
  }
  const out = Float64Array.from(data as ArrayLike<number>);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) {
      throw new Error(`${fn}: argument 'y0' must be finite values (got ${out[i]} at index ${i})`);
    }
  }
  return out;
}

/** Evaluates f and checks that it returned n finite values. */
function evaluate(fn: string, f: VectorField, t: number, y: Float64Array): ArrayLike<number> {
  const d = f(t, y);
  if (d === null || typeof d !== "object" || d.length !== y.length) {
    throw new Error(
      `${fn}: argument 'f' must be a function f(t, y) returning ${y.length} numbers (got ${describe(d)} at t = ${t})`,
    );
  }
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new Error(
        `${fn}: argument 'f': returned the non-finite value ${d[i]} at index ${i}, t = ${t}`,
      );
    }
  }
  return d;
}

function axpy(y: Float64Array, a: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i] + a * x[i];
  return out;
}

/**
 * One classical Runge–Kutta step of size h for y' = f(t, y):
 *
 *   k₁ = f(t, y),  k₂ = f(t + h/2, y + h/2·k₁),  k₃ = f(t + h/2, y + h/2·k₂),  k₄ = f(t + h, y + h·k₃)
 *   y(t + h) ≈ y + h/6 · (k₁ + 2k₂ + 2k₃ + k₄)
 *
 * Local error O(h⁵), global error O(h⁴). y (n) may be an array or a Float64Array; returns y(t + h)
 * as a Float64Array (n).
 */
export function rk4Step(f: VectorField, t: number, y: ArrayLike<number>, h: number): Float64Array {
  const fn = "rk4Step";
  assertFunction(`${fn}: f`, f);
  assertFiniteNumber(`${fn}: t`, t);
  assertFiniteNumber(`${fn}: h`, h);
  const y0 = toState(fn, y);
  return rk4StepUnchecked(fn, f, t, y0, h);
}

function rk4StepUnchecked(
  fn: string,
  f: VectorField,
  t: number,
  y: Float64Array,
  h: number,
): Float64Array {
  const k1 = evaluate(fn, f, t, y);
  const k2 = evaluate(fn, f, t + h / 2, axpy(y, h / 2, k1));
  const k3 = evaluate(fn, f, t + h / 2, axpy(y, h / 2, k2));
  const k4 = evaluate(fn, f, t + h, axpy(y, h, k3));
  const out = new Float64Array(y.length);
  for (let i = 0; i < y.length; i++)
    out[i] = y[i] + (h / 6) * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
  return out;
}

function assertSpan(fn: string, t0: number, t1: number): void {
  assertFiniteNumber(`${fn}: t0`, t0);
  assertFiniteNumber(`${fn}: t1`, t1);
  if (!(t1 > t0)) throw new Error(`${fn}: argument 't1' must be a number > t0 = ${t0} (got ${t1})`);
}

/**
 * Integrates y' = f(t, y), y(t0) = y0 from t0 to t1 with `steps` RK4 steps of size
 * h = (t1 − t0)/steps. Returns the times t (steps + 1) and states y (steps + 1, n), t[0] = t0.
 */
export function odeRk4(
  f: VectorField,
  y0: ArrayLike<number> | Tensor,
  t0: number,
  t1: number,
  steps: number,
): OdeSolution {
  const fn = "odeRk4";
  assertFunction(`${fn}: f`, f);
  let y = toState(fn, y0);
  assertSpan(fn, t0, t1);
  assertInteger(`${fn}: steps`, steps, 1);
  const n = y.length;
  const h = (t1 - t0) / steps;
  const ts = new Float64Array(steps + 1);
  const ys = new Float64Array((steps + 1) * n);
  ts[0] = t0;
  ys.set(y, 0);
  for (let k = 1; k <= steps; k++) {
    y = rk4StepUnchecked(fn, f, t0 + (k - 1) * h, y, h);
    ts[k] = k === steps ? t1 : t0 + k * h;
    ys.set(y, k * n);
  }
  return { t: ts, y: { shape: [steps + 1, n], data: ys } };
}

/** Options of {@link odeDormandPrince}. */
export interface DormandPrinceOptions {
  /** Relative tolerance per step (default 1e-8). */
  rtol?: number;
  /** Absolute tolerance per step (default 1e-10). */
  atol?: number;
  /** Times at which to report y, increasing, in (t0, t1]; default: every accepted step. */
  tEval?: ArrayLike<number>;
  /** First trial step; default chosen from f(t0, y0) (Hairer, Nørsett & Wanner, §II.4). */
  firstStep?: number;
  /** Give up after this many steps (default 100000). */
  maxSteps?: number;
}

/** An adaptive solution, with the work it took. */
export interface DormandPrinceSolution extends OdeSolution {
  /** Accepted and rejected steps, evaluations of f, and the last step size tried. */
  stats: { accepted: number; rejected: number; evaluations: number; lastStep: number };
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

/**
 * Integrates y' = f(t, y), y(t0) = y0 from t0 to t1 with the adaptive Dormand–Prince 5(4) pair.
 * Each step estimates its local error as the difference of embedded 5th and 4th order solutions,
 * measured as ‖e_i / (atol + rtol·max(|y_i|, |ŷ_i|))‖_rms; a step is accepted when that is ≤ 1,
 * and the next step is h·min(5, max(0.2, 0.9·err^{-1/5})). The solver lands exactly on each time
 * of `tEval` (and on t1). Returns t (k) and y (k, n), starting with (t0, y0).
 */
export function odeDormandPrince(
  f: VectorField,
  y0: ArrayLike<number> | Tensor,
  t0: number,
  t1: number,
  options: DormandPrinceOptions = {},
): DormandPrinceSolution {
  const fn = "odeDormandPrince";
  assertFunction(`${fn}: f`, f);
  let y = toState(fn, y0);
  assertSpan(fn, t0, t1);
  const o = checkOptions(fn, "options", options, DORMAND_PRINCE_OPTIONS);
  const rtol = o.rtol ?? 1e-8;
  const atol = o.atol ?? 1e-10;
  if (rtol === 0 && atol === 0) {
    throw new Error(`${fn}: argument 'options.rtol' must be > 0 when atol is 0 (got 0)`);
  }
  const maxSteps = o.maxSteps ?? 100000;
  let stops: number[];
  const tEval = isAbsent(o.tEval) ? undefined : o.tEval;
  if (tEval !== undefined) {
    const te = tEval;
    stops = Array.from(te as ArrayLike<number>);
    stops.forEach((s, i) => {
      const prev = i === 0 ? t0 : stops[i - 1];
      if (!Number.isFinite(s) || s <= prev || s > t1) {
        throw new Error(
          `${fn}: argument 'options.tEval' must be increasing times in (t0, t1] = (${t0}, ${t1}] (got ${s} at index ${i})`,
        );
      }
    });
    if (stops.length === 0 || stops[stops.length - 1] !== t1) stops.push(t1);
  } else {
    stops = [t1];
  }
  const report = tEval === undefined ? "steps" : "stops";
  const reportT1 = tEval === undefined || (tEval.length > 0 && tEval[tEval.length - 1] === t1);
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
    return evaluate(fn, f, t, v);
  };
  let t = t0;
  let k1 = call(t, y);
  let h: number;
  if (!isAbsent(o.firstStep)) {
    h = o.firstStep;
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
    if (accepted + rejected >= maxSteps) {
      throw new Error(
        `${fn}: argument 'options.maxSteps': gave up at t = ${t} after ${maxSteps} steps`,
      );
    }
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
    if (!(h > 0) || t + h === t) {
      throw new Error(
        `${fn}: argument 'f': the step size underflowed at t = ${t}; the problem may be singular`,
      );
    }
  }
  return {
    t: Float64Array.from(ts),
    y: { shape: [ts.length, n], data: Float64Array.from(ys) },
    stats: { accepted, rejected, evaluations, lastStep: h },
  };
}

/** The options {@link odeDormandPrince} (and the simulators built on it) accept. */
export const DORMAND_PRINCE_OPTIONS = schema.options({
  rtol: schema.optional(schema.number({ min: 0 })),
  atol: schema.optional(schema.number({ min: 0 })),
  tEval: schema.optional(schema.numbers()),
  firstStep: schema.optional(schema.positive()),
  maxSteps: schema.optional(schema.integer({ min: 1, max: 1e7 })),
});
