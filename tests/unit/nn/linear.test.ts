import { describe, expect, it } from "vitest";
import {
  Rng,
  type Tensor,
  causalDepthwiseConv1d,
  embedding,
  linear,
  rmsNorm,
  sigmoidTensor,
  sliceLastAxis,
  siluTensor,
  softplusTensor,
  transpose12,
} from "../../../lib/src/index";

// References below index nested number[][] arrays built from the flat data, written from the
// PyTorch definitions, in float64.
const TOL32 = 1e-5;

function at(t: Tensor, ...idx: number[]): number {
  let flat = 0;
  for (let i = 0; i < idx.length; i++) flat = flat * t.shape[i] + idx[i];
  return t.data[flat];
}

describe("linear", () => {
  it("matches y = x Wᵀ + b written per element, float64 and float32", () => {
    const rng = new Rng(1);
    const x = rng.randn([2, 3, 5]);
    const w = rng.randn([4, 5]);
    const b = rng.randn([4]);
    const y = linear(x, w, b);
    expect(y.shape).toEqual([2, 3, 4]);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        for (let o = 0; o < 4; o++) {
          let s = at(b, o);
          for (let k = 0; k < 5; k++) s += at(x, i, j, k) * at(w, o, k);
          expect(Math.abs(at(y, i, j, o) - s)).toBeLessThan(1e-12);
        }
    const y32 = linear({ shape: x.shape, data: Float32Array.from(x.data) }, w);
    expect(y32.data).toBeInstanceOf(Float32Array);
    const noBias = linear(x, w);
    for (let i = 0; i < y32.data.length; i++) {
      expect(Math.abs(y32.data[i] - noBias.data[i])).toBeLessThan(TOL32);
      expect(Math.abs(noBias.data[i] + b.data[i % 4] - y.data[i])).toBeLessThan(1e-12);
    }
  });
  it("handles output sizes that are not a multiple of the 4-row blocking", () => {
    const rng = new Rng(9);
    for (const out of [1, 3, 5, 6, 7, 9]) {
      const x = rng.randn([3, 6]);
      const w = rng.randn([out, 6]);
      const b = rng.randn([out]);
      const y = linear(x, w, b);
      for (let r = 0; r < 3; r++)
        for (let o = 0; o < out; o++) {
          let s = b.data[o];
          for (let k = 0; k < 6; k++) s += x.data[r * 6 + k] * w.data[o * 6 + k];
          expect(Math.abs(y.data[r * out + o] - s)).toBeLessThan(1e-12);
        }
    }
  });
  it("refuses mismatched shapes and non-finite input, naming the argument", () => {
    const w = { shape: [4, 5], data: new Float64Array(20) };
    expect(() => linear({ shape: [2, 4], data: new Float64Array(8) }, w)).toThrow(
      /linear: argument 'x' must be a tensor whose last axis is 5/,
    );
    expect(() =>
      linear({ shape: [2, 5], data: new Float64Array(10) }, w, {
        shape: [3],
        data: new Float64Array(3),
      }),
    ).toThrow(/linear: argument 'bias'/);
    expect(() => linear({ shape: [1, 5], data: new Float64Array([0, 0, NaN, 0, 0]) }, w)).toThrow(
      /linear: argument 'x' must be/,
    );
    expect(() =>
      linear(
        { shape: [1, 5], data: new Float64Array(5) },
        { shape: [20], data: new Float64Array(20) },
      ),
    ).toThrow(/linear: argument 'weight' must be/);
  });
});

describe("rmsNorm", () => {
  it("divides by the root mean square and scales by the weight", () => {
    const rng = new Rng(2);
    const x = rng.randn([3, 2, 7]);
    const w = rng.randn([7]);
    const eps = 1e-5;
    const y = rmsNorm(x, w, eps);
    for (let r = 0; r < 6; r++) {
      const row = Array.from(x.data.slice(r * 7, r * 7 + 7));
      const rms = Math.sqrt(row.reduce((a, v) => a + v * v, 0) / 7 + eps);
      row.forEach((v, j) =>
        expect(Math.abs(y.data[r * 7 + j] - (v / rms) * w.data[j])).toBeLessThan(1e-12),
      );
    }
    // with weight 1 and eps 0 every row has mean square 1
    const ones = { shape: [7], data: new Float64Array(7).fill(1) };
    const z = rmsNorm(x, ones, 0);
    const ms = Array.from(z.data.slice(0, 7)).reduce((a, v) => a + v * v, 0) / 7;
    expect(ms).toBeCloseTo(1, 12);
  });
  it("refuses a weight of the wrong size and a negative eps", () => {
    const x = { shape: [2, 3], data: new Float64Array(6) };
    expect(() => rmsNorm(x, { shape: [2], data: new Float64Array(2) }, 1e-5)).toThrow(
      /rmsNorm: argument 'weight'/,
    );
    expect(() => rmsNorm(x, { shape: [3], data: new Float64Array(3) }, -1)).toThrow(
      /rmsNorm: argument 'eps'/,
    );
  });
});

describe("embedding", () => {
  it("looks rows up", () => {
    const w = { shape: [4, 2], data: new Float32Array([0, 1, 10, 11, 20, 21, 30, 31]) };
    const y = embedding(new Int32Array([3, 0, 2, 2]), w, [2, 2]);
    expect(y.shape).toEqual([2, 2, 2]);
    expect(Array.from(y.data)).toEqual([30, 31, 0, 1, 20, 21, 20, 21]);
  });
  it("refuses ids out of range, wrong counts and non-Int32Array ids", () => {
    const w = { shape: [4, 2], data: new Float32Array(8) };
    expect(() => embedding(new Int32Array([4]), w, [1, 1])).toThrow(
      /embedding: argument 'ids' must be token ids in \[0, 4\).*got 4/,
    );
    expect(() => embedding(new Int32Array([1, 2]), w, [1, 1])).toThrow(
      /embedding: argument 'ids' must be b·l = 1/,
    );
    expect(() => embedding([1] as unknown as Int32Array, w, [1, 1])).toThrow(
      /embedding: argument 'ids' must be an Int32Array/,
    );
  });
});

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

describe("elementwise and transpose12", () => {
  it("apply the closed forms", () => {
    const x = { shape: [2, 2], data: new Float64Array([-3, -0.5, 0, 4]) };
    const s = siluTensor(x);
    const p = softplusTensor(x);
    const g = sigmoidTensor(x);
    x.data.forEach((v, i) => {
      expect(s.data[i]).toBeCloseTo(v / (1 + Math.exp(-v)), 14);
      expect(p.data[i]).toBeCloseTo(Math.log(1 + Math.exp(v)), 14);
      expect(g.data[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 14);
    });
  });
  it("transpose12 swaps the last two axes", () => {
    const x = { shape: [2, 2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };
    const y = transpose12(x);
    expect(y.shape).toEqual([2, 3, 2]);
    expect(Array.from(y.data)).toEqual([1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12]);
  });
});

describe("sliceLastAxis", () => {
  it("takes columns of the last axis, keeping the dtype", () => {
    const x = { shape: [2, 4], data: new Float64Array([0, 1, 2, 3, 10, 11, 12, 13]) };
    const y = sliceLastAxis(x, 1, 2);
    expect(y.shape).toEqual([2, 2]);
    expect(y.data).toBeInstanceOf(Float64Array);
    expect(Array.from(y.data)).toEqual([1, 2, 11, 12]);
    expect(() => sliceLastAxis(x, 3, 2)).toThrow(
      /sliceLastAxis: argument 'count' must be an integer in \[0, 1\]/,
    );
  });
});
