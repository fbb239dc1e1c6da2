/**
 * initTransformer (lib/src/transformer/init.ts): matrices from N(0, initializer_range²) by their
 * sample statistics, norms 1, repeatable per seed.
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
