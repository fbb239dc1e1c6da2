/**
 * causalDepthwiseConv1d (lib/src/nn/conv1d.ts) against PyTorch's Conv1d(groups=d, padding=k-1) cut
 * to the first l outputs, written per element here in float64; causality; weight shape errors.
 */
import { describe, expect, it } from "vitest";
import { Rng, causalDepthwiseConv1d } from "../../../lib/src/index";
import { at } from "../../helpers/reference";

describe("causalDepthwiseConv1d", () => {
  it("equals PyTorch's Conv1d(groups=d, padding=k-1) cut to the first l outputs", () => {
    const rng = new Rng(3);
    const [B, D, L, K] = [2, 3, 9, 4];
    const x = rng.randn([B, D, L]);
    const w = rng.randn([D, 1, K]);
    const bias = rng.randn([D]);
    const y = causalDepthwiseConv1d(x, w, bias);
    // Reference: pad k-1 zeros on both sides, cross-correlate (out length l + k - 1), keep first l.
    for (let b = 0; b < B; b++)
      for (let c = 0; c < D; c++) {
        const padded = [
          ...new Array(K - 1).fill(0),
          ...Array.from({ length: L }, (_, t) => at(x, b, c, t)),
          ...new Array(K - 1).fill(0),
        ];
        for (let t = 0; t < L; t++) {
          let s = at(bias, c);
          for (let j = 0; j < K; j++) s += padded[t + j] * at(w, c, 0, j);
          expect(Math.abs(at(y, b, c, t) - s)).toBeLessThan(1e-12);
        }
      }
  });
  it("is causal: changing x at t0 leaves outputs before t0 alone", () => {
    const rng = new Rng(4);
    const x = rng.randn([1, 2, 8]);
    const w = rng.randn([2, 1, 4]);
    const y1 = causalDepthwiseConv1d(x, w, null);
    const x2 = { shape: x.shape, data: x.data.slice() };
    x2.data[5] += 1;
    const y2 = causalDepthwiseConv1d(x2, w, null);
    for (let t = 0; t < 5; t++) expect(y2.data[t]).toBe(y1.data[t]);
    expect(y2.data[5]).not.toBe(y1.data[5]);
  });
  it("refuses a weight that is not (d, 1, k)", () => {
    const x = { shape: [1, 2, 5], data: new Float64Array(10) };
    expect(() =>
      causalDepthwiseConv1d(x, { shape: [3, 1, 4], data: new Float64Array(12) }, null),
    ).toThrow(/causalDepthwiseConv1d: argument 'weight' must be a tensor of shape \[2, 1, \*\]/);
    expect(() =>
      causalDepthwiseConv1d(
        x,
        { shape: [2, 1, 4], data: new Float64Array(8) },
        { shape: [3], data: new Float64Array(3) },
      ),
    ).toThrow(/causalDepthwiseConv1d: argument 'bias'/);
  });
});
