/**
 * Decoding with the cache (lib/src/mamba/cache.ts): single steps, and a prefill followed by steps,
 * give the full forward's logits at every position (mambaForward, checked against the float64
 * oracle in forward.test.ts); caches of another model, used caches and wrong token counts are
 * refused.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  createMambaCache,
  initMamba,
  mambaCacheBytes,
  mambaForward,
  mambaPrefill,
  mambaStep,
} from "../../../lib/src/index";
import { MAMBA_TOKENS, tinyMamba } from "../../helpers/mamba-reference";
import { relErr } from "../../helpers/reference";

describe("decoding with the cache", () => {
  it("step-by-step logits equal the full forward at every position", () => {
    const model = tinyMamba();
    const full = mambaForward(model, MAMBA_TOKENS, { engine: "typescript" });
    const cache = createMambaCache(model, 2);
    const bytes = mambaCacheBytes(cache);
    const V = 37;
    const stepped = new Float32Array(full.data.length);
    for (let t = 0; t < 12; t++) {
      const logits = mambaStep(model, cache, [MAMBA_TOKENS[0][t], MAMBA_TOKENS[1][t]]);
      expect(logits.shape).toEqual([2, V]);
      for (let b = 0; b < 2; b++)
        stepped.set(logits.data.subarray(b * V, (b + 1) * V), (b * 12 + t) * V);
      expect(mambaCacheBytes(cache)).toBe(bytes);
    }
    expect(relErr(stepped, full.data)).toBeLessThan(1e-5);
    // L · b · E · (k + N) float32 values
    expect(bytes).toBe(2 * 2 * 48 * (4 + 8) * 4);
    expect(cache.position).toBe(12);
  });
  it("prefill leaves the cache the steps would, and decoding continues identically", () => {
    const model = tinyMamba();
    for (const len of [2, 7]) {
      const prompt = MAMBA_TOKENS.map((r) => r.slice(0, len));
      const a = createMambaCache(model, 2);
      const last = mambaPrefill(model, a, prompt);
      const b = createMambaCache(model, 2);
      let stepLast = mambaStep(model, b, [prompt[0][0], prompt[1][0]]);
      for (let t = 1; t < len; t++) stepLast = mambaStep(model, b, [prompt[0][t], prompt[1][t]]);
      expect(relErr(last.data, stepLast.data)).toBeLessThan(1e-5);
      for (let i = 0; i < 2; i++) {
        expect(relErr(a.conv[i].data, b.conv[i].data)).toBeLessThan(1e-6);
        expect(relErr(a.ssm[i].data, b.ssm[i].data)).toBeLessThan(1e-5);
      }
      const next = [MAMBA_TOKENS[0][len], MAMBA_TOKENS[1][len]];
      expect(relErr(mambaStep(model, a, next).data, mambaStep(model, b, next).data)).toBeLessThan(
        1e-5,
      );
    }
  });
  it("refuses a cache of another model, a used cache for prefill, and wrong token counts", () => {
    const model = tinyMamba();
    const other = initMamba({ vocab_size: 37, hidden_size: 16, num_hidden_layers: 2 }, new Rng(1));
    const cache = createMambaCache(other, 1);
    expect(() => mambaStep(model, cache, [1])).toThrow(
      /mambaStep: argument 'cache' must be a cache made by createMambaCache for this model/,
    );
    const c = createMambaCache(model, 1);
    expect(() => mambaStep(model, c, [1, 2])).toThrow(
      /mambaStep: argument 'tokens' must be an array of 1 ids/,
    );
    mambaStep(model, c, [1]);
    expect(() => mambaPrefill(model, c, [[1]])).toThrow(
      /mambaPrefill: argument 'cache' must be a fresh cache/,
    );
    expect(() => createMambaCache(model, 0)).toThrow(/createMambaCache: argument 'batch'/);
  });

  it("a weight made non-finite in place after a call is refused by name on the next, on every engine", () => {
    for (const engine of ["typescript", "simd", "simd-threads"] as const) {
      const model = tinyMamba();
      const calls = [
        () => mambaForward(model, [MAMBA_TOKENS[0]], { engine }),
        () => mambaPrefill(model, createMambaCache(model, 1), [MAMBA_TOKENS[0]], { engine }),
      ];
      for (const call of calls) call(); // found finite: not read again by the next calls
      // the final norm's weight, in place (the simd engines read it where it is)
      model.params.get("backbone.norm_f.weight")!.data[3] = NaN;
      for (const [i, call] of calls.entries())
        expect(call, `${engine} call ${i}`).toThrow(
          /^mamba(Forward|Prefill): argument 'model.params' must hold finite values \(got NaN in "backbone.norm_f.weight" at flat index 3\)/,
        );
    }
  });
});
