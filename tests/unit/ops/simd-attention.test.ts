/**
 * The Transformer++ ops of the simd backend (lib/src/ops/simd/attention.ts and
 * attention-kernels.ts) against the reference backend run on float64 copies of the same inputs:
 * RoPE and its backward, grouped-query causal attention forward and backward (one KV head up to
 * one per query head, head_dim ≠ d_model / heads and odd half-widths, lengths across the query
 * blocks and not multiples of 4), attention against a KV cache (a prompt, then single tokens,
 * then a chunk), and the elementwise product. Tolerance: max |simd − reference| ≤ 1e-5 of the
 * reference's largest value (float32 rounding of sums over at most a few hundred terms).
 */
import { describe, expect, it } from "vitest";
import { Rng, type Tensor } from "../../../lib/src/index";
import { simdBackend } from "../../../lib/src/ops/simd/index";
import { reference } from "../../../lib/src/ops/reference/index";
import type { LayerKV } from "../../../lib/src/ops/backend";
import { ropeInverseFrequencies } from "../../../lib/src/transformer/model";
import { relErr, relMax } from "../../helpers/reference";

const simd = simdBackend();
const rng = new Rng(31);
/** A float32 tensor of normal values and its float64 copy. */
function pair(shape: number[], scale = 1): [Tensor, Tensor] {
  const n = shape.reduce((a, x) => a * x, 1);
  const f = Float32Array.from({ length: n }, () => scale * rng.normal());
  return [
    { shape, data: f },
    { shape, data: Float64Array.from(f) },
  ];
}

describe("RoPE on the simd backend", () => {
  for (const [heads, hd, start] of [
    [3, 6, 0], // half-width 3: no whole vector
    [2, 16, 5], // two vectors per half
    [1, 10, 1000], // a vector and a single value
  ]) {
    it(`${heads} heads of ${hd}, positions from ${start}: forward and backward`, () => {
      simd.begin();
      const b = 2;
      const l = 9;
      const invFreq = ropeInverseFrequencies(hd, 10000);
      const [x, x64] = pair([b, l, heads * hd]);
      const y = simd.rope(x, heads, hd, start, invFreq);
      expect(y.shape).toEqual([b, l, heads * hd]);
      expect(relMax(y.data, reference.rope(x64, heads, hd, start, invFreq).data)).toBeLessThan(
        1e-6,
      );
      const g = simd.ropeBackward(x, heads, hd, start, invFreq);
      const gRef = reference.ropeBackward(x64, heads, hd, start, invFreq);
      expect(relMax(g.data, gRef.data)).toBeLessThan(1e-6);
    });
  }
});

describe("grouped-query causal attention on the simd backend", () => {
  const cases = [
    { b: 2, l: 37, H: 4, Hkv: 1, hd: 6 },
    { b: 1, l: 130, H: 4, Hkv: 2, hd: 16 }, // three query blocks of 64
    { b: 3, l: 5, H: 2, Hkv: 2, hd: 3 },
    { b: 1, l: 1, H: 3, Hkv: 1, hd: 8 },
    { b: 2, l: 300, H: 2, Hkv: 1, hd: 16 },
  ];
  for (const { b, l, H, Hkv, hd } of cases) {
    it(`b ${b}, l ${l}, ${H} query heads on ${Hkv} KV heads of ${hd}: forward, training forward and backward`, () => {
      simd.begin();
      const shape = { heads: H, kvHeads: Hkv, headDim: hd };
      const [q, q64] = pair([b, l, H * hd], 1.5);
      const [k, k64] = pair([b, l, Hkv * hd], 1.5);
      const [v, v64] = pair([b, l, Hkv * hd]);
      const [g, g64] = pair([b, l, H * hd]);
      const ref = reference.attentionTrain(q64, k64, v64, shape);
      const y = simd.attention(q, k, v, shape, null);
      expect(relMax(y.data, ref.out.data)).toBeLessThan(1e-5);
      const t = simd.attentionTrain(q, k, v, shape);
      expect(relMax(t.out.data, ref.out.data)).toBeLessThan(1e-5);
      const r = reference.attentionBackward(q64, k64, v64, shape, ref.saved, g64);
      const f = simd.attentionBackward(q, k, v, shape, t.saved, g);
      expect(f.dq.shape).toEqual(q.shape);
      expect(f.dk.shape).toEqual(k.shape);
      // with a single key every weight is 1, and ∂q, ∂k are exactly zero in float64: there the
      // error is absolute
      const agree = (got: ArrayLike<number>, want: Float64Array | Float32Array) =>
        want.every((x) => x === 0) ? relErr(got, want) : relMax(got, want);
      expect(agree(f.dq.data, r.dq.data)).toBeLessThan(1e-5);
      expect(agree(f.dk.data, r.dk.data)).toBeLessThan(1e-5);
      expect(agree(f.dv.data, r.dv.data)).toBeLessThan(1e-5);
    });
  }

  it("against a KV cache: a prompt, single tokens and a chunk, past a cache's capacity", () => {
    const [b, H, Hkv, hd] = [2, 4, 2, 6];
    const shape = { heads: H, kvHeads: Hkv, headDim: hd };
    const width = Hkv * hd;
    const cacheOf = (capacity: number, like: Float32Array | Float64Array): LayerKV => {
      const make = () => ({
        shape: [b, capacity, width],
        data: new (like.constructor as Float32ArrayConstructor)(b * capacity * width),
      });
      return { k: make(), v: make(), length: 0 };
    };
    const cache = cacheOf(80, new Float32Array(0));
    const cache64 = cacheOf(80, new Float64Array(0));
    for (const n of [7, 1, 1, 13, 1, 50]) {
      simd.begin();
      const [q, q64] = pair([b, n, H * hd], 1.5);
      const [k, k64] = pair([b, n, width], 1.5);
      const [v, v64] = pair([b, n, width]);
      const y = simd.attention(q, k, v, shape, cache);
      const want = reference.attention(q64, k64, v64, shape, cache64);
      expect(cache.length).toBe(cache64.length);
      expect(relMax(y.data, want.data), `${n} new positions`).toBeLessThan(1e-5);
    }
    expect(cache.length).toBe(73);
  });
});

describe("the elementwise product on the simd backend", () => {
  it("equals the float64 product rounded once, with a length not a multiple of 4", () => {
    simd.begin();
    const [a, a64] = pair([3, 7]);
    const [c, c64] = pair([3, 7]);
    const y = simd.mul(a, c);
    expect(Array.from(y.data)).toEqual(Array.from(reference.mul(a64, c64).data, Math.fround));
  });
});
