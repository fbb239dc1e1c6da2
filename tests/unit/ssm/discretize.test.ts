/**
 * discretize, discretizeDiagonal and discreteStates (lib/src/ssm/discretize.ts): each method
 * against its definition (Ā by Taylor series, ZOH's B̄ by Simpson quadrature, bilinear by its
 * linear system), the measured convergence orders (1, 2, exact), the gate identity, an explicit
 * loop; argument errors.
 */
import { describe, expect, it } from "vitest";
import { rawTensor } from "../../helpers/raw-tensor";
import {
  DISCRETIZATION_METHODS,
  Rng,
  discreteStates,
  discretize,
  discretizeDiagonal,
  tensor,
} from "../../../lib/src/index";
import { phi1 } from "../../../lib/src/ssm/discretize";
import {
  type M,
  add,
  eye,
  maxAbs,
  maxDiff,
  mul,
  randomMatrix,
  rows,
  scale,
  slope,
  taylorExpm as taylorExpmRef,
} from "../../helpers/reference";

/** e^A by its Taylor series (float64), terms summed until their entries drop below 1e-18. */
const taylorExpm = (a: M): M => taylorExpmRef(a, { maxTerms: 100, relative: false });

/** ∫₀^Δ e^{As} ds B by composite Simpson's rule with `intervals` (even) panels. */
function simpsonZohB(a: M, b: M, dt: number, intervals: number): M {
  const h = dt / intervals;
  let acc = scale(b, 0);
  for (let i = 0; i <= intervals; i++) {
    const w = i === 0 || i === intervals ? 1 : i % 2 === 1 ? 4 : 2;
    acc = add(acc, mul(taylorExpm(scale(a, i * h)), b), (w * h) / 3);
  }
  return acc;
}

describe("discretize: each method against its definition", () => {
  const rng = new Rng(21);
  const cases = [1, 2, 3, 5].map((n) => ({
    a: randomMatrix(rng, n, n, 0.8),
    b: randomMatrix(rng, n, 2),
    dt: rng.uniform(0.05, 0.6),
  }));

  it("zoh: Ā = e^{ΔA} (Taylor) and B̄ = ∫₀^Δ e^{As} ds B (Simpson, 200 panels), tol 1e-12", () => {
    for (const { a, b, dt } of cases) {
      const { Abar, Bbar } = discretize(tensor(a), tensor(b), dt, "zoh");
      expect(maxDiff(rows(Abar), taylorExpm(scale(a, dt)))).toBeLessThan(1e-13);
      expect(maxDiff(rows(Bbar), simpsonZohB(a, b, dt, 200))).toBeLessThan(1e-12);
    }
  });

  it("zoh works for singular A: A = 0 gives B̄ = ΔB; a nilpotent A gives Δ(I + ΔA/2)B", () => {
    const b = [[1], [2]];
    const zero = discretize(
      tensor([
        [0, 0],
        [0, 0],
      ]),
      tensor(b),
      0.3,
      "zoh",
    );
    expect(maxDiff(rows(zero.Abar), eye(2))).toBe(0);
    expect(maxDiff(rows(zero.Bbar), scale(b, 0.3))).toBeLessThan(1e-16);
    const nil = [
      [0, 1],
      [0, 0],
    ];
    const r = discretize(tensor(nil), tensor(b), 0.3, "zoh");
    expect(maxDiff(rows(r.Bbar), mul(add(scale(eye(2), 0.3), scale(nil, 0.045)), b))).toBeLessThan(
      1e-15,
    );
  });

  it("bilinear: (I − Δ/2 A) Ā = I + Δ/2 A and (I − Δ/2 A) B̄ = ΔB, tol 1e-13", () => {
    for (const { a, b, dt } of cases) {
      const { Abar, Bbar } = discretize(tensor(a), tensor(b), dt, "bilinear");
      const left = add(eye(a.length), a, -dt / 2);
      expect(maxDiff(mul(left, rows(Abar)), add(eye(a.length), a, dt / 2))).toBeLessThan(1e-13);
      expect(maxDiff(mul(left, rows(Bbar)), scale(b, dt))).toBeLessThan(1e-13);
    }
  });

  it("euler: Ā = I + ΔA, B̄ = ΔB; mamba: Ā = e^{ΔA}, B̄ = ΔB", () => {
    for (const { a, b, dt } of cases) {
      const e = discretize(tensor(a), tensor(b), dt, "euler");
      expect(maxDiff(rows(e.Abar), add(eye(a.length), a, dt))).toBeLessThan(1e-15);
      expect(maxDiff(rows(e.Bbar), scale(b, dt))).toBeLessThan(1e-15);
      const m = discretize(tensor(a), tensor(b), dt, "mamba");
      expect(maxDiff(rows(m.Abar), taylorExpm(scale(a, dt)))).toBeLessThan(1e-13);
      expect(maxDiff(rows(m.Bbar), scale(b, dt))).toBeLessThan(1e-15);
    }
  });

  it("accepts B as a vector (n) and returns B̄ (n); keeps float32 when A and B are float32", () => {
    const r = discretize(
      tensor([
        [-1, 0],
        [0, -2],
      ]),
      tensor([1, 1]),
      0.1,
      "zoh",
    );
    expect(r.Bbar.shape).toEqual([2]);
    const f = discretize(tensor([[-1]], "float32"), tensor([[1]], "float32"), 0.1, "bilinear");
    expect(f.Abar.data).toBeInstanceOf(Float32Array);
    expect(f.Bbar.data).toBeInstanceOf(Float32Array);
    expect(
      discretize(tensor([[-1]], "float32"), tensor([[1]]), 0.1, "zoh").Abar.data,
    ).toBeInstanceOf(Float64Array);
  });
});

describe("discretizeDiagonal", () => {
  it("matches the dense version on diag(a) for every method (tol 1e-13)", () => {
    const rng = new Rng(22);
    const a = [-3, -1, -0.2, 0, 0.4];
    const b = randomMatrix(rng, 5, 3);
    const dense = a.map((v, i) => a.map((_, j) => (i === j ? v : 0)));
    for (const method of DISCRETIZATION_METHODS) {
      const d = discretizeDiagonal(tensor(a), tensor(b), 0.37, method);
      const D = discretize(tensor(dense), tensor(b), 0.37, method);
      expect(d.Abar.shape).toEqual([5]);
      a.forEach((_, i) =>
        expect(Math.abs(d.Abar.data[i] - D.Abar.data[i * 5 + i])).toBeLessThan(1e-13),
      );
      expect(maxDiff(rows(d.Bbar), rows(D.Bbar))).toBeLessThan(1e-13);
    }
  });

  it("zoh closed form b̄ = (e^{Δa} − 1)/a · b, with limit Δ·b at a = 0 and no cancellation for tiny a", () => {
    const dt = 0.5;
    const r = discretizeDiagonal(tensor([-2, 0, 1e-12]), tensor([3, 3, 3]), dt, "zoh");
    expect(r.Bbar.data[0]).toBeCloseTo((3 * (Math.exp(-1) - 1)) / -2, 15);
    expect(r.Bbar.data[1]).toBe(3 * dt);
    // Series: Δ(1 + Δa/2 + ...) b, exact to float64 for a = 1e-12.
    expect(Math.abs(r.Bbar.data[2] - 3 * dt * (1 + (dt * 1e-12) / 2))).toBeLessThan(1e-15);
    expect(phi1(0)).toBe(1);
    expect(phi1(-1)).toBeCloseTo(1 - Math.exp(-1), 15);
  });

  it("the gate identity: N = 1, A = −1, B = 1 under ZOH is h_k = (1 − g) h_{k−1} + g x_k, g = 1 − e^{−Δ}", () => {
    for (const dt of [1e-6, 0.01, 0.3, 1, 5, 40]) {
      // 1 − e^{−Δ} without cancellation for tiny Δ.
      const g = -Math.expm1(-dt);
      const { Abar, Bbar } = discretizeDiagonal(tensor([-1]), tensor([1]), dt, "zoh");
      expect(Math.abs(Abar.data[0] - (1 - g))).toBeLessThan(1e-15);
      expect(Math.abs(Bbar.data[0] - g)).toBeLessThanOrEqual(2e-16 * g);
      // Ā + B̄ = 1: the state is a convex combination of the old state and the input.
      expect(Math.abs(Abar.data[0] + Bbar.data[0] - 1)).toBeLessThan(1e-15);
    }
    // With a per-step Δ_k, the recurrence is a gated average: check one run step by step.
    const deltas = [0.01, 3, 0.5, 10, 1e-3];
    const xs = [1, -2, 0.5, 4, 7];
    let h = 0.25;
    let ref = 0.25;
    deltas.forEach((dt, k) => {
      const { Abar, Bbar } = discretizeDiagonal(tensor([-1]), tensor([1]), dt, "zoh");
      h = Abar.data[0] * h + Bbar.data[0] * xs[k];
      const g = 1 - Math.exp(-dt);
      ref = (1 - g) * ref + g * xs[k];
      expect(Math.abs(h - ref)).toBeLessThan(1e-14);
    });
  });
});

describe("discreteStates", () => {
  it("runs h_k = Ā h_{k−1} + B̄ x_k from h0 (dense and diagonal Ā), matching an explicit loop", () => {
    const rng = new Rng(23);
    const A = randomMatrix(rng, 3, 3, 0.5);
    const B = randomMatrix(rng, 3, 2);
    const X = randomMatrix(rng, 7, 2);
    const h0 = [1, -1, 0.5];
    const got = rows(discreteStates(tensor(A), tensor(B), tensor(X), tensor(h0)));
    let h = h0.map((v) => [v]);
    X.forEach((x, k) => {
      h = add(
        mul(A, h),
        mul(
          B,
          x.map((v) => [v]),
        ),
      );
      expect(
        maxAbs(
          add(
            h.map((r) => [r[0]]),
            got[k].map((v) => [v]),
            -1,
          ),
        ),
      ).toBeLessThan(1e-14);
    });
    const diag = [0.9, -0.5, 0.1];
    const gotD = rows(discreteStates(tensor(diag), tensor(B), tensor(X)));
    const dense = diag.map((v, i) => diag.map((_, j) => (i === j ? v : 0)));
    expect(maxDiff(gotD, rows(discreteStates(tensor(dense), tensor(B), tensor(X))))).toBeLessThan(
      1e-15,
    );
  });

  it("rejects mismatched shapes, naming the argument", () => {
    expect(() =>
      discreteStates(
        tensor([
          [1, 0],
          [0, 1],
        ]),
        tensor([[1], [1]]),
        tensor([[1, 2]]),
      ),
    ).toThrow(/discreteStates: argument 'x'/);
    expect(() => discreteStates(tensor([0.5]), tensor([[1], [1]]), tensor([1]))).toThrow(
      /discreteStates: argument 'Bbar' must be a tensor of shape \[1, m\] or \[1\]/,
    );
    expect(() => discreteStates(tensor([0.5]), tensor([1]), tensor([1]), tensor([1, 2]))).toThrow(
      /discreteStates: argument 'h0'/,
    );
  });
});

/**
 * The convergence experiment: a damped spring driven by an input that is constant on intervals of
 * length 0.5, simulated to T = 8 with Δ = 0.5 / 2^j. Reference: a fine RK4 written here
 * (independent of lib), 2000 steps per 0.5 interval (error ~ 1e-13).
 */
describe("discretize: measured convergence orders", () => {
  const w = 2;
  const z = 0.3;
  const A = [
    [0, 1],
    [-w * w, -2 * z * w],
  ];
  const B = [[0], [w * w]];
  const hold = 0.5;
  const T = 8;
  const levels = Array.from(
    { length: T / hold },
    (_, k) => Math.sin(1.3 * k) + 0.5 * Math.cos(0.7 * k * k),
  );

  /** Exact-to-~1e-13 states at the hold boundaries t = 0.5, 1, ..., 8 (RK4 written here). */
  const reference = (() => {
    const f = (h: number[], x: number): number[] => [
      A[0][0] * h[0] + A[0][1] * h[1] + B[0][0] * x,
      A[1][0] * h[0] + A[1][1] * h[1] + B[1][0] * x,
    ];
    const steps = 2000;
    const s = hold / steps;
    let h = [0, 0];
    const out: number[][] = [];
    for (const x of levels) {
      for (let i = 0; i < steps; i++) {
        const k1 = f(h, x);
        const k2 = f([h[0] + (s / 2) * k1[0], h[1] + (s / 2) * k1[1]], x);
        const k3 = f([h[0] + (s / 2) * k2[0], h[1] + (s / 2) * k2[1]], x);
        const k4 = f([h[0] + s * k3[0], h[1] + s * k3[1]], x);
        h = h.map((v, j) => v + (s / 6) * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]));
      }
      out.push(h);
    }
    return out;
  })();

  const errorAt = (method: "zoh" | "bilinear" | "euler", dt: number): number => {
    const perHold = Math.round(hold / dt);
    const x = levels.flatMap((v) => new Array(perHold).fill(v));
    const { Abar, Bbar } = discretize(tensor(A), tensor(B), dt, method);
    const h = rows(discreteStates(Abar, Bbar, tensor(x)));
    let e = 0;
    reference.forEach((r, k) => {
      const hk = h[(k + 1) * perHold - 1];
      e = Math.max(e, Math.abs(hk[0] - r[0]), Math.abs(hk[1] - r[1]));
    });
    return e;
  };

  const dts = [6, 7, 8, 9, 10].map((j) => hold / 2 ** j);

  it("euler converges with order 1 (slope 1 ± 0.1)", () => {
    expect(
      Math.abs(
        slope(
          dts,
          dts.map((dt) => errorAt("euler", dt)),
        ) - 1,
      ),
    ).toBeLessThan(0.1);
  });

  it("bilinear converges with order 2 (slope 2 ± 0.15)", () => {
    expect(
      Math.abs(
        slope(
          dts,
          dts.map((dt) => errorAt("bilinear", dt)),
        ) - 2,
      ),
    ).toBeLessThan(0.15);
  });

  it("zoh is exact for piecewise-constant input at every step size (error < 1e-11)", () => {
    for (const dt of [0.5, 0.25, ...dts]) expect(errorAt("zoh", dt)).toBeLessThan(1e-11);
  });
});

describe("discretize: bad input", () => {
  const A = tensor([
    [-1, 0],
    [0, -2],
  ]);
  const B = tensor([[1], [1]]);
  it("rejects dt <= 0 or not finite, naming dt", () => {
    for (const dt of [0, -1, NaN, Infinity]) {
      expect(() => discretize(A, B, dt, "zoh")).toThrow(
        /discretize: argument 'dt' must be a positive finite number/,
      );
      expect(() => discretizeDiagonal(tensor([-1]), tensor([1]), dt, "zoh")).toThrow(
        /discretizeDiagonal: argument 'dt'/,
      );
    }
    expect(() => discretize(A, B, "0.1" as never, "zoh")).toThrow(/discretize: argument 'dt'/);
  });
  it("rejects non-square A, mismatched B, non-finite values and unknown methods", () => {
    expect(() => discretize(tensor([[1, 2, 3]]), B, 0.1, "zoh")).toThrow(
      /discretize: argument 'A' must be a square/,
    );
    expect(() => discretize(A, tensor([[1], [1], [1]]), 0.1, "zoh")).toThrow(
      /discretize: argument 'B' must be a tensor of shape \[2, m\]/,
    );
    expect(() =>
      discretize(
        rawTensor([
          [NaN, 0],
          [0, 1],
        ]),
        B,
        0.1,
        "zoh",
      ),
    ).toThrow(/discretize: argument 'A'.*finite/);
    expect(() => discretize(A, rawTensor([[Infinity], [1]]), 0.1, "zoh")).toThrow(
      /discretize: argument 'B'.*finite/,
    );
    expect(() => discretize(A, B, 0.1, "rk4" as never)).toThrow(
      /discretize: argument 'method' must be one of "zoh"/,
    );
    expect(() => discretizeDiagonal(tensor([[-1]]), tensor([1]), 0.1, "zoh")).toThrow(
      /discretizeDiagonal: argument 'a'/,
    );
    expect(() => discretizeDiagonal(tensor([-1]), tensor([1, 2]), 0.1, "zoh")).toThrow(
      /discretizeDiagonal: argument 'B'/,
    );
    expect(() => discretizeDiagonal(tensor([-1]), tensor([1]), 0.1, "tustin" as never)).toThrow(
      /discretizeDiagonal: argument 'method'/,
    );
  });
  it("rejects bilinear when I − Δ/2·A is singular (an eigenvalue at 2/Δ)", () => {
    expect(() => discretize(tensor([[4]]), tensor([[1]]), 0.5, "bilinear")).toThrow(
      /discretize: argument 'A' must be a matrix with I − Δ\/2·A nonsingular.*\(got I − Δ\/2·A singular for dt = 0\.5/,
    );
    expect(() => discretizeDiagonal(tensor([4]), tensor([1]), 0.5, "bilinear")).toThrow(
      /discretizeDiagonal: argument 'a' must be a diagonal with Δ·a_i ≠ 2.*\(got Δ·a\[0\] = 2/,
    );
  });
});
