/**
 * mambaLastLogits, mamba2LastLogits, transformerLastLogits and attentionEvalBytes
 * (lib/src/extrapolation/last-logits.ts): the last position's logits equal those of the full
 * forward (mambaForward, mamba2Forward, transformerForward) for every prefill split and chunk
 * length; the byte
 * budget and the byte count's formula; errors name the function the user called.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  attentionEvalBytes,
  initMamba,
  initMamba2,
  initTransformer,
  llamaConfig,
  mamba2Forward,
  mamba2LastLogits,
  mambaForward,
  mambaLastLogits,
  transformerCacheBytes,
  transformerForward,
  transformerLastLogits,
} from "../../../lib/src/index";
import { SMALL_LLAMA, SMALL_MAMBA, lastPositionLogits, relErr } from "../../helpers/reference";

const tokens = (b: number, l: number, seed: number) => {
  const rng = new Rng(seed);
  return { shape: [b, l], data: Int32Array.from({ length: b * l }, () => rng.int(16)) };
};

describe("mambaLastLogits", () => {
  const model = initMamba(SMALL_MAMBA, new Rng(1));
  it("equals mambaForward's last position for every split between prefill and recurrent steps, on each engine", () => {
    const t = tokens(3, 37, 2);
    const want = lastPositionLogits(mambaForward(model, t, { engine: "typescript" }));
    for (const engine of [undefined, "simd", "typescript"] as const)
      for (const prefill of [1, 5, 36, 37, 4096]) {
        const got = mambaLastLogits(model, t, { prefill, ...(engine ? { engine } : {}) });
        expect(got.shape).toEqual([3, 16]);
        // float32 activations summed in another order: a few float32 ulps of the logits' scale.
        expect(relErr(got.data, want), `${engine} prefill ${prefill}`).toBeLessThan(1e-4);
      }
  });
  it("rejects bad input naming the function and argument", () => {
    expect(() => mambaLastLogits(model, tokens(1, 4, 0), { prefill: 0 })).toThrow(
      /mambaLastLogits: .*prefill/,
    );
    expect(() => mambaLastLogits(model, [[1, 99]])).toThrow(/mambaLastLogits: .*tokens/);
    expect(() => mambaLastLogits(model, tokens(1, 4, 0), { chunk: 3 } as never)).toThrow(
      /mambaLastLogits: .*options/,
    );
  });
});

describe("mamba2LastLogits", () => {
  // Two groups of B and C, heads of 4, chunks of 4: the prefill's chunked SSD has whole chunks, a
  // partial chunk and the recurrent steps to agree with.
  const config = {
    vocab_size: 16,
    hidden_size: 8,
    num_hidden_layers: 2,
    state_size: 4,
    head_dim: 4,
    n_groups: 2,
    conv_kernel: 3,
    chunk_size: 4,
  };
  const model = initMamba2(config, new Rng(3));
  it("equals mamba2Forward's last position for every split between prefill and recurrent steps, on each engine", () => {
    const t = tokens(3, 23, 4);
    const want = lastPositionLogits(mamba2Forward(model, t, { engine: "typescript" }));
    for (const engine of [undefined, "simd", "typescript"] as const)
      for (const prefill of [1, 5, 8, 22, 23, 4096]) {
        const got = mamba2LastLogits(model, t, { prefill, ...(engine ? { engine } : {}) });
        expect(got.shape).toEqual([3, 16]);
        // float32 activations summed in another order: a few float32 ulps of the logits' scale.
        expect(relErr(got.data, want), `${engine} prefill ${prefill}`).toBeLessThan(1e-4);
      }
  });
  it("rejects bad input naming the function and argument", () => {
    expect(() => mamba2LastLogits(model, tokens(1, 4, 0), { prefill: 0 })).toThrow(
      /mamba2LastLogits: .*prefill/,
    );
    expect(() => mamba2LastLogits(model, [[1, 99]])).toThrow(/mamba2LastLogits: .*tokens/);
    expect(() => mamba2LastLogits(model, [[]])).toThrow(/mamba2LastLogits: .*tokens/);
    expect(() => mamba2LastLogits(initMamba(SMALL_MAMBA, new Rng(1)) as never, [[1]])).toThrow(
      /mamba2LastLogits: argument 'model/,
    );
  });
});

describe("transformerLastLogits", () => {
  const model = initTransformer(SMALL_LLAMA, new Rng(3));
  it("equals transformerForward's last position for every chunk length", () => {
    const t = tokens(2, 45, 4);
    const want = lastPositionLogits(transformerForward(model, t));
    for (const chunk of [1, 7, 16, 45, 1024]) {
      const got = transformerLastLogits(model, t, { chunk });
      expect(got.shape).toEqual([2, 16]);
      expect(relErr(got.data, want), `chunk ${chunk}`).toBeLessThan(1e-4);
    }
  });
  it("refuses a length over the byte budget, naming both numbers", () => {
    const t = tokens(1, 100, 5);
    const need = attentionEvalBytes(model.config, 100, 1);
    expect(() => transformerLastLogits(model, t, { budgetBytes: need - 1 })).toThrow(
      new RegExp(`transformerLastLogits: .*budgetBytes = ${need - 1}.*${need} bytes`),
    );
    expect(transformerLastLogits(model, t, { budgetBytes: need }).shape).toEqual([1, 16]);
  });
  it("names itself, not the decoding functions it runs, in errors about its arguments", () => {
    // A vocabulary of 2^20 (the widest activation) on a model small enough to build quickly.
    const wide = initTransformer(
      {
        ...SMALL_LLAMA,
        vocab_size: 1 << 20,
        hidden_size: 2,
        intermediate_size: 2,
        num_attention_heads: 1,
        num_key_value_heads: 1,
        tie_word_embeddings: true,
      },
      new Rng(1),
    );
    expect(() => transformerLastLogits(wide, tokens(1, 300, 5), { chunk: 300 })).toThrow(
      /^transformerLastLogits: tokens: 300 positions × 1048576 \(the widest activation\)/,
    );
    const bad = { config: model.config, params: new Map(model.params) };
    bad.params.set("model.norm.weight", {
      shape: [model.config.hidden_size],
      data: new Float32Array(model.config.hidden_size).fill(NaN),
    });
    expect(() => transformerLastLogits(bad, tokens(1, 10, 5))).toThrow(
      /^transformerLastLogits: argument 'model.params' must hold finite values \(got NaN in "model.norm.weight"/,
    );
  });
});

describe("attentionEvalBytes", () => {
  const config = llamaConfig(SMALL_LLAMA);
  it("is the KV cache at its doubled capacity plus one float64 score row", () => {
    // By hand: 2 (k, v) · 2 layers · 2 KV heads · head_dim 4 · 4 bytes = 128 bytes per slot.
    expect(attentionEvalBytes(config, 16)).toBe(128 * 16 + 8 * 16);
    expect(attentionEvalBytes(config, 17)).toBe(128 * 32 + 8 * 17);
    expect(attentionEvalBytes(config, 1000, 3)).toBe(128 * 1024 * 3 + 8 * 1000);
    // At a power of two the cache part is transformerCacheBytes (an independent formula).
    expect(attentionEvalBytes(config, 4096, 2)).toBe(
      transformerCacheBytes(config, 4096, 2) + 8 * 4096,
    );
  });
  it("rejects bad sizes", () => {
    expect(() => attentionEvalBytes(config, 0)).toThrow(/attentionEvalBytes: .*length/);
    expect(() => attentionEvalBytes(config, 8, 1.5)).toThrow(/attentionEvalBytes: .*batch/);
  });
});
