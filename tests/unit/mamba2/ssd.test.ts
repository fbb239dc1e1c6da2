/**
 * State space duality (lib/src/mamba2/ssd.ts): the chunked algorithm and the quadratic form
 * against a float64 recurrence written here from the equations; the stable segment sum against
 * the naive one, with the naive one's cancellation measured in float32.
 */
import { describe, expect, it } from "vitest";
import { Rng, type Tensor } from "../../../lib/src/index";
import {
  checkSsdInputs,
  segsum,
  segsumNaive,
  ssdChunked,
  ssdQuadratic,
  ssdRecurrence,
} from "../../../lib/src/mamba2/ssd";

/** Random SSD inputs: X (b, l, h, p), A = Δ·A (b, l, h) in (−1.5, 0], B, C (b, l, g, n). */
function inputs(rng: Rng, b: number, l: number, h: number, p: number, g: number, n: number) {
  const A = rng.randn([b, l, h]);
  A.data.forEach((_, i) => (A.data[i] = -1.5 * rng.uniform(0, 1)));
  return {
    X: rng.randn([b, l, h, p]),
    A,
    B: rng.randn([b, l, g, n]),
    C: rng.randn([b, l, g, n]),
  };
}

/**
 * y_t = h_t C_t with h_t = exp(A_t) h_{t−1} + X_t B_tᵀ, one position at a time, nested arrays;
 * head hd reads group ⌊hd / (h / g)⌋.
 */
function recurrence(inp: ReturnType<typeof inputs>, h0: Tensor | null) {
  const [b, l, H, P] = inp.X.shape;
  const [, , G, N] = inp.B.shape;
  const y = new Float64Array(b * l * H * P);
  const final = new Float64Array(b * H * P * N);
  for (let bi = 0; bi < b; bi++)
    for (let hd = 0; hd < H; hd++) {
      const g = Math.floor(hd / (H / G));
      const state = Array.from({ length: P }, (_, p) =>
        Array.from({ length: N }, (_, n) => (h0 ? h0.data[((bi * H + hd) * P + p) * N + n] : 0)),
      );
      for (let t = 0; t < l; t++) {
        const decay = Math.exp(inp.A.data[(bi * l + t) * H + hd]);
        for (let p = 0; p < P; p++) {
          let acc = 0;
          for (let n = 0; n < N; n++) {
            const x = inp.X.data[((bi * l + t) * H + hd) * P + p];
            const Bv = inp.B.data[((bi * l + t) * G + g) * N + n];
            state[p][n] = decay * state[p][n] + x * Bv;
            acc += state[p][n] * inp.C.data[((bi * l + t) * G + g) * N + n];
          }
          y[((bi * l + t) * H + hd) * P + p] = acc;
        }
      }
      for (let p = 0; p < P; p++)
        for (let n = 0; n < N; n++) final[((bi * H + hd) * P + p) * N + n] = state[p][n];
    }
  return { y, final };
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1e-12;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let err = 0;
  for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
  return err / scale;
}

describe("SSD: chunked == quadratic == the recurrence", () => {
  const cases = [
    { b: 2, l: 16, h: 2, p: 3, g: 1, n: 4, Q: 4 },
    { b: 1, l: 37, h: 4, p: 2, g: 2, n: 5, Q: 8 }, // Q does not divide l: a last chunk of 5
    { b: 1, l: 20, h: 3, p: 2, g: 3, n: 3, Q: 1 }, // Q = 1: the recurrence itself
    { b: 1, l: 20, h: 2, p: 2, g: 1, n: 3, Q: 20 }, // one chunk: the quadratic form
    { b: 1, l: 20, h: 2, p: 2, g: 2, n: 3, Q: 64 }, // Q > l
    { b: 1, l: 64, h: 2, p: 4, g: 1, n: 16, Q: 16 },
  ];
  for (const c of cases) {
    it(`b=${c.b} l=${c.l} h=${c.h} p=${c.p} g=${c.g} n=${c.n}, Q=${c.Q}`, () => {
      const rng = new Rng(c.l * 31 + c.Q);
      const inp = inputs(rng, c.b, c.l, c.h, c.p, c.g, c.n);
      const want = recurrence(inp, null);
      const chunked = ssdChunked(inp, { chunkSize: c.Q });
      expect(maxRelErr(chunked.y.data, want.y)).toBeLessThan(1e-12);
      expect(maxRelErr(chunked.finalState.data, want.final)).toBeLessThan(1e-12);
      expect(maxRelErr(ssdQuadratic(inp).data, want.y)).toBeLessThan(1e-12);
      const lin = ssdRecurrence(inp);
      expect(maxRelErr(lin.y.data, want.y)).toBeLessThan(1e-12);
      expect(maxRelErr(lin.finalState.data, want.final)).toBeLessThan(1e-12);
      // The simd engine: the same algorithm on the float32 gemm (the state too), from zeros and
      // from a state; float32 sums of O(Q + n) terms: relative 1e-5 of the output's scale.
      const simd = ssdChunked(inp, { chunkSize: c.Q, engine: "simd" });
      expect(simd.y.data).toBeInstanceOf(Float64Array);
      expect(maxRelErr(simd.y.data, want.y)).toBeLessThan(1e-5);
      expect(maxRelErr(simd.finalState.data, want.final)).toBeLessThan(1e-5);
      const h0 = rng.randn([c.b, c.h, c.p, c.n]);
      const from = recurrence(inp, h0);
      const simdFrom = ssdChunked(inp, { chunkSize: c.Q, initialState: h0, engine: "simd" });
      expect(maxRelErr(simdFrom.y.data, from.y)).toBeLessThan(1e-5);
      expect(maxRelErr(simdFrom.finalState.data, from.final)).toBeLessThan(1e-5);
    });
  }

  it("the simd engine reads one position (a decoding step) with its own kernel, and refuses unknown engines", () => {
    const rng = new Rng(8);
    const inp = inputs(rng, 2, 1, 3, 5, 1, 6);
    const h0 = rng.randn([2, 3, 5, 6]);
    const want = recurrence(inp, h0);
    const got = ssdChunked(inp, { chunkSize: 4, initialState: h0, engine: "simd" });
    expect(maxRelErr(got.y.data, want.y)).toBeLessThan(1e-5);
    expect(maxRelErr(got.finalState.data, want.final)).toBeLessThan(1e-5);
    expect(() => ssdChunked(inp, { chunkSize: 4, engine: "gpu" as never })).toThrow(
      /ssdChunked: argument 'options.engine' must be one of/,
    );
  });

  it("continues from an initial state, as the recurrence does", () => {
    const rng = new Rng(5);
    const inp = inputs(rng, 2, 13, 2, 3, 1, 4);
    const h0 = rng.randn([2, 2, 3, 4]);
    const want = recurrence(inp, h0);
    const got = ssdChunked(inp, { chunkSize: 4, initialState: h0 });
    expect(maxRelErr(got.y.data, want.y)).toBeLessThan(1e-12);
    expect(maxRelErr(got.finalState.data, want.final)).toBeLessThan(1e-12);
  });

  it("a sequence split in two, the second half from the first's final state, is the whole", () => {
    const rng = new Rng(6);
    const whole = inputs(rng, 1, 24, 2, 2, 1, 3);
    const half = (from: number, to: number) => {
      const cut = (t: Tensor) => {
        const per = t.data.length / 24;
        return {
          shape: [1, to - from, ...t.shape.slice(2)],
          data: t.data.slice(from * per, to * per),
        };
      };
      return { X: cut(whole.X), A: cut(whole.A), B: cut(whole.B), C: cut(whole.C) };
    };
    const first = ssdChunked(half(0, 10), { chunkSize: 4 });
    const second = ssdChunked(half(10, 24), { chunkSize: 4, initialState: first.finalState });
    const all = ssdChunked(whole, { chunkSize: 8 });
    const joined = new Float64Array([...first.y.data, ...second.y.data]);
    expect(maxRelErr(joined, all.y.data)).toBeLessThan(1e-12);
    expect(maxRelErr(second.finalState.data, all.finalState.data)).toBeLessThan(1e-12);
  });

  it("float32 inputs give float32 outputs within float32 rounding of the float64 result", () => {
    const rng = new Rng(7);
    const inp = inputs(rng, 1, 32, 2, 2, 1, 4);
    const f32 = (t: Tensor): Tensor => ({ shape: t.shape, data: Float32Array.from(t.data) });
    const inp32 = { X: f32(inp.X), A: f32(inp.A), B: f32(inp.B), C: f32(inp.C) };
    const got = ssdChunked(inp32, { chunkSize: 8 });
    expect(got.y.data).toBeInstanceOf(Float32Array);
    expect(maxRelErr(got.y.data, recurrence(inp32 as never, null).y)).toBeLessThan(1e-6);
  });
});

describe("segsum", () => {
  it("holds the segment sums below the diagonal, 0 on it and −∞ above it", () => {
    const a = { shape: [4], data: Float64Array.from([0.5, -1, 2, -0.25]) };
    const want = [
      [0, -Infinity, -Infinity, -Infinity],
      [-1, 0, -Infinity, -Infinity],
      [1, 2, 0, -Infinity],
      [0.75, 1.75, -0.25, 0],
    ];
    for (const f of [segsum, segsumNaive]) {
      const s = f(a);
      expect(s.shape).toEqual([4, 4]);
      expect(Array.from(s.data)).toEqual(want.flat());
    }
  });

  it("the naive one loses a short segment late in a long float32 sequence; the stable one does not", () => {
    const T = 2048;
    const rng = new Rng(8);
    const a64 = Float64Array.from({ length: T }, () => -rng.uniform(0.5, 1.5));
    const a = { shape: [T], data: Float32Array.from(a64) };
    const stable = segsum(a).data;
    const naive = segsumNaive(a).data;
    // Exact sums of the float32 inputs, in float64, for segments of up to 8 steps.
    let errStable = 0;
    let errNaive = 0;
    for (let i = 0; i < T; i++) {
      let s = 0;
      for (let j = i - 1; j >= Math.max(0, i - 8); j--) {
        s += a.data[j + 1];
        errStable = Math.max(errStable, Math.abs(stable[i * T + j] - s));
        errNaive = Math.max(errNaive, Math.abs(naive[i * T + j] - s));
      }
    }
    // Stable: a few float32 roundings of numbers ≤ 12. Naive: the rounding of cumsums near −2048,
    // whose float32 spacing is 2^-13 ≈ 1.2e-4.
    expect(errStable).toBeLessThan(5e-6);
    expect(errNaive).toBeGreaterThan(5e-5);
    expect(errNaive / errStable).toBeGreaterThan(20);
  });
});

describe("bad input", () => {
  const rng = new Rng(9);
  const inp = inputs(rng, 1, 8, 4, 2, 2, 3);
  it("refuses mismatched shapes, groups that do not divide the heads, bad chunk sizes", () => {
    expect(() => ssdChunked({ ...inp, A: rng.randn([1, 7, 4]) }, { chunkSize: 4 })).toThrow(
      /ssdChunked: argument 'inputs.A' must be a tensor of shape \[1, 8, 4\]/,
    );
    const B3 = rng.randn([1, 8, 3, 3]);
    expect(() => ssdQuadratic({ ...inp, B: B3, C: B3 })).toThrow(
      /ssdQuadratic: argument 'inputs.B' must be a number of groups g .* divides the heads h = 4 \(got g = 3\)/,
    );
    expect(() => ssdChunked(inp, { chunkSize: 0 })).toThrow(
      /ssdChunked: argument 'options.chunkSize' must be an integer in \[1, 4096\]/,
    );
    expect(() => ssdChunked(inp, { chunkSize: 2.5 })).toThrow(/options.chunkSize/);
    expect(() => ssdChunked(inp, { chunkSize: 4, initialState: rng.randn([1, 4, 2, 2]) })).toThrow(
      /ssdChunked: argument 'options.initialState' must be a tensor of shape \[1, 4, 2, 3\]/,
    );
    expect(() => segsum({ shape: [2, 2], data: new Float64Array(4) })).toThrow(
      /segsum: argument 'a' must be a tensor with 1 axes/,
    );
  });

  it("refuses a NaN or ±∞ in any input; checkSsdInputs(…, { values: false }) leaves only the values unread", () => {
    const spoilt = (key: "X" | "A" | "B" | "C", i: number, v: number) => {
      const data = Float64Array.from(inp[key].data);
      data[i] = v;
      return { ...inp, [key]: { shape: inp[key].shape, data } };
    };
    const cases: ["X" | "A" | "B" | "C", number, number][] = [
      ["X", 5, NaN],
      ["A", 0, -Infinity],
      ["B", 47, Infinity],
      ["C", 12, NaN],
    ];
    for (const [key, i, v] of cases) {
      const bad = spoilt(key, i, v);
      expect(() => ssdRecurrence(bad)).toThrow(
        `ssdRecurrence: argument 'inputs.${key}' must be a tensor of finite values (got ${v} at flat index ${i})`,
      );
      expect(() => checkSsdInputs("f", bad)).toThrow(`f: argument 'inputs.${key}'`);
      expect(checkSsdInputs("f", bad, { values: false }).dims).toEqual({
        batch: 1,
        length: 8,
        heads: 4,
        headDim: 2,
        groups: 2,
        dstate: 3,
      });
    }
    // shapes are still checked without the values
    expect(() =>
      checkSsdInputs("f", { ...spoilt("X", 0, NaN), A: rng.randn([1, 7, 4]) }, { values: false }),
    ).toThrow(/f: argument 'inputs.A' must be a tensor of shape \[1, 8, 4\]/);
  });
});
