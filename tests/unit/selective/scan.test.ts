/**
 * selectiveScan (lib/src/selective/scan.ts, the semantics of Mamba's selective_scan_ref) against
 * the independent materialising float64 reference of tests/helpers/selective-scan.ts on random
 * shapes, with and without each optional input, for every B/C layout; special cases against a
 * closed form (the N = 1 gate) and second algorithms (the LTI case as ssmKernel + causalConv,
 * selectiveStateUpdate step by step, selectiveScanMatrix).
 */
import { describe, expect, it } from "vitest";
import { relErr as sharedRelErr } from "../../helpers/reference";
import {
  Rng,
  type Tensor,
  aFromLog,
  causalConv,
  selectiveScan,
  selectiveScanMatrix,
  selectiveStateUpdate,
  ssmKernel,
} from "../../../lib/src/index";
import { type RefArgs, referenceScan } from "../../helpers/selective-scan";
import { checkInputDependentScanArgs } from "../../../lib/src/selective/scan-checks";

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

/** Valid scan arguments (b, d, l, n) = (2, 3, 5, 4), B and C (b, n, l): the bad-input tests' base. */
function smallScanArgs(rng: Rng) {
  return {
    u: rng.randn([2, 3, 5]),
    delta: rng.rand([2, 3, 5]),
    A: rng.randn([3, 4]),
    B: rng.randn([2, 4, 5]),
    C: rng.randn([2, 4, 5]),
  };
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
    const good = smallScanArgs(rng);
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

  it("checkInputDependentScanArgs with bdlValues: false leaves only the values of u, delta and z to its caller", () => {
    const rng = new Rng(9);
    const good = {
      ...smallScanArgs(rng),
      z: rng.randn([2, 3, 5]),
      D: rng.randn([3]),
      deltaBias: rng.randn([3]),
    };
    const spoiled = (key: keyof typeof good, i: number, v: number) => {
      const t = good[key];
      const data = Float64Array.from(t.data);
      data[i] = v;
      return { ...good, [key]: { shape: t.shape, data } };
    };
    const check = (args: object, bdlValues?: boolean) => () =>
      checkInputDependentScanArgs("f", args, bdlValues === undefined ? {} : { bdlValues });
    for (const key of ["u", "delta", "z"] as const) {
      expect(check(spoiled(key, 4, NaN))).toThrow(
        new RegExp(
          `f: argument '${key}' must be a tensor of finite values \\(got NaN at flat index 4\\)`,
        ),
      );
      expect(check(spoiled(key, 4, NaN), true)).toThrow(/must be a tensor of finite values/);
      expect(check(spoiled(key, 4, -Infinity), false)()).toMatchObject({ batch: 2, dim: 3 });
      // shapes are still checked
      expect(check({ ...good, [key]: rng.randn(key === "u" ? [2, 3] : [2, 3, 4]) }, false)).toThrow(
        new RegExp(`f: argument '${key}' must be a tensor`),
      );
    }
    for (const [key, i] of [
      ["A", 2],
      ["B", 1],
      ["C", 0],
      ["D", 1],
      ["deltaBias", 2],
    ] as const) {
      expect(check(spoiled(key, i, Infinity), false)).toThrow(
        new RegExp(
          `f: argument '${key}' must be a tensor of finite values \\(got Infinity at flat index ${i}\\)`,
        ),
      );
    }
  });
});
