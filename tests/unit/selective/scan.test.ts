import { describe, expect, it } from "vitest";
import { relErr as sharedRelErr } from "../../helpers/reference";
import {
  Rng,
  type Tensor,
  aFromLog,
  causalConv,
  initALog,
  initDtBias,
  initS6,
  inverseSoftplus,
  logUniformDt,
  s6,
  s6Project,
  selectiveScan,
  selectiveScanMatrix,
  selectiveStateUpdate,
  sigmoid,
  silu,
  softplus,
  ssmKernel,
} from "../../../lib/src/index";

/**
 * An independent float64 reference written differently from lib: it materialises Ā = exp(ΔA) and
 * ΔB·u as full (b, d, l, n) arrays first, indexes B and C through a lookup function, and only then
 * runs the recurrence.
 */
interface RefArgs {
  u: Tensor;
  delta: Tensor;
  A: Tensor;
  B: Tensor;
  C: Tensor;
  D?: Tensor;
  z?: Tensor;
  deltaBias?: Tensor;
  deltaSoftplus?: boolean;
}
function referenceScan(a: RefArgs): { out: Float64Array; last: Float64Array } {
  const [nb, nd, nl] = a.u.shape;
  const nn = a.A.shape[1];
  const at = (t: Tensor, ...idx: number[]): number => {
    let flat = 0;
    for (let i = 0; i < idx.length; i++) flat = flat * t.shape[i] + idx[i];
    return t.data[flat];
  };
  const matrix = (M: Tensor, b: number, d: number, n: number, l: number): number => {
    if (M.shape.length === 2) return at(M, d, n);
    if (M.shape.length === 3) return at(M, b, n, l);
    const groups = M.shape[1];
    return at(M, b, Math.floor((d * groups) / nd), n, l);
  };
  const sp = (x: number): number => (x > 30 ? x : Math.log(1 + Math.exp(x)));
  const dt = (b: number, d: number, l: number): number => {
    const v = at(a.delta, b, d, l) + (a.deltaBias ? at(a.deltaBias, d) : 0);
    return a.deltaSoftplus ? sp(v) : v;
  };
  const size = nb * nd * nl * nn;
  const dA = new Float64Array(size);
  const dBu = new Float64Array(size);
  const idx = (b: number, d: number, l: number, n: number): number =>
    ((b * nd + d) * nl + l) * nn + n;
  for (let b = 0; b < nb; b++)
    for (let d = 0; d < nd; d++)
      for (let l = 0; l < nl; l++)
        for (let n = 0; n < nn; n++) {
          dA[idx(b, d, l, n)] = Math.exp(dt(b, d, l) * at(a.A, d, n));
          dBu[idx(b, d, l, n)] = dt(b, d, l) * matrix(a.B, b, d, n, l) * at(a.u, b, d, l);
        }
  const out = new Float64Array(nb * nd * nl);
  const last = new Float64Array(nb * nd * nn);
  const x = new Float64Array(nb * nd * nn);
  for (let l = 0; l < nl; l++) {
    for (let b = 0; b < nb; b++)
      for (let d = 0; d < nd; d++) {
        let y = 0;
        for (let n = 0; n < nn; n++) {
          const s = (b * nd + d) * nn + n;
          x[s] = dA[idx(b, d, l, n)] * x[s] + dBu[idx(b, d, l, n)];
          y += x[s] * matrix(a.C, b, d, n, l);
        }
        if (a.D) y += at(a.u, b, d, l) * at(a.D, d);
        if (a.z) {
          const zz = at(a.z, b, d, l);
          y *= zz / (1 + Math.exp(-zz));
        }
        out[(b * nd + d) * nl + l] = y;
      }
  }
  last.set(x);
  return { out, last };
}

/** A purely relative error (no floor of 1: these outputs are compared at their own scale). */
const relErr = (got: ArrayLike<number>, want: ArrayLike<number>): number =>
  sharedRelErr(got, want, 1e-300);

type Layout = "variable" | "time-invariant" | "grouped";

function randomCase(
  rng: Rng,
  opts: { layout: Layout; D: boolean; z: boolean; bias: boolean; softplus: boolean },
) {
  const b = 1 + rng.int(3);
  const groups = 1 + rng.int(2);
  const d = groups * (1 + rng.int(3));
  const l = rng.int(17);
  const n = 1 + rng.int(6);
  const matrix = (): Tensor =>
    opts.layout === "variable"
      ? rng.randn([b, n, l])
      : opts.layout === "grouped"
        ? rng.randn([b, groups, n, l])
        : rng.randn([d, n]);
  const args: RefArgs = {
    u: rng.randn([b, d, l]),
    // Raw deltas: positive when used directly, any sign before a softplus.
    delta: opts.softplus ? rng.randn([b, d, l]) : rng.rand([b, d, l], 0.01, 1),
    A: aFromLog(rng.randn([d, n], 0.5)),
    B: matrix(),
    C: matrix(),
  };
  if (opts.D) args.D = rng.randn([d]);
  if (opts.z) args.z = rng.randn([b, d, l]);
  if (opts.bias) args.deltaBias = rng.rand([d], 0, 0.5);
  if (opts.softplus) args.deltaSoftplus = true;
  return args;
}

describe("selectiveScan", () => {
  it("matches an independent materialising float64 reference on random shapes, with and without D, z, deltaBias, deltaSoftplus, for every B/C layout", () => {
    const rng = new Rng(1);
    let cases = 0;
    for (const layout of ["variable", "time-invariant", "grouped"] as Layout[]) {
      for (let mask = 0; mask < 16; mask++) {
        const opts = {
          layout,
          D: !!(mask & 1),
          z: !!(mask & 2),
          bias: !!(mask & 4),
          softplus: !!(mask & 8),
        };
        for (let rep = 0; rep < 2; rep++) {
          const args = randomCase(rng, opts);
          const ref = referenceScan(args);
          const got = selectiveScan({ ...args, returnLastState: true });
          expect(got.out.shape).toEqual(args.u.shape);
          expect(got.out.data).toBeInstanceOf(Float64Array);
          expect(got.lastState!.shape).toEqual([args.u.shape[0], args.u.shape[1], args.A.shape[1]]);
          if (ref.out.length > 0) expect(relErr(got.out.data, ref.out)).toBeLessThan(1e-12);
          if (ref.last.length > 0)
            expect(relErr(got.lastState!.data, ref.last)).toBeLessThan(1e-12);
          cases++;
        }
      }
    }
    expect(cases).toBe(96);
  });

  it("does not return lastState unless asked", () => {
    const args = randomCase(new Rng(2), {
      layout: "variable",
      D: false,
      z: false,
      bias: false,
      softplus: false,
    });
    expect(selectiveScan(args).lastState).toBeUndefined();
  });

  it("accepts float32 inputs, returns u's dtype, and agrees with the float64 reference to float32 rounding", () => {
    const rng = new Rng(3);
    for (let rep = 0; rep < 5; rep++) {
      const f32 = (t: Tensor): Tensor => ({ shape: t.shape, data: Float32Array.from(t.data) });
      const base = randomCase(rng, {
        layout: "variable",
        D: true,
        z: true,
        bias: true,
        softplus: true,
      });
      const a32 = {
        ...base,
        u: f32(base.u),
        delta: f32(base.delta),
        B: f32(base.B),
        C: f32(base.C),
        z: f32(base.z!),
      };
      // The reference sees exactly the float32-rounded values, in float64.
      const ref = referenceScan(a32);
      const got = selectiveScan({ ...a32, returnLastState: true });
      expect(got.out.data).toBeInstanceOf(Float32Array);
      expect(got.lastState!.data).toBeInstanceOf(Float32Array);
      if (ref.out.length > 0) expect(relErr(got.out.data, ref.out)).toBeLessThan(1e-6);
    }
  });

  it("N = 1 gate identity: with A = -1, Δ = -log(1 - g) and B = g / Δ, the scan is h_t = (1 - g_t) h_{t-1} + g_t u_t", () => {
    const rng = new Rng(4);
    const L = 50;
    const g = Array.from({ length: L }, () => rng.uniform(0.01, 0.99));
    const u = Array.from({ length: L }, () => rng.normal());
    const delta = g.map((gi) => -Math.log(1 - gi));
    const out = selectiveScan({
      u: { shape: [1, 1, L], data: Float64Array.from(u) },
      delta: { shape: [1, 1, L], data: Float64Array.from(delta) },
      A: { shape: [1, 1], data: Float64Array.of(-1) },
      B: { shape: [1, 1, L], data: Float64Array.from(g.map((gi, i) => gi / delta[i])) },
      C: { shape: [1, 1, L], data: new Float64Array(L).fill(1) },
    }).out.data;
    let h = 0;
    for (let t = 0; t < L; t++) {
      h = (1 - g[t]) * h + g[t] * u[t];
      expect(Math.abs(out[t] - h)).toBeLessThan(1e-13);
    }
  });

  it("LTI special case: Δ, B, C constant over time equals ssmKernel + causalConv (both B/C layouts)", () => {
    const rng = new Rng(5);
    const [b, d, l, n] = [2, 3, 40, 4];
    const A = aFromLog(rng.randn([d, n], 0.5));
    const Bdn = rng.randn([d, n]);
    const Cdn = rng.randn([d, n]);
    const dt = rng.rand([d], 0.05, 0.5);
    const u = rng.randn([b, d, l]);
    const delta: Tensor = { shape: [b, d, l], data: new Float64Array(b * d * l) };
    for (let i = 0; i < delta.data.length; i++) delta.data[i] = dt.data[Math.floor(i / l) % d];
    // Per-channel diagonal discrete system: Ā = diag(exp(ΔA)), B̄ = ΔB, kernel K_j = C Ā^j B̄.
    const Abar = new Float64Array(d * n * n);
    const Bbar = new Float64Array(d * n);
    for (let c = 0; c < d; c++)
      for (let i = 0; i < n; i++) {
        Abar[c * n * n + i * n + i] = Math.exp(dt.data[c] * A.data[c * n + i]);
        Bbar[c * n + i] = dt.data[c] * Bdn.data[c * n + i];
      }
    const K = ssmKernel({ shape: [d, n, n], data: Abar }, { shape: [d, n], data: Bbar }, Cdn, l);
    const conv = causalConv(u, K);
    const timeInvariant = selectiveScan({ u, delta, A, B: Bdn, C: Cdn }).out;
    expect(relErr(timeInvariant.data, conv.data)).toBeLessThan(1e-12);
    // The same with B, C given per position (b, n, l) but constant, which needs d = 1 per call.
    for (let c = 0; c < d; c++) {
      const pick = (t: Tensor): Tensor => {
        const out = new Float64Array(b * l);
        for (let bb = 0; bb < b; bb++)
          out.set(t.data.subarray((bb * d + c) * l, (bb * d + c + 1) * l), bb * l);
        return { shape: [b, 1, l], data: out };
      };
      const spread = (M: Tensor): Tensor => {
        const out = new Float64Array(b * n * l);
        for (let bb = 0; bb < b; bb++)
          for (let i = 0; i < n; i++)
            out.fill(M.data[c * n + i], (bb * n + i) * l, (bb * n + i + 1) * l);
        return { shape: [b, n, l], data: out };
      };
      const got = selectiveScan({
        u: pick(u),
        delta: pick(delta),
        A: { shape: [1, n], data: A.data.slice(c * n, (c + 1) * n) },
        B: spread(Bdn),
        C: spread(Cdn),
      }).out;
      expect(relErr(got.data, pick(conv).data)).toBeLessThan(1e-12);
    }
  });

  it("running selectiveStateUpdate position by position reproduces out and lastState", () => {
    const rng = new Rng(6);
    const args = randomCase(rng, {
      layout: "variable",
      D: true,
      z: true,
      bias: true,
      softplus: true,
    });
    const [b, d, l] = args.u.shape;
    const n = args.A.shape[1];
    const full = selectiveScan({ ...args, returnLastState: true });
    let state: Tensor = { shape: [b, d, n], data: new Float64Array(b * d * n) };
    const col = (t: Tensor, i: number): Tensor => {
      const out = new Float64Array(t.data.length / t.shape[t.shape.length - 1]);
      for (let r = 0; r < out.length; r++) out[r] = t.data[r * l + i];
      return { shape: t.shape.slice(0, -1), data: out };
    };
    for (let i = 0; i < l; i++) {
      const step = selectiveStateUpdate({
        state,
        x: col(args.u, i),
        dt: col(args.delta, i),
        A: args.A,
        B: col(args.B, i),
        C: col(args.C, i),
        D: args.D,
        z: col(args.z!, i),
        dtBias: args.deltaBias,
        dtSoftplus: true,
      });
      state = step.state;
      for (let r = 0; r < b * d; r++)
        expect(step.out.data[r]).toBeCloseTo(full.out.data[r * l + i], 12);
    }
    expect(relErr(state.data, full.lastState!.data)).toBeLessThan(1e-12);
  });

  it("selectiveScanMatrix: y = M u reproduces the scan (no D, no z), and M is Toeplitz exactly in the LTI case", () => {
    const rng = new Rng(7);
    let args = randomCase(rng, {
      layout: "variable",
      D: false,
      z: false,
      bias: true,
      softplus: true,
    });
    while (args.u.shape[2] < 5) {
      args = randomCase(rng, {
        layout: "variable",
        D: false,
        z: false,
        bias: true,
        softplus: true,
      });
    }
    const [b, d, l] = args.u.shape;
    const out = selectiveScan(args).out;
    for (let bb = 0; bb < b; bb++)
      for (let c = 0; c < d; c++) {
        const M = selectiveScanMatrix(args, bb, c);
        expect(M.shape).toEqual([l, l]);
        const row = (bb * d + c) * l;
        for (let t = 0; t < l; t++) {
          let y = 0;
          for (let s = 0; s < l; s++) {
            if (s > t) expect(M.data[t * l + s]).toBe(0);
            y += M.data[t * l + s] * args.u.data[row + s];
          }
          expect(Math.abs(y - out.data[row + t])).toBeLessThan(
            1e-10 * (1 + Math.abs(out.data[row + t])),
          );
        }
      }
    // LTI: constant Δ and time-invariant B, C give M[t, s] = K[t - s].
    const lti = {
      delta: { shape: [1, 1, 6], data: new Float64Array(6).fill(0.3) },
      A: { shape: [1, 2], data: Float64Array.of(-1, -2) },
      B: { shape: [1, 2], data: Float64Array.of(1, 0.5) },
      C: { shape: [1, 2], data: Float64Array.of(0.7, -1) },
    };
    const M = selectiveScanMatrix(lti, 0, 0);
    for (let t = 1; t < 6; t++)
      for (let s = 1; s <= t; s++)
        expect(M.data[t * 6 + s]).toBeCloseTo(M.data[(t - 1) * 6 + s - 1], 14);
  });

  it("rejects bad input with errors naming the argument", () => {
    const rng = new Rng(8);
    const good = {
      u: rng.randn([2, 3, 5]),
      delta: rng.rand([2, 3, 5]),
      A: rng.randn([3, 4]),
      B: rng.randn([2, 4, 5]),
      C: rng.randn([2, 4, 5]),
    };
    const bad = (patch: Record<string, unknown>) => () =>
      selectiveScan({ ...good, ...patch } as never);
    expect(() => selectiveScan(null as never)).toThrow(
      /selectiveScan: expected an argument object/,
    );
    expect(bad({ u: rng.randn([2, 3]) })).toThrow(
      /selectiveScan: argument 'u' must be a tensor with 3 axes/,
    );
    expect(bad({ delta: rng.randn([2, 3, 4]) })).toThrow(
      /selectiveScan: argument 'delta' must be a tensor of shape \[2, 3, 5\]/,
    );
    expect(bad({ A: rng.randn([2, 4]) })).toThrow(
      /selectiveScan: argument 'A' must be a tensor of shape \[3, n\]/,
    );
    expect(bad({ B: rng.randn([2, 5, 5]) })).toThrow(
      /selectiveScan: argument 'B' must be a tensor of shape/,
    );
    expect(bad({ C: rng.randn([2, 4, 6]) })).toThrow(
      /selectiveScan: argument 'C' must be a tensor of shape/,
    );
    expect(bad({ B: rng.randn([2, 2, 4, 5]) })).toThrow(
      /selectiveScan: argument 'B' must be a tensor of shape .*g dividing d = 3/,
    );
    expect(bad({ D: rng.randn([4]) })).toThrow(
      /selectiveScan: argument 'D' must be a tensor of shape \[3\]/,
    );
    expect(bad({ z: rng.randn([2, 3, 6]) })).toThrow(
      /selectiveScan: argument 'z' must be a tensor of shape \[2, 3, 5\]/,
    );
    expect(bad({ deltaBias: rng.randn([2]) })).toThrow(
      /selectiveScan: argument 'deltaBias' must be a tensor of shape \[3\]/,
    );
    expect(bad({ u: { shape: [2, 3, 5], data: new Int32Array(30) } })).toThrow(
      /selectiveScan: argument 'u' must be a tensor/,
    );
    expect(bad({ u: { shape: [2, 3, 5], data: Array(30).fill(0) } })).toThrow(
      /selectiveScan: argument 'u' must be a tensor/,
    );
    const nan = rng.randn([2, 3, 5]);
    nan.data[7] = NaN;
    expect(bad({ u: nan })).toThrow(
      /selectiveScan: argument 'u' must be a tensor of finite values \(got NaN at flat index 7\)/,
    );
    const inf = rng.randn([3, 4]);
    inf.data[0] = Infinity;
    expect(bad({ A: inf })).toThrow(
      /selectiveScan: argument 'A' must be a tensor of finite values/,
    );
    expect(bad({ deltaSoftplus: "yes" })).toThrow(
      /selectiveScan: argument 'deltaSoftplus' must be true or false/,
    );
    expect(bad({ returnLastState: 1 })).toThrow(
      /selectiveScan: argument 'returnLastState' must be true or false/,
    );
    expect(bad({ delta_softplus: true })).toThrow(
      /selectiveScan: expected an argument object .*\(got an unknown key "delta_softplus"/,
    );
    expect(() =>
      selectiveStateUpdate({
        state: rng.randn([2, 3, 4]),
        x: rng.randn([2, 3]),
        dt: rng.randn([2, 2]),
        A: rng.randn([3, 4]),
        B: rng.randn([2, 4]),
        C: rng.randn([2, 4]),
      }),
    ).toThrow(/selectiveStateUpdate: argument 'dt' must be a tensor of shape \[2, 3\]/);
    expect(() => selectiveScanMatrix({ ...good }, 2, 0)).toThrow(
      /selectiveScanMatrix: argument 'batch' must be an integer in \[0, 1\]/,
    );
    expect(() => selectiveScanMatrix({ ...good }, 0, 3)).toThrow(
      /selectiveScanMatrix: argument 'channel'/,
    );
  });
});

describe("softplus, its inverse, SiLU", () => {
  it("softplus agrees with log(1 + e^x) where that is accurate, and with its limits elsewhere", () => {
    for (let x = -30; x <= 30; x += 0.37) {
      expect(softplus(x)).toBeCloseTo(Math.log1p(Math.exp(x)), 14);
    }
    expect(softplus(800)).toBe(800); // log(1 + e^800) overflows naively
    expect(softplus(-800)).toBe(0);
    expect(softplus(-50) / Math.exp(-50)).toBeCloseTo(1, 14);
    expect(softplus(0)).toBeCloseTo(Math.LN2, 15);
  });

  it("inverseSoftplus inverts softplus over the whole dt range and beyond", () => {
    for (const y of [1e-8, 1e-4, 0.001, 0.01, 0.1, 1, 5, 30, 700]) {
      expect(Math.abs(softplus(inverseSoftplus(y)) - y) / y).toBeLessThan(1e-14);
      expect(inverseSoftplus(y)).toBeCloseTo(Math.log(Math.exp(y) - 1), y < 1e-6 ? 6 : 10);
    }
    expect(() => inverseSoftplus(0)).toThrow(
      /inverseSoftplus: argument 'y' must be a positive finite number \(got 0\)/,
    );
    expect(() => inverseSoftplus(NaN)).toThrow(/inverseSoftplus: argument 'y'/);
  });

  it("silu(x) = x · sigmoid(x), with sigmoid = 1 / (1 + e^-x)", () => {
    for (let x = -20; x <= 20; x += 0.5) {
      expect(sigmoid(x)).toBeCloseTo(1 / (1 + Math.exp(-x)), 15);
      expect(silu(x)).toBeCloseTo(x / (1 + Math.exp(-x)), 14);
    }
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
  });
});

describe("S6 parameterisation", () => {
  it("initDtBias: dt log-uniform in [dtMin, dtMax] and softplus(bias) = dt", () => {
    const { dt, bias } = initDtBias(new Rng(9), 4000);
    const lo = Math.log(0.001);
    const hi = Math.log(0.1);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 4000; i++) {
      expect(dt.data[i]).toBeGreaterThanOrEqual(0.001);
      expect(dt.data[i]).toBeLessThanOrEqual(0.1);
      expect(Math.abs(softplus(bias.data[i]) - dt.data[i]) / dt.data[i]).toBeLessThan(1e-13);
      bins[Math.min(9, Math.floor(((Math.log(dt.data[i]) - lo) / (hi - lo)) * 10))]++;
    }
    // log dt uniform: chi-square over 10 equal bins (9 degrees of freedom), 5 standard deviations.
    const chi2 = bins.reduce((s, c) => s + (c - 400) ** 2 / 400, 0);
    expect(chi2).toBeLessThan(9 + 5 * Math.sqrt(18));
    expect(logUniformDt(0)).toBeCloseTo(0.001, 15);
    expect(logUniformDt(1)).toBeCloseTo(0.1, 15);
    expect(logUniformDt(0.5)).toBeCloseTo(0.01, 15);
    expect(() => logUniformDt(1.5)).toThrow(/logUniformDt: argument 'v'/);
    expect(() => initDtBias(new Rng(1), 3, { dtMin: 0.1, dtMax: 0.01 })).toThrow(
      /initDtBias: argument 'options.dtMax' must be a number >= dtMin = 0.1 \(got 0.01\)/,
    );
    // The floor clamps small draws.
    const floored = initDtBias(new Rng(1), 100, { dtMin: 1e-6, dtMax: 1e-5, dtInitFloor: 1e-4 });
    for (const v of floored.dt.data) expect(v).toBe(1e-4);
  });

  it("initALog is S4D-Real: A = -(1, 2, ..., n) in every channel", () => {
    const A = aFromLog(initALog(3, 5));
    expect(A.shape).toEqual([3, 5]);
    for (let d = 0; d < 3; d++)
      for (let n = 0; n < 5; n++) expect(A.data[d * 5 + n]).toBeCloseTo(-(n + 1), 13);
  });

  it("s6Project and s6 compute Δ = softplus(W_Δ W_x[δ] x + b), B = W_x[B] x, C = W_x[C] x and scan with them", () => {
    const rng = new Rng(10);
    const [b, d, l, n, r] = [2, 5, 7, 3, 2];
    const params = initS6(rng, { dim: d, dstate: n, dtRank: r });
    expect(params.xProj.shape).toEqual([r + 2 * n, d]);
    expect(params.dtProj.shape).toEqual([d, r]);
    for (const v of params.D.data) expect(v).toBe(1);
    const x = rng.randn([b, d, l]);
    const W = (row: number, col: number) => params.xProj.data[row * d + col];
    const xv = (bb: number, c: number, t: number) => x.data[(bb * d + c) * l + t];
    const proj = (bb: number, row: number, t: number) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += W(row, c) * xv(bb, c, t);
      return s;
    };
    const { delta, B, C } = s6Project(x, params);
    const Bref = new Float64Array(b * n * l);
    const Cref = new Float64Array(b * n * l);
    const deltaRef = new Float64Array(b * d * l);
    for (let bb = 0; bb < b; bb++)
      for (let t = 0; t < l; t++) {
        for (let i = 0; i < n; i++) {
          Bref[(bb * n + i) * l + t] = proj(bb, r + i, t);
          Cref[(bb * n + i) * l + t] = proj(bb, r + n + i, t);
        }
        for (let c = 0; c < d; c++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += params.dtProj.data[c * r + k] * proj(bb, k, t);
          deltaRef[(bb * d + c) * l + t] = s;
        }
      }
    expect(relErr(B.data, Bref)).toBeLessThan(1e-13);
    expect(relErr(C.data, Cref)).toBeLessThan(1e-13);
    expect(relErr(delta.data, deltaRef)).toBeLessThan(1e-13);
    const z = rng.randn([b, d, l]);
    const ref = referenceScan({
      u: x,
      delta: { shape: [b, d, l], data: deltaRef },
      A: { shape: [d, n], data: Float64Array.from(params.ALog.data, (v) => -Math.exp(v)) },
      B: { shape: [b, n, l], data: Bref },
      C: { shape: [b, n, l], data: Cref },
      D: params.D,
      z,
      deltaBias: params.dtBias,
      deltaSoftplus: true,
    });
    expect(relErr(s6(x, params, { z }).out.data, ref.out)).toBeLessThan(1e-12);
    expect(() => s6Project(rng.randn([b, d + 1, l]), params)).toThrow(
      /s6Project: argument 'x' must be a tensor of shape \[b, 5, l\]/,
    );
    expect(() => initS6(rng, { dim: 0 })).toThrow(
      /initS6: argument 'options.dim' must be an integer in \[1, 134217728\] \(got 0\)/,
    );
  });

  it("initS6 sizes the Δ rank like Mamba: dt_rank = ⌈d_model / 16⌉ with d = expand · d_model", () => {
    // Mamba-130m: d_model 768, d_inner 1536, dt_rank 48 (its config.json); mamba-2.8b: 2560, 5120, 160.
    const rank = (o: Parameters<typeof initS6>[1]) => initS6(new Rng(1), o).dtProj.shape[1];
    expect(rank({ dim: 1536, dstate: 2, dModel: 768 })).toBe(48);
    expect(rank({ dim: 5120, dstate: 2, dModel: 2560 })).toBe(160);
    // Without dModel the layer assumes Mamba's expand = 2.
    expect(rank({ dim: 1536, dstate: 2 })).toBe(48);
    expect(rank({ dim: 16, dstate: 2 })).toBe(1);
    expect(rank({ dim: 66, dstate: 2 })).toBe(3); // d_model 33 -> ⌈33 / 16⌉ = 3
    expect(rank({ dim: 8, dstate: 2, dtRank: 5 })).toBe(5);
    const p = initS6(new Rng(1), { dim: 1536, dstate: 4, dModel: 768 });
    expect(p.xProj.shape).toEqual([48 + 8, 1536]);
    expect(() => initS6(new Rng(1), { dim: 8, dModel: 4, dtRank: 2 })).toThrow(
      /initS6: argument 'options' must be options that give dModel or dtRank, not both .*\(got dModel = 4, dtRank = 2\)/,
    );
    expect(() => initS6(new Rng(1), { dim: 8, dModel: 2.5 })).toThrow(
      /initS6: argument 'options.dModel' must be an integer in \[1, 134217728\] \(got 2.5\)/,
    );
  });
});
