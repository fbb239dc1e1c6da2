/**
 * causalAttention (lib/src/transformer/attention.ts) against the float64 masked-softmax reference
 * of tests/helpers/llama-reference.ts, with grouped KV heads, fewer queries at the end of the keys
 * (decoding) and explicit offsets.
 */
import { describe, expect, it } from "vitest";
import { Rng, type Tensor, causalAttention } from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";
import { type Vec, attendRef } from "../../helpers/llama-reference";

// ---------------------------------------------------------------------------------------------

describe("causalAttention", () => {
  const naive = (q: Tensor, k: Tensor, v: Tensor, offset: number): Float64Array => {
    const [b, H, lq, hd] = q.shape;
    const [, G, lk] = k.shape;
    const out = new Float64Array(b * H * lq * hd);
    const vecs = (t: Tensor, bi: number, h: number, n: number, l: number): Vec[] =>
      Array.from({ length: l }, (_, j) =>
        Array.from(t.data.subarray(((bi * n + h) * l + j) * hd, ((bi * n + h) * l + j + 1) * hd)),
      );
    for (let bi = 0; bi < b; bi++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor((h * G) / H);
        const ks = vecs(k, bi, g, G, lk);
        const vs = vecs(v, bi, g, G, lk);
        const qs = vecs(q, bi, h, H, lq);
        qs.forEach((qi, i) =>
          out.set(attendRef(qi, ks, vs, offset + i), ((bi * H + h) * lq + i) * hd),
        );
      }
    }
    return out;
  };

  it("equals a float64 masked-softmax reference with grouped KV heads", () => {
    const rng = new Rng(3);
    const q = rng.randn([2, 6, 9, 8], 2, "float32");
    const k = rng.randn([2, 3, 9, 8], 2, "float32");
    const v = rng.randn([2, 3, 9, 8], 1, "float32");
    const out = causalAttention(q, k, v);
    expect(out.shape).toEqual([2, 6, 9, 8]);
    expect(relErr(out.data, naive(q, k, v, 0))).toBeLessThan(1e-6);
  });

  it("places fewer queries at the end of the keys (decoding) or at an explicit offset", () => {
    const rng = new Rng(4);
    const q = rng.randn([1, 2, 3, 4], 2, "float32");
    const k = rng.randn([1, 1, 10, 4], 2, "float32");
    const v = rng.randn([1, 1, 10, 4], 1, "float32");
    expect(relErr(causalAttention(q, k, v).data, naive(q, k, v, 7))).toBeLessThan(1e-6);
    expect(relErr(causalAttention(q, k, v, { offset: 2 }).data, naive(q, k, v, 2))).toBeLessThan(
      1e-6,
    );
  });

  it("refuses mismatched heads and shapes", () => {
    const t = (s: number[]): Tensor => ({
      shape: s,
      data: new Float32Array(s.reduce((a, b) => a * b)),
    });
    expect(() => causalAttention(t([1, 4, 2, 4]), t([1, 3, 2, 4]), t([1, 3, 2, 4]))).toThrow(
      /causalAttention: argument 'k' must be a tensor whose number of key\/value heads divides the 4 query heads \(got 3\)/,
    );
    expect(() => causalAttention(t([1, 4, 2, 4]), t([1, 2, 2, 6]), t([1, 2, 2, 6]))).toThrow(
      /causalAttention: argument 'k' must be a tensor of shape \[1, \*, \*, 4\]/,
    );
    expect(() => causalAttention(t([1, 4, 2, 4]), t([1, 2, 2, 4]), t([1, 2, 3, 4]))).toThrow(
      /causalAttention: argument 'v' must be a tensor of shape \[1, 2, 2, 4\]/,
    );
    expect(() =>
      causalAttention(t([1, 4, 2, 4]), t([1, 2, 2, 4]), t([1, 2, 2, 4]), { off: 1 } as never),
    ).toThrow(/unknown key "off"/);
  });
});
