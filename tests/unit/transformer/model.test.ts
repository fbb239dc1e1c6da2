import { describe, expect, it } from "vitest";
import {
  type LlamaConfig,
  Rng,
  type Tensor,
  type TransformerModel,
  applyRope,
  causalAttention,
  createTransformerCache,
  initTransformer,
  llamaConfig,
  ropeInvFreq,
  transformerCacheBytes,
  transformerForward,
  transformerGenerate,
  transformerGenerateWithStats,
  transformerPrefill,
  transformerParamCount,
  transformerParamShapes,
  transformerStep,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";

// ---------------------------------------------------------------------------------------------
// Float64 references, written from the equations (HF's LlamaForCausalLM), not from lib's code:
// nested arrays per token, RoPE as a complex rotation, repeat_kv materialised, a masked softmax.
// ---------------------------------------------------------------------------------------------

type Vec = number[];
const matvec = (w: Tensor, x: Vec): Vec => {
  const [out, inp] = w.shape;
  return Array.from({ length: out }, (_, o) => {
    let s = 0;
    for (let i = 0; i < inp; i++) s += w.data[o * inp + i] * x[i];
    return s;
  });
};
const rms = (x: Vec, w: Tensor, eps: number): Vec => {
  const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
  return x.map((v, j) => (v / Math.sqrt(ms + eps)) * w.data[j]);
};
/** RoPE as a complex product: (x_j + i·x_{j+h/2}) · e^{i·p·θ^(−2j/h)}. */
const ropeRef = (x: Vec, p: number, theta: number): Vec => {
  const h = x.length;
  const out = x.slice();
  for (let j = 0; j < h / 2; j++) {
    const angle = p * Math.exp((-2 * j * Math.log(theta)) / h);
    const re = x[j];
    const im = x[j + h / 2];
    out[j] = re * Math.cos(angle) - im * Math.sin(angle);
    out[j + h / 2] = re * Math.sin(angle) + im * Math.cos(angle);
  }
  return out;
};
/** softmax(q·k/√h + mask) v for one query; keys beyond `last` masked with −∞. */
const attendRef = (q: Vec, ks: Vec[], vs: Vec[], last: number): Vec => {
  const s = ks.map((k, j) =>
    j <= last ? k.reduce((a, kv, e) => a + kv * q[e], 0) / Math.sqrt(q.length) : -Infinity,
  );
  const m = Math.max(...s);
  const w = s.map((v) => Math.exp(v - m));
  const z = w.reduce((a, b) => a + b, 0);
  return q.map((_, e) => vs.reduce((a, v, j) => a + (w[j] / z) * v[e], 0));
};
const heads = (x: Vec, n: number): Vec[] => {
  const hd = x.length / n;
  return Array.from({ length: n }, (_, h) => x.slice(h * hd, (h + 1) * hd));
};

/** The whole model in float64, one sequence: logits[t][v]. */
function referenceLogits(model: TransformerModel, seq: number[]): number[][] {
  const c = model.config;
  const P = (n: string): Tensor => model.params.get(n)!;
  const E = P("model.embed_tokens.weight");
  const d = c.hidden_size;
  const H = c.num_attention_heads;
  const G = c.num_key_value_heads;
  let xs: Vec[] = seq.map((id) => Array.from(E.data.subarray(id * d, (id + 1) * d)));
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    const a = xs.map((x) => rms(x, P(`${p}input_layernorm.weight`), c.rms_norm_eps));
    const q = a.map((x, t) =>
      heads(matvec(P(`${p}self_attn.q_proj.weight`), x), H).map((h) => ropeRef(h, t, c.rope_theta)),
    );
    const k = a.map((x, t) =>
      heads(matvec(P(`${p}self_attn.k_proj.weight`), x), G).map((h) => ropeRef(h, t, c.rope_theta)),
    );
    const v = a.map((x) => heads(matvec(P(`${p}self_attn.v_proj.weight`), x), G));
    // repeat_kv: query head h reads KV head floor(h / (H / G)).
    const kvOf = (h: number): number => Math.floor(h / (H / G));
    xs = xs.map((x, t) => {
      const att: Vec = [];
      for (let h = 0; h < H; h++) {
        att.push(
          ...attendRef(
            q[t][h],
            k.map((kt) => kt[kvOf(h)]),
            v.map((vt) => vt[kvOf(h)]),
            t,
          ),
        );
      }
      const o = matvec(P(`${p}self_attn.o_proj.weight`), att);
      return x.map((xv, j) => xv + o[j]);
    });
    xs = xs.map((x) => {
      const m = rms(x, P(`${p}post_attention_layernorm.weight`), c.rms_norm_eps);
      const g = matvec(P(`${p}mlp.gate_proj.weight`), m);
      const u = matvec(P(`${p}mlp.up_proj.weight`), m);
      const hidden = g.map((gv, j) => (gv / (1 + Math.exp(-gv))) * u[j]);
      const down = matvec(P(`${p}mlp.down_proj.weight`), hidden);
      return x.map((xv, j) => xv + down[j]);
    });
  }
  const head = c.tie_word_embeddings ? E : P("lm_head.weight");
  return xs.map((x) => matvec(head, rms(x, P("model.norm.weight"), c.rms_norm_eps)));
}

const small = (over: Partial<LlamaConfig> = {}): LlamaConfig =>
  llamaConfig({
    vocab_size: 13,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    ...over,
  });

/** A model with weights large enough (std 0.3) that attention is far from uniform. */
function model(config: LlamaConfig, seed = 0): TransformerModel {
  const m = initTransformer({ ...config, initializer_range: 0.3 }, new Rng(seed));
  // Non-trivial norm weights, so a mix-up of norms would show.
  const rng = new Rng(seed + 100);
  for (const [name, t] of m.params) {
    if (t.shape.length === 1)
      for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(0.5, 1.5);
    void name;
  }
  return m;
}

const randomTokens = (rng: Rng, b: number, l: number, vocab: number): number[][] =>
  Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(vocab)));

const row = (logits: Tensor, b: number, t: number): Float32Array => {
  const [, l, v] = logits.shape;
  return logits.data.subarray((b * l + t) * v, (b * l + t + 1) * v) as Float32Array;
};

// ---------------------------------------------------------------------------------------------

describe("llamaConfig", () => {
  it("fills HF's defaults and derives head_dim = hidden_size / num_attention_heads", () => {
    const c = llamaConfig({
      vocab_size: 10,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
    });
    expect(c).toEqual({
      vocab_size: 10,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      head_dim: 8,
      rope_theta: 10000,
      rms_norm_eps: 1e-6,
      max_position_embeddings: 2048,
      tie_word_embeddings: false,
      initializer_range: 0.02,
      pad_token_id: null,
    });
    expect(small({ head_dim: 6 }).head_dim).toBe(6);
  });

  it("lists the LlamaForCausalLM tensors with their shapes", () => {
    const c = small({ head_dim: 6 });
    const shapes = transformerParamShapes(c);
    expect(shapes.get("model.layers.1.self_attn.q_proj.weight")).toEqual([24, 16]);
    expect(shapes.get("model.layers.1.self_attn.k_proj.weight")).toEqual([12, 16]);
    expect(shapes.get("model.layers.0.self_attn.o_proj.weight")).toEqual([16, 24]);
    expect(shapes.get("model.layers.0.mlp.down_proj.weight")).toEqual([16, 24]);
    expect(shapes.get("lm_head.weight")).toEqual([13, 16]);
    expect(shapes.size).toBe(1 + 2 * 9 + 2);
    expect(transformerParamShapes(small({ tie_word_embeddings: true })).has("lm_head.weight")).toBe(
      false,
    );
    // embed 13·16, per layer 2·16 + 64·16 (q) + 2·32·16 (k, v) + 16·64 (o) + 3·24·16, norm, head.
    const perLayer = 2 * 16 + 64 * 16 + 2 * 32 * 16 + 16 * 64 + 3 * 24 * 16;
    expect(transformerParamCount(small({ head_dim: 16 }))).toBe(13 * 16 * 2 + 16 + 2 * perLayer);
  });

  it("refuses bad fields, naming them", () => {
    const base = {
      vocab_size: 10,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 4,
    };
    expect(() => llamaConfig({ ...base, num_key_value_heads: 3 })).toThrow(
      /llamaConfig: argument 'fields.num_key_value_heads' must be a divisor of num_attention_heads \(4\)/,
    );
    expect(() => llamaConfig({ ...base, head_dim: 5 })).toThrow(
      /argument 'fields.head_dim' must be an even/,
    );
    expect(() => llamaConfig({ ...base, hidden_size: 30 })).toThrow(
      /argument 'fields.head_dim' must be given when hidden_size/,
    );
    expect(() => llamaConfig({ ...base, hidden_sise: 3 } as never)).toThrow(
      /llamaConfig: argument 'fields' must be an object with only the fields .* \(got an unknown field "hidden_sise"/,
    );
    expect(() => llamaConfig({ ...base, hidden_act: "gelu" } as never)).toThrow(
      /argument 'fields.hidden_act' must be "silu", the only value lib implements for the MLP's activation \(got "gelu"\)/,
    );
    const { vocab_size: _, ...noVocab } = base;
    expect(() => llamaConfig(noVocab)).toThrow(/\(got no field "vocab_size"/);
    expect(() => llamaConfig({ ...base, rope_theta: -1 })).toThrow(
      /rope_theta' must be a positive/,
    );
    expect(() => llamaConfig({ ...base, tie_word_embeddings: 1 as never })).toThrow(
      /llamaConfig: argument 'fields.tie_word_embeddings' must be true or false/,
    );
  });
});

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

describe("transformerForward", () => {
  for (const [label, over] of [
    ["grouped-query, untied", {}],
    [
      "multi-head, tied, explicit head_dim",
      { num_key_value_heads: 4, tie_word_embeddings: true, head_dim: 6 },
    ],
    ["multi-query (one KV head)", { num_key_value_heads: 1, rope_theta: 100 }],
  ] as const) {
    it(`equals a float64 reference of the LLaMA equations (${label})`, () => {
      const m = model(small(over), 5);
      const tokens = randomTokens(new Rng(6), 2, 11, 13);
      const logits = transformerForward(m, tokens);
      expect(logits.shape).toEqual([2, 11, 13]);
      expect(logits.data).toBeInstanceOf(Float32Array);
      const want = tokens.flatMap((seq) => referenceLogits(m, seq).flat());
      expect(relErr(logits.data, want)).toBeLessThan(2e-6);
    });
  }

  it("is causal: changing a later token leaves earlier logits unchanged", () => {
    const m = model(small(), 7);
    const a = [[1, 2, 3, 4, 5, 6]];
    const b = [[1, 2, 3, 9, 9, 9]];
    const la = transformerForward(m, a);
    const lb = transformerForward(m, b);
    for (let t = 0; t < 3; t++)
      expect(Array.from(row(lb, 0, t))).toEqual(Array.from(row(la, 0, t)));
    expect(relErr(row(lb, 0, 3), row(la, 0, 3))).toBeGreaterThan(1e-3);
  });

  it("grouped-query attention equals multi-head attention with each KV head repeated", () => {
    const gqa = model(small({ num_attention_heads: 4, num_key_value_heads: 2 }), 8);
    const mha: TransformerModel = {
      config: { ...gqa.config, num_key_value_heads: 4 },
      params: new Map(gqa.params),
    };
    const hd = gqa.config.head_dim;
    const d = gqa.config.hidden_size;
    for (let i = 0; i < gqa.config.num_hidden_layers; i++) {
      for (const proj of ["k_proj", "v_proj"]) {
        const name = `model.layers.${i}.self_attn.${proj}.weight`;
        const w = gqa.params.get(name)!;
        const data = new Float32Array(4 * hd * d);
        // MHA head h takes the rows of GQA KV head floor(h / 2): repeat_kv.
        for (let h = 0; h < 4; h++) {
          const g = Math.floor(h / 2);
          data.set(w.data.subarray(g * hd * d, (g + 1) * hd * d), h * hd * d);
        }
        mha.params.set(name, { shape: [4 * hd, d], data });
      }
    }
    const tokens = randomTokens(new Rng(9), 2, 8, 13);
    const a = transformerForward(gqa, tokens);
    const b = transformerForward(mha, tokens);
    expect(relErr(a.data, b.data)).toBeLessThan(1e-6);
  });

  it("accepts an Int32Array (b, l) tensor like number[][]", () => {
    const m = model(small(), 10);
    const tokens = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const a = transformerForward(m, tokens);
    const b = transformerForward(m, { shape: [2, 3], data: Int32Array.from(tokens.flat()) });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it("refuses bad tokens and broken models, naming the argument", () => {
    const m = model(small(), 11);
    expect(() => transformerForward(m, [[1, 13]])).toThrow(
      /transformerForward: argument 'tokens' must be token ids in \[0, 13\) \(vocab_size\) \(got 13 at flat index 1/,
    );
    expect(() => transformerForward(m, [[1, 2], [3]])).toThrow(
      /transformerForward: argument 'tokens' must be number\[\]\[\] with rows of equal length 2 \(got .* as row 1/,
    );
    expect(() => transformerForward(m, [[1.5]])).toThrow(
      /must be a batch of integer ids \(got 1.5/,
    );
    expect(() =>
      transformerForward(m, { shape: [1, 2], data: new Float32Array(2) } as never),
    ).toThrow(
      /transformerForward: argument 'tokens' must be \{ shape: \[b, l\], data: Int32Array \} or number\[\]\[\]/,
    );
    expect(() => transformerForward(m, { shape: [1, 3], data: new Int32Array(2) })).toThrow(
      /argument 'tokens' must be a tensor of shape \[b, l\] matching its 2 ids \(got shape \[1, 3\]/,
    );
    const missing = { config: m.config, params: new Map(m.params) };
    missing.params.delete("model.layers.1.mlp.up_proj.weight");
    expect(() => transformerForward(missing, [[1]])).toThrow(
      /transformerForward: argument 'model.params' must hold every tensor of the config \(got no tensor "model.layers.1.mlp.up_proj.weight"/,
    );
    const wrong = { config: m.config, params: new Map(m.params) };
    wrong.params.set("model.norm.weight", { shape: [15], data: new Float32Array(15) });
    expect(() => transformerForward(wrong, [[1]])).toThrow(
      /argument 'model.params' must hold tensor "model.norm.weight" of shape \[16\] \(got shape \[15\]/,
    );
    const tied = { config: { ...m.config, tie_word_embeddings: true }, params: m.params };
    expect(() => transformerForward(tied, [[1]])).toThrow(
      /got an unexpected tensor "lm_head.weight" \(tie_word_embeddings is true\)/,
    );
    expect(() => transformerForward(null as never, [[1]])).toThrow(
      /transformerForward: argument 'model' must be/,
    );
    const wide = initTransformer({ ...m.config, vocab_size: 1 << 20 }, new Rng(1));
    expect(() => transformerForward(wide, [Array.from({ length: 300 }, () => 1)])).toThrow(
      /transformerForward: tokens: 300 positions × 1048576 \(the widest activation\)/,
    );
  });
});

describe("non-finite weights", () => {
  it("are refused by the function the user called, naming the tensor and index", () => {
    const m = model(small(), 23);
    const bad = { config: m.config, params: new Map(m.params) };
    const w = m.params.get("model.layers.1.mlp.gate_proj.weight")!;
    const data = Float32Array.from(w.data);
    data[5] = NaN;
    bad.params.set("model.layers.1.mlp.gate_proj.weight", { shape: w.shape, data });
    const named = (fn: string) =>
      new RegExp(
        `^${fn}: argument 'model.params' must hold finite values \\(got NaN in "model.layers.1.mlp.gate_proj.weight" at flat index 5\\)`,
      );
    expect(() => transformerForward(bad, [[1, 2]])).toThrow(named("transformerForward"));
    expect(() => transformerPrefill(bad, createTransformerCache(bad), [[1, 2]])).toThrow(
      named("transformerPrefill"),
    );
    expect(() => transformerGenerate(bad, [1], { maxNewTokens: 1, temperature: 0 })).toThrow(
      named("transformerGenerate"),
    );
  });
});

describe("initTransformer", () => {
  it("draws matrices from N(0, initializer_range²), sets norms to 1, repeats per seed", () => {
    const c = llamaConfig({
      vocab_size: 64,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      initializer_range: 0.05,
    });
    const m = initTransformer(c, new Rng(12));
    expect([...m.params.keys()]).toEqual([...transformerParamShapes(c).keys()]);
    const up = Array.from(m.params.get("model.layers.0.mlp.up_proj.weight")!.data);
    const mean = up.reduce((a, b) => a + b, 0) / up.length;
    const std = Math.sqrt(up.reduce((a, b) => a + (b - mean) ** 2, 0) / up.length);
    // 8192 samples: the sample std is within 3% of 0.05 with overwhelming probability.
    expect(Math.abs(std - 0.05)).toBeLessThan(0.0015);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(m.params.get("model.norm.weight")!.data.every((v) => v === 1)).toBe(true);
    const again = initTransformer(c, new Rng(12));
    expect(Array.from(again.params.get("lm_head.weight")!.data)).toEqual(
      Array.from(m.params.get("lm_head.weight")!.data),
    );
    expect(() => initTransformer(c, 12 as never)).toThrow(
      /initTransformer: argument 'rng' must be an Rng/,
    );
  });
});

describe("KV cache", () => {
  it("step-by-step decoding equals the full forward, past the cache's first growth", () => {
    const m = model(small(), 13);
    const tokens = randomTokens(new Rng(14), 2, 40, 13);
    const full = transformerForward(m, tokens);
    const cache = createTransformerCache(m, 2);
    let worst = 0;
    for (let t = 0; t < 40; t++) {
      const step = transformerStep(m, cache, [tokens[0][t], tokens[1][t]]);
      expect(step.shape).toEqual([2, 13]);
      for (let b = 0; b < 2; b++) {
        worst = Math.max(worst, relErr(step.data.subarray(b * 13, (b + 1) * 13), row(full, b, t)));
      }
    }
    expect(worst).toBeLessThan(1e-5);
    expect(cache.position).toBe(40);
  });

  it("a prompt read at once (prefill), then single steps, equals the full forward", () => {
    const m = model(small({ num_key_value_heads: 1 }), 15);
    const tokens = randomTokens(new Rng(16), 1, 30, 13);
    const full = transformerForward(m, tokens);
    const cache = createTransformerCache(m);
    const last = transformerPrefill(m, cache, [tokens[0].slice(0, 20)]);
    expect(last.shape).toEqual([1, 13]);
    expect(relErr(last.data, row(full, 0, 19))).toBeLessThan(1e-5);
    expect(cache.position).toBe(20);
    // A second chunk appended to a filled cache attends to the first.
    const chunk = transformerPrefill(m, cache, [tokens[0].slice(20, 25)]);
    expect(relErr(chunk.data, row(full, 0, 24))).toBeLessThan(1e-5);
    for (let t = 25; t < 30; t++) {
      const step = transformerStep(m, cache, [tokens[0][t]]);
      expect(relErr(step.data, row(full, 0, t))).toBeLessThan(1e-5);
    }
  });

  it("counts its bytes: 2 (K, V) · layers · KV heads · head_dim · 4 bytes per position", () => {
    const c = small(); // 2 layers, 2 KV heads, head_dim 4: 2·2·2·4·4 = 128 bytes per position
    expect(transformerCacheBytes(c, 0)).toBe(0);
    expect(transformerCacheBytes(c, 1)).toBe(128);
    expect(transformerCacheBytes(c, 8192)).toBe(128 * 8192);
    expect(transformerCacheBytes(c, 10, 3)).toBe(128 * 30);
    expect(() => transformerCacheBytes(c, -1)).toThrow(
      /transformerCacheBytes: argument 'position'/,
    );
  });

  it("refuses a cache of another batch or model, and bad tokens", () => {
    const m = model(small(), 18);
    const cache = createTransformerCache(m, 2);
    expect(() => transformerStep(m, cache, [1])).toThrow(
      /transformerStep: argument 'tokens' must be an array of 2 ids \(one per sequence of the cache\)/,
    );
    expect(() => transformerStep(m, cache, [1, 13])).toThrow(
      /transformerStep: argument 'tokens' must be token ids in \[0, 13\)/,
    );
    expect(() => transformerPrefill(m, cache, [[1, 2]])).toThrow(
      /transformerPrefill: argument 'tokens' must be a batch of 2 sequences \(the cache's batch\) \(got 1/,
    );
    const other = model(small({ num_hidden_layers: 3 }), 18);
    expect(() => transformerStep(other, cache, [1, 2])).toThrow(
      /transformerStep: argument 'cache' must be a cache from createTransformerCache/,
    );
    expect(() => createTransformerCache(m, 0)).toThrow(/createTransformerCache: argument 'batch'/);
  });
});

describe("transformerGenerate", () => {
  it("greedy decoding picks the argmax of the full forward at every step", () => {
    const m = model(small(), 19);
    const prompt = [3, 1, 4, 1, 5];
    const got = transformerGenerate(m, prompt, { maxNewTokens: 8, temperature: 0 });
    expect(got).toHaveLength(8);
    const seq = prompt.slice();
    for (const id of got) {
      const logits = transformerForward(m, [seq]);
      const last = Array.from(row(logits, 0, seq.length - 1));
      expect(id).toBe(last.indexOf(Math.max(...last)));
      seq.push(id);
    }
  });

  it("sampling repeats per seed, top-k = 1 is greedy, and it stops at stopToken", () => {
    const m = model(small(), 20);
    const prompt = [1, 2, 3];
    const greedy = transformerGenerate(m, prompt, { maxNewTokens: 6, temperature: 0 });
    const opts = (seed: number) => ({ maxNewTokens: 6, temperature: 1.5, rng: new Rng(seed) });
    const a = transformerGenerate(m, prompt, opts(1));
    expect(transformerGenerate(m, prompt, opts(1))).toEqual(a);
    expect(
      new Set([2, 3, 4, 5].map((s) => transformerGenerate(m, prompt, opts(s)).join())),
    ).not.toEqual(new Set([a.join()]));
    expect(transformerGenerate(m, prompt, { ...opts(2), topK: 1 })).toEqual(greedy);
    expect(transformerGenerate(m, [1], { maxNewTokens: 0, temperature: 0 })).toEqual([]);
    const stopAt = greedy[2];
    const stopped = transformerGenerate(m, prompt, {
      maxNewTokens: 6,
      temperature: 0,
      stopToken: stopAt,
    });
    expect(stopped).toEqual(greedy.slice(0, greedy.indexOf(stopAt) + 1));
  });

  it("reports the final cache size: the prompt plus every generated token but the last", () => {
    const m = model(small(), 21);
    const r = transformerGenerateWithStats(m, [1, 2, 3, 4], { maxNewTokens: 5, temperature: 0 });
    expect(r.tokens).toHaveLength(5);
    expect(r.cacheBytes).toBe(transformerCacheBytes(m.config, 4 + 4));
    expect(r.prefillMs).toBeGreaterThanOrEqual(0);
    expect(r.decodeMs).toBeGreaterThanOrEqual(0);
  });

  it("refuses bad prompts and options", () => {
    const m = model(small(), 22);
    expect(() => transformerGenerate(m, [1], { maxNewTokens: 2, temperature: -1 })).toThrow(
      /transformerGenerate: argument 'options.temperature' must be a number >= 0/,
    );
    expect(() =>
      transformerGenerate(m, [1], { maxNewTokens: 2, temperature: 0, topK: 14 }),
    ).toThrow(/argument 'options.topK' must be an integer in \[1, 13\]/);
    expect(() =>
      transformerGenerate(m, [1], { maxNewTokens: 2, temperature: 0, top_k: 1 } as never),
    ).toThrow(/unknown key "top_k"/);
    expect(() => transformerGenerate(m, [], { maxNewTokens: 2, temperature: 0 })).toThrow(
      /transformerGenerate: argument 'prompt' must be a non-empty number\[\]/,
    );
    expect(() => transformerGenerate(m, [20], { maxNewTokens: 2, temperature: 0 })).toThrow(
      /transformerGenerate: argument 'prompt' must be integer ids in \[0, 13\) \(vocab_size\) \(got 20 at index 0/,
    );
  });
});
