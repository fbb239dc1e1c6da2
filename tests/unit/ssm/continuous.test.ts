/**
 * The continuous SSMs of lib/src/ssm/continuous.ts: impulse and step responses against closed forms
 * (leaky integrator, damped spring), stability from the eigenvalues, simulateExact against a second
 * algorithm (odeDormandPrince, tested in ode.test.ts), RK4's order 4, multi-input systems, argument
 * errors.
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import {
  type ContinuousSSM,
  dampedSpring,
  freeResponse,
  impulseResponse,
  leakyIntegrator,
  odeDormandPrince,
  simulateAdaptive,
  simulateExact,
  simulateRk4,
  ssmVectorField,
  stability,
  stepResponse,
  tensor,
} from "../../../lib/src/index";

/** Closed forms of the underdamped spring q'' + 2ζω q' + ω² q = ω² x (0 < ζ < 1). */
function springClosedForms(w: number, z: number) {
  const wd = w * Math.sqrt(1 - z * z);
  return {
    impulse: (t: number) => ((w * w) / wd) * Math.exp(-z * w * t) * Math.sin(wd * t),
    step: (t: number) =>
      1 - Math.exp(-z * w * t) * (Math.cos(wd * t) + (z / Math.sqrt(1 - z * z)) * Math.sin(wd * t)),
  };
}

const ts = Array.from({ length: 41 }, (_, k) => k * 0.25);

describe("worked systems: impulse and step responses against closed forms", () => {
  it("leaky integrator: impulse e^{−t/τ}/τ, step 1 − e^{−t/τ} (tol 1e-14)", () => {
    for (const tau of [0.3, 1, 4]) {
      const ssm = leakyIntegrator(tau);
      const imp = impulseResponse(ssm, ts);
      const stp = stepResponse(ssm, ts);
      expect(imp.shape).toEqual([ts.length, 1, 1]);
      ts.forEach((t, k) => {
        expect(Math.abs(imp.data[k] - Math.exp(-t / tau) / tau)).toBeLessThan(1e-14);
        expect(Math.abs(stp.data[k] - (1 - Math.exp(-t / tau)))).toBeLessThan(1e-14);
      });
    }
  });

  it("damped spring (ζ = 0.1, 0.5; ω = 2): impulse and step responses (tol 1e-12)", () => {
    for (const z of [0.1, 0.5]) {
      const w = 2;
      const ssm = dampedSpring(w, z);
      const cf = springClosedForms(w, z);
      const imp = impulseResponse(ssm, ts);
      const stp = stepResponse(ssm, ts);
      ts.forEach((t, k) => {
        expect(Math.abs(imp.data[k] - cf.impulse(t))).toBeLessThan(1e-12);
        expect(Math.abs(stp.data[k] - cf.step(t))).toBeLessThan(1e-12);
      });
    }
  });

  it("step response includes the feedthrough D, and is the integral of the impulse response", () => {
    const ssm: ContinuousSSM = { ...dampedSpring(1.5, 0.3), D: tensor([[0.25]]) };
    const s = stepResponse(ssm, [0, 2]);
    expect(s.data[0]).toBeCloseTo(0.25, 15);
    // ∫₀² impulse by Simpson (400 panels) + D.
    const n = 400;
    const grid = Array.from({ length: n + 1 }, (_, i) => (2 * i) / n);
    const imp = impulseResponse(ssm, grid).data;
    let integral = 0;
    grid.forEach((_, i) => (integral += (i === 0 || i === n ? 1 : i % 2 ? 4 : 2) * imp[i]));
    integral *= 2 / n / 3;
    expect(Math.abs(s.data[1] - (integral + 0.25))).toBeLessThan(1e-10);
  });

  it("freeResponse of the rotation generator is a rotation of h0", () => {
    const h = freeResponse(
      tensor([
        [0, -1],
        [1, 0],
      ]),
      tensor([1, 0]),
      [0, 1, Math.PI],
    );
    expect(h.data[2]).toBeCloseTo(Math.cos(1), 14);
    expect(h.data[3]).toBeCloseTo(Math.sin(1), 14);
    expect(h.data[4]).toBeCloseTo(-1, 14);
  });
});

describe("stability from the eigenvalues of A", () => {
  it("the spring's eigenvalues are −ζω ± iω√(1−ζ²); stable iff ζ > 0", () => {
    const w = 2;
    for (const z of [0.5, 0.05, 0, -0.05]) {
      const s = stability(dampedSpring(w, z).A);
      expect(s.re[0]).toBeCloseTo(-z * w, 13);
      expect(Math.abs(s.im[0])).toBeCloseTo(w * Math.sqrt(1 - z * z), 13);
      expect(s.stable).toBe(z > 0);
    }
  });

  it("an unstable system's free response grows like e^{αt} with α the spectral abscissa", () => {
    const A = tensor([
      [0.3, 0],
      [0, -1],
    ]);
    const s = stability(A);
    expect(s.spectralAbscissa).toBeCloseTo(0.3, 15);
    const h = freeResponse(A, tensor([1, 1]), [10]);
    expect(h.data[0]).toBeCloseTo(Math.exp(3), 10);
  });
});

describe("simulation of piecewise-constant input: exact, RK4 and adaptive agree", () => {
  const ssm = dampedSpring(2, 0.2);
  const L = 60;
  const dt = 0.1;
  const x = tensor(Array.from({ length: L }, (_, k) => (Math.floor(k / 10) % 2 === 0 ? 1 : -0.5)));
  const h0 = tensor([0.3, -0.2]);

  it("simulateExact matches an independent Dormand–Prince solve of the ODE (tol 1e-9)", () => {
    const exact = simulateExact(ssm, x, dt, h0);
    let h: ArrayLike<number> = h0.data;
    for (let k = 0; k < L; k++) {
      const xk = x.data[k];
      const sol = odeDormandPrince(
        ssmVectorField(ssm, () => xk),
        h,
        k * dt,
        (k + 1) * dt,
        {
          rtol: 1e-12,
          atol: 1e-14,
        },
      );
      h = sol.y.data.slice(sol.y.data.length - 2);
      expect(Math.abs(exact.h.data[2 * k] - h[0])).toBeLessThan(1e-9);
      expect(Math.abs(exact.h.data[2 * k + 1] - h[1])).toBeLessThan(1e-9);
    }
    expect(exact.t[0]).toBeCloseTo(dt, 15);
    expect(exact.y.shape).toEqual([L, 1]);
    // y = C h = the position.
    for (let k = 0; k < L; k++) expect(exact.y.data[k]).toBe(exact.h.data[2 * k]);
  });

  it("simulateRk4 converges to the exact solution with order 4; simulateAdaptive within its tolerance", () => {
    const exact = simulateExact(ssm, x, dt, h0);
    const errs = [1, 2, 4, 8].map((substeps) => {
      const r = simulateRk4(ssm, x, dt, { substeps, h0 });
      return Math.max(...Array.from(r.h.data, (v, i) => Math.abs(v - exact.h.data[i])));
    });
    // Halving the step divides the error by ~2⁴ = 16.
    for (let i = 1; i < errs.length; i++) {
      const ratio = errs[i - 1] / errs[i];
      expect(ratio).toBeGreaterThan(12);
      expect(ratio).toBeLessThan(20);
    }
    const ad = simulateAdaptive(ssm, x, dt, { h0 });
    const errAd = Math.max(...Array.from(ad.h.data, (v, i) => Math.abs(v - exact.h.data[i])));
    expect(errAd).toBeLessThan(1e-8);
    expect(ad.evaluations).toBeGreaterThan(0);
  });

  it("a multi-input, multi-output system: outputs are C h + D x", () => {
    const mimo: ContinuousSSM = {
      A: tensor([
        [-1, 0.5],
        [0, -2],
      ]),
      B: tensor([
        [1, 0],
        [0.5, 1],
      ]),
      C: tensor([
        [1, 1],
        [0, 2],
        [1, -1],
      ]),
      D: tensor([
        [0, 1],
        [1, 0],
        [0.5, 0.5],
      ]),
    };
    const xs = tensor([
      [1, 0],
      [0, 1],
      [2, -1],
    ]);
    const r = simulateExact(mimo, xs, 0.2);
    expect(r.y.shape).toEqual([3, 3]);
    for (let k = 0; k < 3; k++) {
      const [h1, h2] = [r.h.data[2 * k], r.h.data[2 * k + 1]];
      const [x1, x2] = [xs.data[2 * k], xs.data[2 * k + 1]];
      expect(r.y.data[3 * k]).toBeCloseTo(h1 + h2 + x2, 14);
      expect(r.y.data[3 * k + 1]).toBeCloseTo(2 * h2 + x1, 14);
      expect(r.y.data[3 * k + 2]).toBeCloseTo(h1 - h2 + 0.5 * x1 + 0.5 * x2, 14);
    }
  });
});

describe("continuous SSM: bad input", () => {
  const ssm = dampedSpring(1, 0.2);
  it("rejects inconsistent systems, naming the matrix", () => {
    expect(() => simulateExact({ ...ssm, A: tensor([[1, 2, 3]]) }, tensor([1]), 0.1)).toThrow(
      /simulateExact: argument 'ssm.A'/,
    );
    expect(() => simulateExact({ ...ssm, B: tensor([[1], [2], [3]]) }, tensor([1]), 0.1)).toThrow(
      /simulateExact: argument 'ssm.B'/,
    );
    expect(() => simulateExact({ ...ssm, C: tensor([[1, 2, 3]]) }, tensor([1]), 0.1)).toThrow(
      /simulateExact: argument 'ssm.C'/,
    );
    expect(() => simulateExact({ ...ssm, D: tensor([[1, 2]]) }, tensor([1]), 0.1)).toThrow(
      /simulateExact: argument 'ssm.D'/,
    );
    expect(() =>
      simulateExact(
        {
          ...ssm,
          A: rawTensor([
            [NaN, 0],
            [0, 1],
          ]),
        },
        tensor([1]),
        0.1,
      ),
    ).toThrow(/simulateExact: argument 'ssm.A'.*finite/);
  });
  it("rejects bad inputs, steps, times and parameters", () => {
    expect(() => simulateExact(ssm, tensor([[1, 2]]), 0.1)).toThrow(/simulateExact: argument 'x'/);
    expect(() => simulateExact(ssm, tensor([1]), 0)).toThrow(/simulateExact: argument 'dt'/);
    expect(() => simulateExact(ssm, tensor([1]), 0.1, tensor([1]))).toThrow(
      /simulateExact: argument 'h0'/,
    );
    expect(() => simulateRk4(ssm, tensor([1]), 0.1, { substeps: 0 })).toThrow(
      /simulateRk4: argument 'options.substeps'/,
    );
    expect(() => simulateAdaptive(ssm, rawTensor([NaN]), 0.1)).toThrow(
      /simulateAdaptive: argument 'x'/,
    );
    expect(() => impulseResponse(ssm, [0, -1])).toThrow(/impulseResponse: argument 't'/);
    expect(() => stepResponse(ssm, [NaN])).toThrow(/stepResponse: argument 't'/);
    expect(() => leakyIntegrator(0)).toThrow(/leakyIntegrator: argument 'tau'/);
    expect(() => dampedSpring(-1, 0.1)).toThrow(/dampedSpring: argument 'omega'/);
    expect(() => dampedSpring(1, NaN)).toThrow(/dampedSpring: argument 'zeta'/);
    expect(() => ssmVectorField(ssm, 3 as never)).toThrow(/ssmVectorField: argument 'x'/);
  });
});
