/**
 * llamaConfig and the parameter shapes (lib/src/transformer/config.ts) against Hugging Face's
 * LlamaConfig defaults and the LlamaForCausalLM tensor list, written out here; field errors.
 */
import { describe, expect, it } from "vitest";
import { llamaConfig, transformerParamCount, transformerParamShapes } from "../../../lib/src/index";
import { smallLlama } from "../../helpers/llama-reference";

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
    expect(smallLlama({ head_dim: 6 }).head_dim).toBe(6);
  });

  it("lists the LlamaForCausalLM tensors with their shapes", () => {
    const c = smallLlama({ head_dim: 6 });
    const shapes = transformerParamShapes(c);
    expect(shapes.get("model.layers.1.self_attn.q_proj.weight")).toEqual([24, 16]);
    expect(shapes.get("model.layers.1.self_attn.k_proj.weight")).toEqual([12, 16]);
    expect(shapes.get("model.layers.0.self_attn.o_proj.weight")).toEqual([16, 24]);
    expect(shapes.get("model.layers.0.mlp.down_proj.weight")).toEqual([16, 24]);
    expect(shapes.get("lm_head.weight")).toEqual([13, 16]);
    expect(shapes.size).toBe(1 + 2 * 9 + 2);
    expect(
      transformerParamShapes(smallLlama({ tie_word_embeddings: true })).has("lm_head.weight"),
    ).toBe(false);
    // embed 13·16, per layer 2·16 + 64·16 (q) + 2·32·16 (k, v) + 16·64 (o) + 3·24·16, norm, head.
    const perLayer = 2 * 16 + 64 * 16 + 2 * 32 * 16 + 16 * 64 + 3 * 24 * 16;
    expect(transformerParamCount(smallLlama({ head_dim: 16 }))).toBe(
      13 * 16 * 2 + 16 + 2 * perLayer,
    );
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
