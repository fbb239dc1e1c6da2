/**
 * initTransformer (lib/src/transformer/init.ts): "hf" matrices from N(0, initializer_range²) by
 * their sample statistics; "fan-in" projections from U(±1/√fan_in), the residual outputs divided
 * by √(2·n_layer), the embedding from N(0, initializer_range²); norms 1, repeatable per seed.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  initMamba,
  initTransformer,
  llamaConfig,
  transformerParamShapes,
} from "../../../lib/src/index";

// ---------------------------------------------------------------------------------------------

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
    expect(() => initTransformer(c, new Rng(1), { init: "xavier" as never })).toThrow(
      /initTransformer: argument 'options.init'/,
    );
  });

  it('"fan-in": every projection U(±1/√fan_in), o_proj and down_proj ÷ √(2·n_layer), embedding N(0, initializer_range²)', () => {
    const layers = 3;
    const c = llamaConfig({
      vocab_size: 80,
      hidden_size: 64,
      intermediate_size: 160,
      num_hidden_layers: layers,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      tie_word_embeddings: false,
    });
    const m = initTransformer(c, new Rng(5), { init: "fan-in" });
    const stats = (name: string) => {
      const v = Array.from(m.params.get(name)!.data);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
      return { n: v.length, mean, std, maxAbs: Math.max(...v.map(Math.abs)) };
    };
    // Expected bounds written from upstream's rule: fan_in = the weight's second dimension.
    const expected: [string, number][] = [
      ["lm_head.weight", 1 / Math.sqrt(64)],
      ...Array.from({ length: layers }, (_, i): [string, number][] => [
        [`model.layers.${i}.self_attn.q_proj.weight`, 1 / 8],
        [`model.layers.${i}.self_attn.k_proj.weight`, 1 / 8],
        [`model.layers.${i}.self_attn.v_proj.weight`, 1 / 8],
        [`model.layers.${i}.self_attn.o_proj.weight`, 1 / 8 / Math.sqrt(2 * layers)],
        [`model.layers.${i}.mlp.gate_proj.weight`, 1 / 8],
        [`model.layers.${i}.mlp.up_proj.weight`, 1 / 8],
        [`model.layers.${i}.mlp.down_proj.weight`, 1 / Math.sqrt(160) / Math.sqrt(2 * layers)],
      ]).flat(),
    ];
    for (const [name, bound] of expected) {
      const s = stats(name);
      // U(±b): std b/√3; the sample std of n >= 2048 draws is within 5% with overwhelming
      // probability, the max within the bound and close to it.
      expect(s.maxAbs, name).toBeLessThanOrEqual(bound);
      expect(s.maxAbs, name).toBeGreaterThan(0.98 * bound);
      expect(Math.abs(s.std / (bound / Math.sqrt(3)) - 1), name).toBeLessThan(0.05);
      expect(Math.abs(s.mean), name).toBeLessThan(0.1 * bound);
    }
    const emb = stats("model.embed_tokens.weight");
    expect(Math.abs(emb.std / 0.02 - 1)).toBeLessThan(0.05);
    // Normal, not uniform: 4.6% of normal draws lie beyond 2σ, none of a uniform's (max 1.73σ).
    const tail = Array.from(m.params.get("model.embed_tokens.weight")!.data).filter(
      (v) => Math.abs(v) > 0.04,
    ).length;
    expect(tail / emb.n).toBeGreaterThan(0.03);
    expect(tail / emb.n).toBeLessThan(0.065);
    expect(m.params.get("model.layers.1.input_layernorm.weight")!.data.every((v) => v === 1)).toBe(
      true,
    );
    const again = initTransformer(c, new Rng(5), { init: "fan-in" });
    expect(Array.from(again.params.get("model.layers.2.mlp.down_proj.weight")!.data)).toEqual(
      Array.from(m.params.get("model.layers.2.mlp.down_proj.weight")!.data),
    );
  });
});

describe("model size caps", () => {
  it("refuse a config of more than 2 GiB of float32 parameters at once, for both models", () => {
    // 9.4e8 parameters (3.8 GB): each field within its own limit, the total not
    const wide = {
      vocab_size: 50000,
      hidden_size: 8192,
      intermediate_size: 28672,
      num_hidden_layers: 4,
      num_attention_heads: 64,
    };
    const t0 = performance.now();
    expect(() => initTransformer(wide, new Rng(1))).toThrow(
      /^initTransformer: argument 'config' must describe at most 536608767 parameters \(2 GiB of float32, what one safetensors file holds\) \(got \d+, \d+\.\d GiB\)/,
    );
    // hidden 4096, 1024 layers: about 52e9 parameters, refused before anything is allocated
    expect(() =>
      initMamba({ vocab_size: 100, hidden_size: 4096, num_hidden_layers: 1024 }, new Rng(1)),
    ).toThrow(/^initMamba: argument 'config' must describe at most 536608767 parameters/);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
