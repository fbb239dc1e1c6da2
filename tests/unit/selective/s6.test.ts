/**
 * The S6 parameterisation (lib/src/selective/s6.ts): initDtBias's log-uniform Δ with softplus(bias)
 * = Δ, initALog (S4D-Real), s6Project's Δ, B and C written out here, s6 against the float64 scan
 * reference of tests/helpers/selective-scan.ts, and Mamba's Δ rank.
 */
import { describe, expect, it } from "vitest";
import { relErr } from "../../helpers/reference";
import { referenceScan } from "../../helpers/selective-scan";
import {
  Rng,
  aFromLog,
  initALog,
  initDtBias,
  initS6,
  logUniformDt,
  s6,
  s6Project,
  softplus,
} from "../../../lib/src/index";

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
    expect(relErr(B.data, Bref, 1e-300)).toBeLessThan(1e-13);
    expect(relErr(C.data, Cref, 1e-300)).toBeLessThan(1e-13);
    expect(relErr(delta.data, deltaRef, 1e-300)).toBeLessThan(1e-13);
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
    expect(relErr(s6(x, params, { z }).out.data, ref.out, 1e-300)).toBeLessThan(1e-12);
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
