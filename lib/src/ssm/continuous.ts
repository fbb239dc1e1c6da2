/**
 * The continuous-time state space model (SSM), the seed of every model in the course:
 *
 *   h'(t) = A h(t) + B x(t),    y(t) = C h(t) + D x(t)
 *
 * with state h (n), input x (m), output y (p), and A (n, n), B (n, m), C (p, n), D (p, m).
 *
 * Sampling convention, shared with discretize.ts: an input sequence x (L, m) is held piecewise
 * constant, x(t) = x_k on (kΔ, (k+1)Δ], and the k-th sample of the state is h_k = h((k+1)Δ), the
 * state at the end of the k-th hold. Then h_k = Ā h_{k-1} + B̄ x_k with h_{-1} = h(0), exactly the
 * recurrence of the discrete models, and y_k = C h_k + D x_k.
 */
import { type Tensor, tensor } from "../tensor";
import { argumentError, checkArg, checkOptions, describe, isAbsent, schema } from "../validate";
import { matmulRaw, transposeRaw } from "../linalg/dense";
import { type Eigenvalues, eigvalsRaw } from "../linalg/eig-raw";
import { checkSquare } from "../linalg/checks";
import { expmRaw } from "./expm-raw";
import { type ContinuousSSM, type SSMDims, checkSsm, checkStep } from "./checks";
import { discreteStatesRaw, discretizeRaw } from "./discretize-raw";
import { type DormandPrinceSettings, type Field, dormandPrinceRaw, rk4StepRaw } from "./ode-raw";

/** A continuous SSM: A (n, n), B (n, m), C (p, n), optional D (p, m) (zeros when absent). */
export type { ContinuousSSM, SSMDims } from "./checks";

/**
 * The leaky integrator τ h' = −h + x, y = h: A = −1/τ, B = 1/τ, C = 1 (n = m = p = 1). Its state
 * is a running average of the input over the last ~τ seconds: the impulse response is e^{−t/τ}/τ.
 */
export function leakyIntegrator(tau = 1): ContinuousSSM {
  checkStep("leakyIntegrator", "tau", tau);
  return { A: tensor([[-1 / tau]]), B: tensor([[1 / tau]]), C: tensor([[1]]), D: tensor([[0]]) };
}

/**
 * The damped spring (mass on a spring with friction) driven by a force-like input,
 * q'' + 2ζω q' + ω² q = ω² x, as a 2-state SSM with h = (q, q'):
 *
 *   A = [[0, 1], [−ω², −2ζω]],  B = [[0], [ω²]],  C = [[1, 0]],  D = 0.
 *
 * ω > 0 is the natural angular frequency and ζ the damping ratio (ζ < 1 oscillates, ζ ≥ 1 does not,
 * ζ < 0 pumps energy in and is unstable). The eigenvalues are −ζω ± ω√(ζ² − 1), and the step
 * response settles at 1 when ζ > 0.
 */
export function dampedSpring(omega = 1, zeta = 0.2): ContinuousSSM {
  checkStep("dampedSpring", "omega", omega);
  checkArg("dampedSpring", "zeta", zeta, schema.number());
  const w2 = omega * omega;
  return {
    A: tensor([
      [0, 1],
      [-w2, -2 * zeta * omega],
    ]),
    B: tensor([[0], [w2]]),
    C: tensor([[1, 0]]),
    D: tensor([[0]]),
  };
}

/** The stability report of h' = A h. */
export interface Stability extends Eigenvalues {
  /** max Re λ: solutions grow or decay like e^{α t}. */
  spectralAbscissa: number;
  /** True when every eigenvalue has Re λ < 0: every solution of h' = A h decays to 0. */
  stable: boolean;
}

/**
 * Reads the stability of h' = A h off the eigenvalues of A (n, n): the solution e^{At} h(0) is a
 * sum of terms e^{λt}, so it decays for every h(0) exactly when max Re λ < 0.
 */
export function stability(A: Tensor): Stability {
  const n = checkSquare("stability", "A", A);
  const ev = eigvalsRaw(A.data, n);
  const alpha = ev.re.length === 0 ? -Infinity : Math.max(...ev.re);
  return { ...ev, spectralAbscissa: alpha, stable: alpha < 0 };
}

/** Checks the argument x, an input sequence (L, m) or (L) when m = 1; returns L. */
function checkInput(fn: string, x: unknown, m: number): number {
  const t = checkArg(fn, "x", x, schema.tensor());
  const ok = (t.shape.length === 2 && t.shape[1] === m) || (t.shape.length === 1 && m === 1);
  if (!ok) {
    throw argumentError(
      fn,
      "x",
      `a tensor of shape [L, ${m}]${m === 1 ? " or [L]" : ""} (one row of ${m} input${m === 1 ? "" : "s"} per step) (got [${t.shape.join(", ")}])`,
    );
  }
  return t.shape[0];
}

/** Checks an initial state (argument `arg`) of n entries; zeros when not given. */
function initialState(fn: string, arg: string, h0: unknown, n: number): Float64Array {
  if (isAbsent(h0)) return new Float64Array(n);
  return Float64Array.from(checkArg(fn, arg, h0, schema.tensor({ shape: [n], axes: ["n"] })).data);
}

/** A simulated trajectory at the sample times. */
export interface Simulation {
  /** Sample times t_k = (k+1)Δ, (L). */
  t: Float64Array;
  /** States h_k = h(t_k), (L, n). */
  h: Tensor;
  /** Outputs y_k = C h_k + D x_k, (L, p). */
  y: Tensor;
}

/** y_k = C h_k + D x_k for states h (L, n) and inputs x (L·m values). */
function outputs(
  ssm: ContinuousSSM,
  d: SSMDims,
  h: Float64Array,
  x: ArrayLike<number>,
  L: number,
): Tensor {
  const { n, m, p } = d;
  const y = matmulRaw(h, transposeRaw(ssm.C.data, p, n), L, n, p);
  if (!isAbsent(ssm.D)) {
    const dx = matmulRaw(x, transposeRaw(ssm.D.data, p, m), L, m, p);
    for (let i = 0; i < y.length; i++) y[i] += dx[i];
  }
  return { shape: [L, p], data: y };
}

function timesOf(L: number, dt: number): Float64Array {
  return Float64Array.from({ length: L }, (_, k) => (k + 1) * dt);
}

/**
 * The exact solution for a piecewise-constant input: with x(t) = x_k on (kΔ, (k+1)Δ],
 *
 *   h((k+1)Δ) = e^{ΔA} h(kΔ) + (∫₀^Δ e^{As} ds) B x_k,
 *
 * i.e. the ZOH recurrence, with e^{ΔA} and the integral from one matrix exponential (discretize.ts).
 * x (L, m) or (L) when m = 1; h0 (n) defaults to zeros. Returns float64 {@link Simulation}.
 */
export function simulateExact(ssm: ContinuousSSM, x: Tensor, dt: number, h0?: Tensor): Simulation {
  const fn = "simulateExact";
  const d = checkSsm(fn, "ssm", ssm);
  const L = checkInput(fn, x, d.m);
  checkStep(fn, "dt", dt);
  const h0v = initialState(fn, "h0", h0, d.n);
  // "zoh" never returns null (only "bilinear" can meet a singular system).
  const { abar, bbar } = discretizeRaw(ssm.A.data, ssm.B.data, d.n, d.m, dt, "zoh")!;
  const h = discreteStatesRaw(abar, false, bbar, x.data, d.n, d.m, L, h0v);
  return { t: timesOf(L, dt), h: { shape: [L, d.n], data: h }, y: outputs(ssm, d, h, x.data, L) };
}

/**
 * The same trajectory as {@link simulateExact}, integrated numerically with `substeps` RK4 steps
 * of size Δ/substeps per hold interval (on each interval f(t, h) = A h + B x_k). Global error
 * O((Δ/substeps)⁴).
 */
export function simulateRk4(
  ssm: ContinuousSSM,
  x: Tensor,
  dt: number,
  options: { substeps?: number; h0?: Tensor } = {},
): Simulation {
  const fn = "simulateRk4";
  const d = checkSsm(fn, "ssm", ssm);
  const L = checkInput(fn, x, d.m);
  checkStep(fn, "dt", dt);
  const o = checkOptions(fn, "options", options, SIMULATE_RK4_OPTIONS);
  const substeps = o.substeps ?? 1;
  let h = initialState(fn, "options.h0", o.h0, d.n);
  const hs = new Float64Array(L * d.n);
  const step = dt / substeps;
  for (let k = 0; k < L; k++) {
    const f = linearField(ssm, d, x.data.subarray(k * d.m, (k + 1) * d.m));
    for (let s = 0; s < substeps; s++) h = rk4StepRaw(f, k * dt + s * step, h, step);
    hs.set(h, k * d.n);
  }
  return { t: timesOf(L, dt), h: { shape: [L, d.n], data: hs }, y: outputs(ssm, d, hs, x.data, L) };
}

/**
 * The same trajectory as {@link simulateExact}, integrated by the adaptive Dormand–Prince 5(4)
 * solver one hold interval at a time (so no step straddles a jump of the input). Tolerances
 * default to rtol 1e-10, atol 1e-12. Also returns the number of evaluations of f.
 */
export function simulateAdaptive(
  ssm: ContinuousSSM,
  x: Tensor,
  dt: number,
  options: { rtol?: number; atol?: number; h0?: Tensor } = {},
): Simulation & { evaluations: number } {
  const fn = "simulateAdaptive";
  const d = checkSsm(fn, "ssm", ssm);
  const L = checkInput(fn, x, d.m);
  checkStep(fn, "dt", dt);
  const o = checkOptions(fn, "options", options, SIMULATE_ADAPTIVE_OPTIONS);
  let h = initialState(fn, "options.h0", o.h0, d.n);
  const hs = new Float64Array(L * d.n);
  let evaluations = 0;
  const dp: DormandPrinceSettings = {
    rtol: o.rtol ?? 1e-10,
    atol: o.atol ?? 1e-12,
    tEval: null,
    firstStep: null,
    maxSteps: 100000,
  };
  if (dp.rtol === 0 && dp.atol === 0) {
    throw argumentError(fn, "options.rtol", "> 0 when atol is 0 (got 0)");
  }
  for (let k = 0; k < L; k++) {
    const f = linearField(ssm, d, x.data.subarray(k * d.m, (k + 1) * d.m));
    const t1 = (k + 1) * dt;
    const sol = dormandPrinceRaw(f, h, k * dt, t1, { ...dp, tEval: [t1] });
    if ("gaveUpAt" in sol) {
      throw argumentError(
        fn,
        "options",
        `tolerances the adaptive solver can meet in ${dp.maxSteps} steps per interval (got rtol = ${dp.rtol}, atol = ${dp.atol}: gave up at t = ${sol.gaveUpAt}, ${sol.reason === "underflow" ? "the step size underflowed" : "out of steps"})`,
      );
    }
    h = sol.y.data.slice(d.n) as Float64Array;
    dp.firstStep = sol.stats.lastStep;
    evaluations += sol.stats.evaluations;
    hs.set(h, k * d.n);
  }
  return {
    t: timesOf(L, dt),
    h: { shape: [L, d.n], data: hs },
    y: outputs(ssm, d, hs, x.data, L),
    evaluations,
  };
}

/** f(t, h) = A h + B x for a constant input x (m). */
function linearField(ssm: ContinuousSSM, d: SSMDims, x: ArrayLike<number>): Field {
  const bx = matmulRaw(ssm.B.data, x, d.n, d.m, 1);
  return (_t: number, h: Float64Array): Float64Array => {
    const out = matmulRaw(ssm.A.data, h, d.n, d.n, 1);
    for (let i = 0; i < d.n; i++) out[i] += bx[i];
    return out;
  };
}

/**
 * The vector field f(t, h) = A h + B x(t) of an SSM, for the ODE solvers; `x(t)` returns the input
 * (m) at time t (a number is accepted when m = 1).
 */
export function ssmVectorField(
  ssm: ContinuousSSM,
  x: (t: number) => ArrayLike<number> | number,
): (t: number, h: Float64Array) => Float64Array {
  const d = checkSsm("ssmVectorField", "ssm", ssm);
  if (typeof x !== "function") {
    throw argumentError(
      "ssmVectorField",
      "x",
      `a function of t returning the input (got ${describe(x)})`,
    );
  }
  return (t, h) => {
    const xt = x(t);
    const xv = typeof xt === "number" ? [xt] : xt;
    if (xv.length !== d.m) {
      throw argumentError(
        "ssmVectorField",
        "x",
        `a function x(t) returning ${d.m} values (got ${describe(xt)})`,
      );
    }
    const out = matmulRaw(ssm.A.data, h, d.n, d.n, 1);
    const bx = matmulRaw(ssm.B.data, xv, d.n, d.m, 1);
    for (let i = 0; i < d.n; i++) out[i] += bx[i];
    return out;
  };
}

/** Checks the argument t: times >= 0 (T), an array or a tensor. */
function checkTimes(fn: string, t: unknown): Float64Array {
  const data =
    t !== null && typeof t === "object" && "data" in t && ArrayBuffer.isView((t as Tensor).data)
      ? (t as Tensor).data
      : t;
  if (!(Array.isArray(data) || data instanceof Float64Array || data instanceof Float32Array)) {
    throw argumentError(fn, "t", `an array of times (T) (got ${describe(t)})`);
  }
  const out = Float64Array.from(checkArg(fn, "t", data, schema.numbers()));
  out.forEach((v, i) => {
    if (v < 0) throw argumentError(fn, "t", `an array of times >= 0 (got ${v} at index ${i})`);
  });
  return out;
}

/**
 * The free response h(t) = e^{At} h0 (no input) of h' = A h at times t (T), for A (n, n) and h0
 * (n). Returns h (T, n), float64.
 */
export function freeResponse(A: Tensor, h0: Tensor, t: ArrayLike<number>): Tensor {
  const fn = "freeResponse";
  const n = checkSquare(fn, "A", A);
  const h = checkArg(fn, "h0", h0, schema.tensor({ shape: [n], axes: ["n"] })).data;
  const ts = checkTimes(fn, t);
  const out = new Float64Array(ts.length * n);
  ts.forEach((tk, k) => {
    const e = expmRaw(
      Float64Array.from(A.data, (v) => v * tk),
      n,
    );
    out.set(matmulRaw(e, h, n, n, 1), k * n);
  });
  return { shape: [ts.length, n], data: out };
}

/**
 * The impulse response y(t) = C e^{At} B (t ≥ 0) at times t (T): the output after the input
 * x(t) = δ(t) e_j, for every input j at once. (The D δ(t) term, a spike at t = 0, is left out.)
 * Returns (T, p, m), float64.
 */
export function impulseResponse(ssm: ContinuousSSM, t: ArrayLike<number>): Tensor {
  const fn = "impulseResponse";
  const d = checkSsm(fn, "ssm", ssm);
  const ts = checkTimes(fn, t);
  const { n, m, p } = d;
  const CB = new Float64Array(ts.length * p * m);
  ts.forEach((tk, k) => {
    const e = expmRaw(
      Float64Array.from(ssm.A.data, (v) => v * tk),
      n,
    );
    CB.set(matmulRaw(ssm.C.data, matmulRaw(e, ssm.B.data, n, n, m), p, n, m), k * p * m);
  });
  return { shape: [ts.length, p, m], data: CB };
}

/**
 * The step response y(t) = C (∫₀^t e^{As} ds) B + D at times t (T): the output after the input
 * x(t) = e_j switches on at t = 0, for every input j at once. The integral is read off
 * exp(t [[A, B], [0, 0]]) = [[e^{At}, ∫₀^t e^{As} ds B], [0, I]]. Returns (T, p, m), float64.
 */
export function stepResponse(ssm: ContinuousSSM, t: ArrayLike<number>): Tensor {
  const fn = "stepResponse";
  const d = checkSsm(fn, "ssm", ssm);
  const ts = checkTimes(fn, t);
  const { n, m, p } = d;
  const k = n + m;
  const out = new Float64Array(ts.length * p * m);
  ts.forEach((tk, idx) => {
    const aug = new Float64Array(k * k);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) aug[i * k + j] = tk * ssm.A.data[i * n + j];
      for (let j = 0; j < m; j++) aug[i * k + n + j] = tk * ssm.B.data[i * m + j];
    }
    const e = expmRaw(aug, k);
    const integral = new Float64Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) integral[i * m + j] = e[i * k + n + j];
    const y = matmulRaw(ssm.C.data, integral, p, n, m);
    if (!isAbsent(ssm.D)) for (let i = 0; i < p * m; i++) y[i] += ssm.D.data[i];
    out.set(y, idx * p * m);
  });
  return { shape: [ts.length, p, m], data: out };
}

/** Most RK4 substeps per hold interval {@link simulateRk4} takes. */
export const MAX_RK4_SUBSTEPS = 10000;

const SIMULATE_RK4_OPTIONS = schema.options({
  substeps: schema.optional(schema.integer({ min: 1, max: MAX_RK4_SUBSTEPS })),
  h0: schema.optional(schema.present<Tensor>()),
});

const SIMULATE_ADAPTIVE_OPTIONS = schema.options({
  rtol: schema.optional(schema.number({ min: 0 })),
  atol: schema.optional(schema.number({ min: 0 })),
  h0: schema.optional(schema.present<Tensor>()),
});
