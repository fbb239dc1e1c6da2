/**
 * The KV cache (lib/src/transformer/kv-cache.ts): single steps, and a prefill followed by steps,
 * give the full forward's logits past the cache's first growth; its byte count against the formula;
 * caches of another batch or model refused.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  createTransformerCache,
  transformerCacheBytes,
  transformerForward,
  transformerPrefill,
  transformerStep,
} from "../../../lib/src/index";
import { logitsRow, randomTokens, relErr } from "../../helpers/reference";
import { llamaWithLargeWeights, smallLlama } from "../../helpers/llama-reference";

describe("KV cache", () => {
  it("step-by-step decoding equals the full forward, past the cache's first growth", () => {
    const m = llamaWithLargeWeights(smallLlama(), 13);
    const tokens = randomTokens(new Rng(14), 2, 40, 13);
    const full = transformerForward(m, tokens);
    const cache = createTransformerCache(m, 2);
    let worst = 0;
    for (let t = 0; t < 40; t++) {
      const step = transformerStep(m, cache, [tokens[0][t], tokens[1][t]]);
      expect(step.shape).toEqual([2, 13]);
      for (let b = 0; b < 2; b++) {
        worst = Math.max(
          worst,
          relErr(step.data.subarray(b * 13, (b + 1) * 13), logitsRow(full, b, t)),
        );
      }
    }
    expect(worst).toBeLessThan(1e-5);
    expect(cache.position).toBe(40);
  });

  it("a prompt read at once (prefill), then single steps, equals the full forward", () => {
    const m = llamaWithLargeWeights(smallLlama({ num_key_value_heads: 1 }), 15);
    const tokens = randomTokens(new Rng(16), 1, 30, 13);
    const full = transformerForward(m, tokens);
    const cache = createTransformerCache(m);
    const last = transformerPrefill(m, cache, [tokens[0].slice(0, 20)]);
    expect(last.shape).toEqual([1, 13]);
    expect(relErr(last.data, logitsRow(full, 0, 19))).toBeLessThan(1e-5);
    expect(cache.position).toBe(20);
    // A second chunk appended to a filled cache attends to the first.
    const chunk = transformerPrefill(m, cache, [tokens[0].slice(20, 25)]);
    expect(relErr(chunk.data, logitsRow(full, 0, 24))).toBeLessThan(1e-5);
    for (let t = 25; t < 30; t++) {
      const step = transformerStep(m, cache, [tokens[0][t]]);
      expect(relErr(step.data, logitsRow(full, 0, t))).toBeLessThan(1e-5);
    }
  });

  it("counts its bytes: 2 (K, V) · layers · KV heads · head_dim · 4 bytes per position", () => {
    const c = smallLlama(); // 2 layers, 2 KV heads, head_dim 4: 2·2·2·4·4 = 128 bytes per position
    expect(transformerCacheBytes(c, 0)).toBe(0);
    expect(transformerCacheBytes(c, 1)).toBe(128);
    expect(transformerCacheBytes(c, 8192)).toBe(128 * 8192);
    expect(transformerCacheBytes(c, 10, 3)).toBe(128 * 30);
    expect(() => transformerCacheBytes(c, -1)).toThrow(
      /transformerCacheBytes: argument 'position'/,
    );
  });

  it("refuses a cache of another batch or model, and bad tokens", () => {
    const m = llamaWithLargeWeights(smallLlama(), 18);
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
    const other = llamaWithLargeWeights(smallLlama({ num_hidden_layers: 3 }), 18);
    expect(() => transformerStep(other, cache, [1, 2])).toThrow(
      /transformerStep: argument 'cache' must be a cache from createTransformerCache/,
    );
    expect(() => createTransformerCache(m, 0)).toThrow(/createTransformerCache: argument 'batch'/);
  });
});
