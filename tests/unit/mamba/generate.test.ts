/**
 * mambaGenerate (lib/src/mamba/generate.ts): greedy decoding picks the arg-max of the full forward
 * at each step; sampling follows softmax(logits / T) restricted to the top k; bad options are
 * refused.
 */
import { describe, expect, it } from "vitest";
import { Rng, mambaForward, mambaGenerate, sampleNextToken } from "../../../lib/src/index";
import { tinyMamba } from "../../helpers/mamba-reference";

describe("mambaGenerate", () => {
  it("greedy decoding picks the argmax of the full forward at each step", () => {
    const model = tinyMamba();
    const prompt = [3, 1, 4];
    const out = mambaGenerate(model, prompt, { maxNewTokens: 6, temperature: 0 });
    expect(out.length).toBe(6);
    const seq = [...prompt, ...out];
    const logits = mambaForward(model, [seq], { engine: "typescript" });
    for (let i = 0; i < out.length; i++) {
      const row = logits.data.subarray((prompt.length - 1 + i) * 37, (prompt.length + i) * 37);
      let best = 0;
      for (let v = 1; v < 37; v++) if (row[v] > row[best]) best = v;
      expect(out[i]).toBe(best);
    }
    // topK 1 sampling is greedy; a seeded sampler repeats itself
    expect(
      mambaGenerate(model, prompt, { maxNewTokens: 6, temperature: 1.3, topK: 1, rng: new Rng(3) }),
    ).toEqual(out);
    const s1 = mambaGenerate(model, prompt, { maxNewTokens: 6, temperature: 1, rng: new Rng(5) });
    expect(
      mambaGenerate(model, prompt, { maxNewTokens: 6, temperature: 1, rng: new Rng(5) }),
    ).toEqual(s1);
    expect(
      mambaGenerate(model, prompt, { maxNewTokens: 6, temperature: 0, stopToken: out[1] }),
    ).toEqual(out.slice(0, out.indexOf(out[1]) + 1));
  });
  it("samples from softmax(logits / T) restricted to the top k", () => {
    const logits = [0, Math.log(2), Math.log(3), -50];
    const rng = new Rng(11);
    const counts = [0, 0, 0, 0];
    const n = 30000;
    for (let i = 0; i < n; i++) counts[sampleNextToken(logits, 1, 3, rng)]++;
    // probabilities 1/6, 2/6, 3/6, 0; 5 standard errors
    [1 / 6, 2 / 6, 3 / 6].forEach((p, i) =>
      expect(Math.abs(counts[i] / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n)),
    );
    expect(counts[3]).toBe(0);
  });
  it("refuses bad options", () => {
    const model = tinyMamba();
    expect(() => mambaGenerate(model, [], { maxNewTokens: 1, temperature: 0 })).toThrow(
      /mambaGenerate: argument 'prompt'/,
    );
    expect(() => mambaGenerate(model, [1], { maxNewTokens: -1, temperature: 0 })).toThrow(
      /mambaGenerate: argument 'options.maxNewTokens'/,
    );
    expect(() => mambaGenerate(model, [1], { maxNewTokens: 1, temperature: -1 })).toThrow(
      /mambaGenerate: argument 'options.temperature'/,
    );
    expect(() => mambaGenerate(model, [1], { maxNewTokens: 1, temperature: 1, topK: 0 })).toThrow(
      /mambaGenerate: argument 'options.topK'/,
    );
    expect(() =>
      mambaGenerate(model, [1], { maxNewTokens: 1, temperature: 0, beam: 2 } as never),
    ).toThrow(
      /mambaGenerate: argument 'options' must be an options object \{ maxNewTokens, temperature, .* \} \(got an unknown key "beam"; the keys are maxNewTokens, /,
    );
  });
});
