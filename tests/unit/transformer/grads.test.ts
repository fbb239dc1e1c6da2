/**
 * transformerLossAndGrads (lib/src/transformer/grads.ts) and the attention and RoPE backwards: the
 * loss is the cross-entropy of transformerForward's logits; every parameter's gradient against
 * central finite differences in float64; float32 against float64; RoPE's backward is its transpose.
 */
import { describe, expect, it } from "vitest";
import {
  type LlamaConfig,
  Rng,
  type Tensor,
  type TransformerModel,
  applyRope,
  applyRopeBackward,
  astype,
  causalAttentionBackward,
  initTransformer,
  llamaConfig,
  transformerForward,
  transformerLossAndGrads,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";

const config = (over: Partial<LlamaConfig> = {}): LlamaConfig =>
  llamaConfig({
    vocab_size: 7,
    hidden_size: 8,
    intermediate_size: 12,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rope_theta: 50,
    ...over,
  });

/** A model with weights large enough (std 0.4) that every path matters, norms not all 1. */
function model(c: LlamaConfig, seed: number, dtype: "float32" | "float64"): TransformerModel {
  const m = initTransformer({ ...c, initializer_range: 0.4 }, new Rng(seed));
  const rng = new Rng(seed + 1);
  const params = new Map<string, Tensor>();
  for (const [name, t] of m.params) {
    if (t.shape.length === 1)
      for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(0.5, 1.5);
    params.set(name, astype(t, dtype));
  }
  return { config: m.config, params };
}

const tokens = (rng: Rng, b: number, l: number, vocab: number): number[][] =>
  Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(vocab)));

/**
 * Central finite differences of the loss against every parameter entry, in float64:
 * (L(θ + h) − L(θ − h)) / 2h, compared with the analytic gradient, error relative to the
 * tensor's largest gradient.
 */
function worstFdError(
  m: TransformerModel,
  ids: number[][],
  options: Parameters<typeof transformerLossAndGrads>[2] = {},
): number {
  const { grads } = transformerLossAndGrads(m, ids, options);
  const h = 1e-6;
  let worst = 0;
  for (const [name, t] of m.params) {
    const g = grads.get(name)!;
    expect(g.shape).toEqual(t.shape);
    expect(g.data).toBeInstanceOf(Float64Array);
    const scale = Math.max(1e-3, ...Array.from(g.data, Math.abs));
    for (let i = 0; i < t.data.length; i++) {
      const keep = t.data[i];
      t.data[i] = keep + h;
      const up = transformerLossAndGrads(m, ids, options).loss;
      t.data[i] = keep - h;
      const down = transformerLossAndGrads(m, ids, options).loss;
      t.data[i] = keep;
      worst = Math.max(worst, Math.abs((up - down) / (2 * h) - g.data[i]) / scale);
    }
  }
  return worst;
}

describe("transformerLossAndGrads", () => {
  it("its loss is the next-token cross-entropy of transformerForward's logits", () => {
    const m = model(config(), 1, "float32");
    const ids = tokens(new Rng(2), 2, 9, 7);
    const { loss, count, correct, grads } = transformerLossAndGrads(m, ids);
    const logits = transformerForward(m, ids);
    let want = 0;
    let right = 0;
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 8; t++) {
        const row = Array.from(logits.data.subarray((b * 9 + t) * 7, (b * 9 + t + 1) * 7));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0));
        want += (lse - row[ids[b][t + 1]]) / 16;
        if (row.indexOf(max) === ids[b][t + 1]) right++;
      }
    }
    expect(count).toBe(16);
    expect(correct).toBe(right);
    expect(Math.abs(loss - want)).toBeLessThan(1e-5);
    expect(grads.get("model.layers.0.self_attn.q_proj.weight")!.data).toBeInstanceOf(Float32Array);
  });

  it("matches finite differences for every parameter (grouped-query, untied)", () => {
    const m = model(config(), 3, "float64");
    expect(worstFdError(m, tokens(new Rng(4), 2, 6, 7))).toBeLessThan(1e-6);
  });

  it("matches finite differences with a tied head, one KV head, targets and a mask", () => {
    const c = config({ tie_word_embeddings: true, num_key_value_heads: 1, num_hidden_layers: 1 });
    const m = model(c, 5, "float64");
    const ids = tokens(new Rng(6), 2, 5, 7);
    const targets = [
      [3, -100, 1, 0, 6],
      [2, 2, -100, 5, 4],
    ];
    const mask = [1, 1, 0, 1, 1, 0, 1, 1, 1, 1];
    expect(worstFdError(m, ids, { targets: targets, mask: mask })).toBeLessThan(1e-6);
    const r = transformerLossAndGrads(m, ids, { targets: targets, mask: mask });
    expect(r.count).toBe(6); // 8 targets not ignored, 2 of them (flat 2 and 5) masked
  });

  it("in float32 (training) agrees with the float64 gradients", () => {
    const m32 = model(config(), 10, "float32");
    const m64: TransformerModel = {
      config: m32.config,
      params: new Map([...m32.params].map(([n, t]) => [n, astype(t, "float64")])),
    };
    const ids = tokens(new Rng(11), 2, 12, 7);
    const a = transformerLossAndGrads(m32, ids);
    const b = transformerLossAndGrads(m64, ids);
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5);
    for (const [name, g] of a.grads) {
      expect(g.data).toBeInstanceOf(Float32Array);
      expect(relErr(g.data, b.grads.get(name)!.data), name).toBeLessThan(1e-4);
    }
  });

  it("refuses bad options and models", () => {
    const m = model(config(), 7, "float32");
    expect(() => transformerLossAndGrads(m, [[1, 2]], { target: [[1, 2]] } as never)).toThrow(
      /transformerLossAndGrads: argument 'options' must be an options object \{ targets\?, mask\?, engine\?, pool\? \} \(got an unknown key "target"/,
    );
    expect(() => transformerLossAndGrads(m, [[1, 2]], { targets: [[1, 2, 3]] })).toThrow(
      /argument 'options.targets' must be a \(b, l\) batch of shape \[1, 2\] like tokens \(got \[1, 3\]/,
    );
    expect(() => transformerLossAndGrads(m, [[1, 9]])).toThrow(
      /transformerLossAndGrads: argument 'tokens' must be token ids in \[0, 7\)/,
    );
    expect(() => transformerLossAndGrads(m, [Array.from({ length: 6000 }, () => 1)])).toThrow(
      /transformerLossAndGrads: argument 'tokens' must be a batch whose b·H·l² attention weights per layer .* \(got 144000000\)/,
    );
    expect(() => transformerLossAndGrads(m, [[1, 2]], { mask: [1, 1, 1] })).toThrow(
      /transformerLossAndGrads: argument 'options.mask' must be an array of 2 weights \(one per position\)/,
    );
    expect(() => transformerLossAndGrads(m, [[1, 2]], { mask: [0, 0] })).toThrow(
      /transformerLossAndGrads: argument 'tokens' must leave at least one position with a target/,
    );
    const nan = { config: m.config, params: new Map(m.params) };
    nan.params.set("model.norm.weight", {
      shape: [8],
      data: new Float32Array(8).fill(Infinity),
    });
    expect(() => transformerLossAndGrads(nan, [[1, 2]])).toThrow(
      /transformerLossAndGrads: argument 'model.params' must hold finite values \(got Infinity in "model.norm.weight" at flat index 0\)/,
    );
    const mixed = { config: m.config, params: new Map(m.params) };
    mixed.params.set("model.norm.weight", astype(m.params.get("model.norm.weight")!, "float64"));
    expect(() => transformerLossAndGrads(mixed, [[1, 2]])).toThrow(
      /argument 'model.params' must hold tensors of one dtype \(float32\) \(got float64 in "model.norm.weight"/,
    );
    expect(() => transformerForward(model(config(), 7, "float64"), [[1]])).toThrow(
      /transformerForward: argument 'model.params' must hold float32 data \(got a Float64Array in "model.embed_tokens.weight"/,
    );
  });
});

describe("causalAttentionBackward and applyRopeBackward", () => {
  /** Float64 causal attention from the definition, (b, H, l, hd) with GQA, offset lk − lq. */
  function attention(q: Tensor, k: Tensor, v: Tensor): Float64Array {
    const [b, H, lq, hd] = q.shape;
    const [, G, lk] = k.shape;
    const out = new Float64Array(q.data.length);
    const at = (t: Tensor, bi: number, h: number, n: number, l: number, j: number, e: number) =>
      t.data[((bi * n + h) * l + j) * hd + e];
    for (let bi = 0; bi < b; bi++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / (H / G));
        for (let i = 0; i < lq; i++) {
          const s: number[] = [];
          for (let j = 0; j <= lk - lq + i; j++) {
            let dot = 0;
            for (let e = 0; e < hd; e++)
              dot += at(q, bi, h, H, lq, i, e) * at(k, bi, g, G, lk, j, e);
            s.push(dot / Math.sqrt(hd));
          }
          const m = Math.max(...s);
          const w = s.map((x) => Math.exp(x - m));
          const z = w.reduce((a, x) => a + x, 0);
          for (let e = 0; e < hd; e++) {
            let o = 0;
            w.forEach((wj, j) => (o += (wj / z) * at(v, bi, g, G, lk, j, e)));
            out[((bi * H + h) * lq + i) * hd + e] = o;
          }
        }
      }
    }
    return out;
  }

  it("attention's backward matches finite differences of a float64 reference", () => {
    const rng = new Rng(8);
    const q = rng.randn([2, 4, 3, 4], 1.5);
    const k = rng.randn([2, 2, 5, 4], 1.5);
    const v = rng.randn([2, 2, 5, 4]);
    const g = rng.randn([2, 4, 3, 4]);
    const { dq, dk, dv } = causalAttentionBackward(q, k, v, g);
    const loss = (): number => attention(q, k, v).reduce((a, o, i) => a + o * g.data[i], 0);
    const h = 1e-6;
    let worst = 0;
    for (const [t, d] of [
      [q, dq],
      [k, dk],
      [v, dv],
    ] as const) {
      expect(d.shape).toEqual(t.shape);
      for (let i = 0; i < t.data.length; i++) {
        const keep = t.data[i];
        t.data[i] = keep + h;
        const up = loss();
        t.data[i] = keep - h;
        const down = loss();
        t.data[i] = keep;
        worst = Math.max(worst, Math.abs((up - down) / (2 * h) - d.data[i]));
      }
    }
    expect(worst).toBeLessThan(1e-7);
  });

  it("RoPE's backward is its transpose: <rope(x), g> = <x, ropeBackward(g)>", () => {
    const rng = new Rng(9);
    const x = rng.randn([2, 3, 6, 8]);
    const g = rng.randn([2, 3, 6, 8]);
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += a[i] * b[i];
      return s;
    };
    const lhs = dot(applyRope(x, 100, 7).data, g.data);
    const back = applyRopeBackward(g, 100, 7);
    expect(back.data).toBeInstanceOf(Float64Array);
    expect(Math.abs(lhs - dot(x.data, back.data))).toBeLessThan(1e-5 * Math.sqrt(x.data.length));
    // ... and it is the inverse rotation (R orthogonal): ropeBackward(rope(x)) = x.
    const round = applyRopeBackward(applyRope(x, 100, 7), 100, 7);
    let worst = 0;
    for (let i = 0; i < x.data.length; i++)
      worst = Math.max(worst, Math.abs(round.data[i] - x.data[i]));
    expect(worst).toBeLessThan(1e-6);
  });
});
