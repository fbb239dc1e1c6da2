/**
 * transformerForward (lib/src/transformer/forward.ts, the one definition of model.ts) against the
 * float64 LLaMA of tests/helpers/llama-reference.ts; causality; grouped-query attention equal to
 * multi-head attention with repeated KV heads; non-finite weights refused by the function the user
 * called.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type TransformerModel,
  createTransformerCache,
  initTransformer,
  transformerForward,
  transformerGenerate,
  transformerPrefill,
} from "../../../lib/src/index";
import { logitsRow, randomTokens, relErr } from "../../helpers/reference";
import {
  llamaReferenceLogits,
  llamaWithLargeWeights,
  smallLlama,
} from "../../helpers/llama-reference";

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
      const m = llamaWithLargeWeights(smallLlama(over), 5);
      const tokens = randomTokens(new Rng(6), 2, 11, 13);
      const logits = transformerForward(m, tokens);
      expect(logits.shape).toEqual([2, 11, 13]);
      expect(logits.data).toBeInstanceOf(Float32Array);
      const want = tokens.flatMap((seq) => llamaReferenceLogits(m, seq).flat());
      expect(relErr(logits.data, want)).toBeLessThan(2e-6);
    });
  }

  it("is causal: changing a later token leaves earlier logits unchanged", () => {
    const m = llamaWithLargeWeights(smallLlama(), 7);
    const a = [[1, 2, 3, 4, 5, 6]];
    const b = [[1, 2, 3, 9, 9, 9]];
    const la = transformerForward(m, a);
    const lb = transformerForward(m, b);
    for (let t = 0; t < 3; t++)
      expect(Array.from(logitsRow(lb, 0, t))).toEqual(Array.from(logitsRow(la, 0, t)));
    expect(relErr(logitsRow(lb, 0, 3), logitsRow(la, 0, 3))).toBeGreaterThan(1e-3);
  });

  it("grouped-query attention equals multi-head attention with each KV head repeated", () => {
    const gqa = llamaWithLargeWeights(
      smallLlama({ num_attention_heads: 4, num_key_value_heads: 2 }),
      8,
    );
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
    const m = llamaWithLargeWeights(smallLlama(), 10);
    const tokens = [
      [1, 2, 3],
      [4, 5, 6],
    ];
    const a = transformerForward(m, tokens);
    const b = transformerForward(m, { shape: [2, 3], data: Int32Array.from(tokens.flat()) });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });

  it("refuses bad tokens and broken models, naming the argument", () => {
    const m = llamaWithLargeWeights(smallLlama(), 11);
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
      /transformerForward: argument 'model.params' must hold every tensor of the config \(got no "model.layers.1.mlp.up_proj.weight" of shape/,
    );
    const wrong = { config: m.config, params: new Map(m.params) };
    wrong.params.set("model.norm.weight", { shape: [15], data: new Float32Array(15) });
    expect(() => transformerForward(wrong, [[1]])).toThrow(
      /argument 'model.params' must hold "model.norm.weight" of shape \[16\] from the config \(got shape \[15\]/,
    );
    const tied = { config: { ...m.config, tie_word_embeddings: true }, params: m.params };
    expect(() => transformerForward(tied, [[1]])).toThrow(
      /got an unexpected "lm_head.weight" \(tie_word_embeddings is true\)/,
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
    const m = llamaWithLargeWeights(smallLlama(), 23);
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
