/**
 * rk4Step, odeRk4 and odeDormandPrince (lib/src/ssm/ode.ts) against closed-form solutions (harmonic
 * oscillator, y' = −2t y, logistic): the classical RK4 stages, measured global order 4,
 * Dormand–Prince within its tolerance.
 */
import { describe, expect, it } from "vitest";
import { odeDormandPrince, odeRk4, rk4Step } from "../../../lib/src/index";
import { slope } from "../../helpers/reference";

/** The harmonic oscillator q'' = −ω² q as y = (q, q'); exact y(t) = (cos ωt, −ω sin ωt). */
const w = 3;
const oscillator = (_t: number, y: Float64Array): number[] => [y[1], -w * w * y[0]];
/** A time-dependent scalar ODE y' = −2t y, exact y(t) = y0 e^{−t²}. */
const gaussian = (t: number, y: Float64Array): number[] => [-2 * t * y[0]];
/** The logistic equation y' = y(1 − y), exact y(t) = 1 / (1 + (1/y0 − 1) e^{−t}). */
const logistic = (_t: number, y: Float64Array): number[] => [y[0] * (1 - y[0])];

describe("rk4Step", () => {
  it("is the classical formula: one step on y' = y equals the Taylor polynomial of degree 4 of e^h", () => {
    for (const h of [0.1, 0.5, 1]) {
      const got = rk4Step((_t, y) => [y[0]], 0, [1], h)[0];
      expect(got).toBeCloseTo(1 + h + h ** 2 / 2 + h ** 3 / 6 + h ** 4 / 24, 15);
    }
  });

  it("uses the time argument at t, t + h/2, t + h (y' = −2t y, one step against the stage formula)", () => {
    const t = 0.7;
    const h = 0.2;
    const y = 1.5;
    const f = (s: number, v: number) => -2 * s * v;
    const k1 = f(t, y);
    const k2 = f(t + h / 2, y + (h / 2) * k1);
    const k3 = f(t + h / 2, y + (h / 2) * k2);
    const k4 = f(t + h, y + h * k3);
    const want = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4);
    expect(rk4Step(gaussian, t, [y], h)[0]).toBeCloseTo(want, 15);
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => rk4Step("f" as never, 0, [1], 0.1)).toThrow(/rk4Step: argument 'f'/);
    expect(() => rk4Step(oscillator, NaN, [1, 0], 0.1)).toThrow(/rk4Step: argument 't'/);
    expect(() => rk4Step(oscillator, 0, [1, NaN], 0.1)).toThrow(
      /rk4Step: argument 'y' must be an array of finite numbers \(got NaN at index 1\)/,
    );
    expect(() => rk4Step(oscillator, 0, [1, 0], Infinity)).toThrow(/rk4Step: argument 'h'/);
    expect(() => rk4Step(() => [1], 0, [1, 0], 0.1)).toThrow(
      /rk4Step: argument 'f' must be a function f\(t, y\) returning 2/,
    );
    expect(() => rk4Step(() => [NaN], 0, [1], 0.1)).toThrow(
      /rk4Step: argument 'f' must be a function f\(t, y\) returning finite numbers \(got NaN at index 0, t = 0\)/,
    );
  });
});

describe("odeRk4", () => {
  it("has measured global order 4 on the oscillator and on y' = −2t y (slope 4 ± 0.2)", () => {
    // Max error over the whole trajectory, so no single point's error can cross zero.
    const steps = [40, 80, 160, 320];
    const T = 2;
    const errOsc = steps.map((n) => {
      const { t, y } = odeRk4(oscillator, [1, 0], 0, T, n);
      return Math.max(...Array.from(t, (tk, k) => Math.abs(y.data[2 * k] - Math.cos(w * tk))));
    });
    const errGauss = steps.map((n) => {
      const { t, y } = odeRk4(gaussian, [1], 0, T, n);
      return Math.max(...Array.from(t, (tk, k) => Math.abs(y.data[k] - Math.exp(-tk * tk))));
    });
    const hs = steps.map((n) => T / n);
    expect(Math.abs(slope(hs, errOsc) - 4)).toBeLessThan(0.2);
    expect(Math.abs(slope(hs, errGauss) - 4)).toBeLessThan(0.2);
  });

  it("returns the grid t_k = t0 + k h and the states along it", () => {
    const { t, y } = odeRk4(oscillator, [1, 0], 1, 2, 4);
    expect(Array.from(t)).toEqual([1, 1.25, 1.5, 1.75, 2]);
    expect(y.shape).toEqual([5, 2]);
    expect(Array.from(y.data.slice(0, 2))).toEqual([1, 0]);
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => odeRk4(oscillator, [1, 0], 0, 1, 0)).toThrow(/odeRk4: argument 'steps'/);
    expect(() => odeRk4(oscillator, [1, 0], 1, 0, 10)).toThrow(/odeRk4: argument 't1'/);
    expect(() => odeRk4(oscillator, "y" as never, 0, 1, 10)).toThrow(/odeRk4: argument 'y0'/);
  });
});

describe("odeDormandPrince", () => {
  it("meets its tolerance against closed forms (error < 100·rtol over the span)", () => {
    for (const rtol of [1e-6, 1e-9]) {
      const atol = rtol * 1e-2;
      const osc = odeDormandPrince(oscillator, [1, 0], 0, 5, { rtol, atol });
      osc.t.forEach((t, k) => {
        expect(Math.abs(osc.y.data[2 * k] - Math.cos(w * t))).toBeLessThan(100 * rtol);
        expect(Math.abs(osc.y.data[2 * k + 1] + w * Math.sin(w * t))).toBeLessThan(300 * rtol);
      });
      const lg = odeDormandPrince(logistic, [0.01], 0, 12, { rtol, atol });
      lg.t.forEach((t, k) => {
        expect(Math.abs(lg.y.data[k] - 1 / (1 + 99 * Math.exp(-t)))).toBeLessThan(100 * rtol);
      });
    }
  });

  it("takes fewer steps for looser tolerances, and lands exactly on tEval", () => {
    const loose = odeDormandPrince(oscillator, [1, 0], 0, 5, { rtol: 1e-4 });
    const tight = odeDormandPrince(oscillator, [1, 0], 0, 5, { rtol: 1e-10, atol: 1e-12 });
    expect(loose.stats.accepted).toBeLessThan(tight.stats.accepted);
    const tEval = [0.5, 1, 2.25, 4];
    const r = odeDormandPrince(gaussian, [2], 0, 4, { tEval, rtol: 1e-10, atol: 1e-12 });
    expect(Array.from(r.t)).toEqual([0, ...tEval]);
    tEval.forEach((t, k) =>
      expect(Math.abs(r.y.data[k + 1] - 2 * Math.exp(-t * t))).toBeLessThan(1e-9),
    );
    // Final time not in tEval: not reported, but still integrated to t1.
    const r2 = odeDormandPrince(gaussian, [2], 0, 4, { tEval: [1] });
    expect(Array.from(r2.t)).toEqual([0, 1]);
  });

  it("rejects bad input, naming the argument", () => {
    expect(() => odeDormandPrince(oscillator, [1, 0], 0, 1, { rtol: -1 })).toThrow(
      /odeDormandPrince: argument 'options.rtol'/,
    );
    expect(() => odeDormandPrince(oscillator, [1, 0], 0, 1, { tEval: [0.5, 0.2] })).toThrow(
      /odeDormandPrince: argument 'options.tEval'/,
    );
    expect(() => odeDormandPrince(oscillator, [1, 0], 0, 1, { tEval: [2] })).toThrow(
      /options.tEval/,
    );
    expect(() => odeDormandPrince(oscillator, [1, 0], 0, 1, { tEval: 0.5 as never })).toThrow(
      /odeDormandPrince: argument 'options.tEval' must be an array of finite numbers \(got 0.5\)/,
    );
    expect(() => odeDormandPrince(oscillator, [1, 0], 0, 1, { firstStep: 0 })).toThrow(
      /options.firstStep/,
    );
    expect(() => odeDormandPrince(oscillator, [1, 0], 0, 100, { maxSteps: 3 })).toThrow(
      /options.maxSteps/,
    );
    expect(() => odeDormandPrince((_t, y) => [y[0] * y[0]], [1], 0, 2)).toThrow(/odeDormandPrince/);
  });
});
