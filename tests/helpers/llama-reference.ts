/**
 * The Transformer++ (Hugging Face's LlamaForCausalLM) in float64, written from the equations, not
 * from lib's code: nested arrays per token, RoPE as a complex rotation, repeat_kv materialised, a
 * masked softmax. Shared by the tests of lib/src/transformer (forward, RoPE, attention, KV cache,
 * generation), with the small configurations they run.
 */
import {
  type LlamaConfig,
  Rng,
  type Tensor,
  type TransformerModel,
  initTransformer,
  llamaConfig,
} from "../../lib/src/index";

export type Vec = number[];
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
export const ropeRef = (x: Vec, p: number, theta: number): Vec => {
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
export const attendRef = (q: Vec, ks: Vec[], vs: Vec[], last: number): Vec => {
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
export function llamaReferenceLogits(model: TransformerModel, seq: number[]): number[][] {
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

export const smallLlama = (over: Partial<LlamaConfig> = {}): LlamaConfig =>
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
export function llamaWithLargeWeights(config: LlamaConfig, seed = 0): TransformerModel {
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
