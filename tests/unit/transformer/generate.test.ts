/**
 * transformerGenerate (lib/src/transformer/generate.ts): greedy decoding picks the arg-max of the
 * full forward at every step; seeded sampling, top-k = 1, stopToken and the final cache size.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  initTransformer,
  transformerCacheBytes,
  transformerForward,
  transformerGenerate,
  transformerGenerateWithStats,
} from "../../../lib/src/index";
import { logitsRow } from "../../helpers/reference";
import { llamaWithLargeWeights, smallLlama } from "../../helpers/llama-reference";

describe("transformerGenerate", () => {
  it("greedy decoding picks the argmax of the full forward at every step", () => {
    const m = llamaWithLargeWeights(smallLlama(), 19);
    const prompt = [3, 1, 4, 1, 5];
    const got = transformerGenerate(m, prompt, { maxNewTokens: 8, temperature: 0 });
    expect(got).toHaveLength(8);
    const seq = prompt.slice();
    for (const id of got) {
      const logits = transformerForward(m, [seq]);
      const last = Array.from(logitsRow(logits, 0, seq.length - 1));
      expect(id).toBe(last.indexOf(Math.max(...last)));
      seq.push(id);
    }
  });

  it("sampling repeats per seed, top-k = 1 is greedy, and it stops at stopToken", () => {
    const m = llamaWithLargeWeights(smallLlama(), 20);
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
    const m = llamaWithLargeWeights(smallLlama(), 21);
    const r = transformerGenerateWithStats(m, [1, 2, 3, 4], { maxNewTokens: 5, temperature: 0 });
    expect(r.tokens).toHaveLength(5);
    expect(r.cacheBytes).toBe(transformerCacheBytes(m.config, 4 + 4));
    expect(r.prefillMs).toBeGreaterThanOrEqual(0);
    expect(r.decodeMs).toBeGreaterThanOrEqual(0);
  });

  it("refuses bad prompts and options", () => {
    const m = llamaWithLargeWeights(smallLlama(), 22);
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
      /transformerGenerate: argument 'prompt' must be token ids in \[0, 13\) \(vocab_size\) \(got 20 at index 0/,
    );
  });
});

describe("transformerGenerate's cost bound", () => {
  it("refuses a generation over more than 2^16 positions before it starts (the work is quadratic)", () => {
    const m = initTransformer(smallLlama(), new Rng(1));
    const t0 = performance.now();
    expect(() => transformerGenerate(m, [1, 2], { maxNewTokens: 2 ** 20, temperature: 0 })).toThrow(
      /^transformerGenerate: argument 'options.maxNewTokens' must be an integer in \[0, 65536\] \(got 1048576\)/,
    );
    expect(() => transformerGenerate(m, [1, 2], { maxNewTokens: 65535, temperature: 0 })).toThrow(
      /^transformerGenerate: argument 'options.maxNewTokens' must be at most 65534 with this prompt: a generation runs over at most 65536 positions/,
    );
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
