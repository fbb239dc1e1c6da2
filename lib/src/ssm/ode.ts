/**
 * Ordinary differential equation solvers for y'(t) = f(t, y), y ∈ ℝⁿ: the classical fixed-step
 * Runge–Kutta method of order 4 (RK4), and the adaptive Dormand–Prince 5(4) pair used as an
 * accurate reference (it is the method behind MATLAB's ode45 and SciPy's RK45).
 */
import type { Tensor } from "../tensor";
import { argumentError, checkArg, checkOptions, describe, isAbsent, schema } from "../validate";
import {
  type DormandPrinceSolution,
  type Field,
  type OdeSolution,
  dormandPrinceRaw,
  rk4StepRaw,
} from "./ode-raw";

export type { DormandPrinceSolution, OdeSolution } from "./ode-raw";

/** The right-hand side f(t, y) of y' = f(t, y); returns y' (n). It must not modify y. */
export type VectorField = (t: number, y: Float64Array) => ArrayLike<number>;

const FUNCTION = schema.function<VectorField>();
const NUMBER = schema.number();
const STATE = schema.numbers();

/** Parses an initial state (argument `arg`): an array of finite numbers (n) or a tensor (n). */
function checkState(fn: string, arg: string, y0: unknown): Float64Array {
  const data =
    y0 !== null && typeof y0 === "object" && "data" in y0 && ArrayBuffer.isView((y0 as Tensor).data)
      ? (y0 as Tensor).data
      : y0;
  if (!(Array.isArray(data) || data instanceof Float64Array || data instanceof Float32Array)) {
    throw argumentError(fn, arg, `an array of numbers (n) or a tensor (n) (got ${describe(y0)})`);
  }
  return Float64Array.from(checkArg(fn, arg, data, STATE));
}

/**
 * The user's f (argument 'f' of `fn`, already checked to be a function), wrapped so that every
 * value it returns is checked: n finite numbers for a state of n.
 */
function checkedField(fn: string, f: VectorField): Field {
  return (t, y) => {
    const d = f(t, y);
    if (d === null || typeof d !== "object" || d.length !== y.length) {
      throw argumentError(
        fn,
        "f",
        `a function f(t, y) returning ${y.length} numbers (got ${describe(d)} at t = ${t})`,
      );
    }
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        throw argumentError(
          fn,
          "f",
          `a function f(t, y) returning finite numbers (got ${d[i]} at index ${i}, t = ${t})`,
        );
      }
    }
    return d;
  };
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
  checkArg(fn, "f", f, FUNCTION);
  checkArg(fn, "t", t, NUMBER);
  checkArg(fn, "h", h, NUMBER);
  const y0 = checkState(fn, "y", y);
  return rk4StepRaw(checkedField(fn, f), t, y0, h);
}

/** Checks the arguments t0 and t1: finite, t1 > t0. */
function checkSpan(fn: string, t0: unknown, t1: unknown): void {
  const a = checkArg(fn, "t0", t0, NUMBER);
  const b = checkArg(fn, "t1", t1, NUMBER);
  if (!(b > a)) throw argumentError(fn, "t1", `a number > t0 = ${a} (got ${b})`);
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
  checkArg(fn, "f", f, FUNCTION);
  let y = checkState(fn, "y0", y0);
  checkSpan(fn, t0, t1);
  checkArg(fn, "steps", steps, schema.integer({ min: 1 }));
  const field = checkedField(fn, f);
  const n = y.length;
  const h = (t1 - t0) / steps;
  const ts = new Float64Array(steps + 1);
  const ys = new Float64Array((steps + 1) * n);
  ts[0] = t0;
  ys.set(y, 0);
  for (let k = 1; k <= steps; k++) {
    y = rk4StepRaw(field, t0 + (k - 1) * h, y, h);
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
  checkArg(fn, "f", f, FUNCTION);
  const y = checkState(fn, "y0", y0);
  checkSpan(fn, t0, t1);
  const o = checkOptions(fn, "options", options, DORMAND_PRINCE_OPTIONS);
  const rtol = o.rtol ?? 1e-8;
  const atol = o.atol ?? 1e-10;
  if (rtol === 0 && atol === 0) {
    throw argumentError(fn, "options.rtol", "> 0 when atol is 0 (got 0)");
  }
  const maxSteps = o.maxSteps ?? 100000;
  const tEval = isAbsent(o.tEval) ? null : Array.from(o.tEval);
  tEval?.forEach((s, i) => {
    const prev = i === 0 ? t0 : tEval[i - 1];
    if (!Number.isFinite(s) || s <= prev || s > t1) {
      throw argumentError(
        fn,
        "options.tEval",
        `increasing times in (t0, t1] = (${t0}, ${t1}] (got ${s} at index ${i})`,
      );
    }
  });
  const run = dormandPrinceRaw(checkedField(fn, f), y, t0, t1, {
    rtol,
    atol,
    tEval,
    firstStep: o.firstStep ?? null,
    maxSteps,
  });
  if ("gaveUpAt" in run) {
    if (run.reason === "max-steps") {
      throw argumentError(
        fn,
        "options.maxSteps",
        `enough steps to reach t1 = ${t1} (got ${maxSteps}: gave up at t = ${run.gaveUpAt})`,
      );
    }
    throw argumentError(
      fn,
      "f",
      `a field the solver can follow to t1 = ${t1} (got a step size that underflowed at t = ${run.gaveUpAt}; the problem may be singular)`,
    );
  }
  return run;
}

/** The options {@link odeDormandPrince} (and the simulators built on it) accept. */
const DORMAND_PRINCE_OPTIONS = schema.options({
  rtol: schema.optional(schema.number({ min: 0 })),
  atol: schema.optional(schema.number({ min: 0 })),
  tEval: schema.optional(schema.numbers()),
  firstStep: schema.optional(schema.positive()),
  maxSteps: schema.optional(schema.integer({ min: 1, max: 1e7 })),
});
