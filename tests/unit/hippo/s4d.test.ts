/**
 * S4D-Real, S4D-Lin and s4dKernel (lib/src/hippo/s4d.ts): the stated entries, and the kernel
 * against that of the equivalent dense real system discretized by ZOH (discretize and ssmKernel,
 * each tested against its own reference).
 */
import { describe, it, expect } from "vitest";
import { s4dKernel, s4dLin, s4dReal } from "../../../lib/src/hippo/s4d";
import { discretize } from "../../../lib/src/ssm/discretize";
import { ssmKernel } from "../../../lib/src/conv/kernel";
import type { Tensor } from "../../../lib/src/tensor";
import { Rng } from "../../../lib/src/rng";

describe("S4D", () => {
  it("s4dReal and s4dLin have the stated entries", () => {
    const r = s4dReal(5);
    expect(Array.from(r.Are.data)).toEqual([-1, -2, -3, -4, -5]);
    expect(r.Aim).toBeUndefined();
    expect(Array.from(r.B.data)).toEqual([1, 1, 1, 1, 1]);
    const l = s4dLin(4);
    expect(Array.from(l.Are.data)).toEqual([-0.5, -0.5, -0.5, -0.5]);
    expect(Array.from(l.Aim!.data)).toEqual([0, Math.PI, 2 * Math.PI, 3 * Math.PI]);
    expect(() => s4dLin(0)).toThrow(/s4dLin: argument 'N'/);
    expect(() => s4dReal(-1)).toThrow(/s4dReal: argument 'N'/);
  });

  it("s4dKernel equals the kernel of the equivalent dense real system (ZOH by matrix exponential)", () => {
    const rng = new Rng(9);
    const dt = 0.05;
    const L = 60;
    // Real: A = diag(a), B, C dense.
    const real = s4dReal(4);
    const Cr = rng.randn([4]);
    const Ad: Tensor = { shape: [4, 4], data: new Float64Array(16) };
    for (let n = 0; n < 4; n++) Ad.data[n * 5] = real.Are.data[n];
    const dr = discretize(Ad, { shape: [4, 1], data: real.B.data }, dt, "zoh");
    const want = ssmKernel(dr.Abar, dr.Bbar, Cr, L);
    const got = s4dKernel(real, { re: Cr }, dt, L);
    for (let k = 0; k < L; k++) expect(Math.abs(got.data[k] - want.data[k])).toBeLessThan(1e-12);
    // Complex with conjugate pairs: state h = x + i y per pair, a real 2×2 block [[ar, -ai], [ai, ar]];
    // input enters as (Re B, Im B); the output 2 Re(C h) = 2 (Cre x - Cim y).
    const lin = { ...s4dLin(3), Bim: rng.randn([3]) };
    lin.B = rng.randn([3]);
    const C = { re: rng.randn([3]), im: rng.randn([3]) };
    const n2 = 6;
    const A2 = new Float64Array(n2 * n2);
    const B2 = new Float64Array(n2);
    const C2 = new Float64Array(n2);
    for (let n = 0; n < 3; n++) {
      const [ar, ai] = [lin.Are.data[n], lin.Aim!.data[n]];
      A2[2 * n * n2 + 2 * n] = ar;
      A2[2 * n * n2 + 2 * n + 1] = -ai;
      A2[(2 * n + 1) * n2 + 2 * n] = ai;
      A2[(2 * n + 1) * n2 + 2 * n + 1] = ar;
      B2[2 * n] = lin.B.data[n];
      B2[2 * n + 1] = lin.Bim.data[n];
      C2[2 * n] = 2 * C.re.data[n];
      C2[2 * n + 1] = -2 * C.im.data[n];
    }
    const d2 = discretize({ shape: [n2, n2], data: A2 }, { shape: [n2, 1], data: B2 }, dt, "zoh");
    const want2 = ssmKernel(d2.Abar, d2.Bbar, { shape: [n2], data: C2 }, L);
    const got2 = s4dKernel(lin, C, dt, L);
    for (let k = 0; k < L; k++) expect(Math.abs(got2.data[k] - want2.data[k])).toBeLessThan(1e-12);
  });

  it("s4dKernel rejects bad input", () => {
    const s = s4dLin(3);
    const C = { re: { shape: [3], data: new Float64Array(3) } };
    expect(() => s4dKernel(s, C, 0, 10)).toThrow(/s4dKernel: argument 'dt'/);
    expect(() => s4dKernel(s, C, 0.1, -1)).toThrow(/s4dKernel: argument 'L'/);
    expect(() => s4dKernel(s, { re: { shape: [2], data: new Float64Array(2) } }, 0.1, 4)).toThrow(
      /s4dKernel: argument 'C.re'/,
    );
    expect(() =>
      s4dKernel({ ...s, Aim: { shape: [4], data: new Float64Array(4) } }, C, 0.1, 4),
    ).toThrow(/s4dKernel: argument 'ssm.Aim'/);
  });
});
