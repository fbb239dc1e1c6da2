/**
 * RoPE (lib/src/transformer/rope.ts) against Hugging Face's rotate_half convention and the
 * complex-rotation closed form of tests/helpers/llama-reference.ts; q·k depends only on the offset;
 * norms kept.
 */
import { describe, expect, it } from "vitest";
import { Rng, type Tensor, applyRope, ropeInvFreq } from "../../../lib/src/index";
import { ropeRef } from "../../helpers/llama-reference";

// ---------------------------------------------------------------------------------------------

describe("RoPE", () => {
  it("inv_freq_j = 1 / θ^(2j / head_dim)", () => {
    const f = ropeInvFreq(8, 10000);
    expect(Array.from(f)).toHaveLength(4);
    [1, 0.1, 0.01, 0.001].forEach((want, j) => expect(f[j]).toBeCloseTo(want, 14));
  });

  it("rotates coordinate j with j + head_dim/2 (HF rotate_half), not adjacent pairs", () => {
    // x = e_0, position 1, inv_freq_0 = 1: out = (cos 1, 0, sin 1, 0).
    const x = { shape: [1, 1, 2, 4], data: new Float32Array([1, 0, 0, 0, 1, 0, 0, 0]) };
    const out = applyRope(x, 10000);
    expect(Array.from(out.data.subarray(0, 4))).toEqual([1, 0, 0, 0]); // position 0: identity
    const p1 = Array.from(out.data.subarray(4));
    [Math.cos(1), 0, Math.sin(1), 0].forEach((v, i) => expect(p1[i]).toBeCloseTo(v, 6));
  });

  it("equals the complex-rotation closed form at every position, with an offset start", () => {
    const rng = new Rng(1);
    const [b, h, l, hd] = [2, 3, 7, 8];
    const x = rng.randn([b, h, l, hd], 1, "float32");
    const theta = 500;
    const start = 1000;
    const out = applyRope(x, theta, start);
    let worst = 0;
    for (let r = 0; r < b * h; r++) {
      for (let t = 0; t < l; t++) {
        const o = (r * l + t) * hd;
        const want = ropeRef(Array.from(x.data.subarray(o, o + hd)), start + t, theta);
        want.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - out.data[o + i]))));
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it("makes q·k depend only on the offset between positions, and keeps norms", () => {
    const rng = new Rng(2);
    const hd = 16;
    const q = rng.randn([1, 1, 1, hd], 1, "float32");
    const k = rng.randn([1, 1, 1, hd], 1, "float32");
    const dot = (a: Tensor, b: Tensor): number =>
      Array.from(a.data).reduce((s, v, i) => s + v * b.data[i], 0);
    for (const offset of [0, 3, 17]) {
      const dots = [0, 5, 123, 4000].map((p) =>
        dot(applyRope(q, 10000, p + offset), applyRope(k, 10000, p)),
      );
      for (const v of dots) expect(Math.abs(v - dots[0])).toBeLessThan(2e-5 * hd);
    }
    // ... and does depend on it (otherwise the property would hold trivially).
    const d0 = dot(applyRope(q, 10000, 0), applyRope(k, 10000, 0));
    const d5 = dot(applyRope(q, 10000, 5), applyRope(k, 10000, 0));
    expect(Math.abs(d0 - d5)).toBeGreaterThan(1e-2);
    const n = (t: Tensor): number => Math.sqrt(dot(t, t));
    expect(n(applyRope(q, 10000, 77))).toBeCloseTo(n(q), 5);
  });

  it("refuses odd head widths", () => {
    expect(() => applyRope({ shape: [1, 1, 1, 3], data: new Float32Array(3) }, 10000)).toThrow(
      /applyRope: argument 'x' must be a tensor whose head_dim \(axis 3\) is even/,
    );
    expect(() => ropeInvFreq(5, 10000)).toThrow(/ropeInvFreq: argument 'headDim' must be an even/);
  });
});
