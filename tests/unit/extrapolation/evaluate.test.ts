/**
 * inductionCorrect and inductionExtrapolation (lib/src/extrapolation/evaluate.ts): the count of
 * correct examples equals the arg-max of a full forward's last-position logits (the reference),
 * slices add up, a Transformer++ over its byte budget scores null, and each length uses its seeded
 * set.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  attentionEvalBytes,
  extrapolationSet,
  inductionCorrect,
  inductionExtrapolation,
  inductionHeads,
  initMamba,
  initMamba2,
  initTransformer,
  mamba2Forward,
  mambaForward,
  transformerForward,
} from "../../../lib/src/index";
import { SMALL_LLAMA, SMALL_MAMBA, lastPositionLogits } from "../../helpers/reference";

describe("inductionCorrect / inductionExtrapolation", () => {
  const mamba = initMamba(SMALL_MAMBA, new Rng(6));
  const tf = initTransformer(SMALL_LLAMA, new Rng(7));
  const mamba2 = initMamba2(
    {
      vocab_size: 16,
      hidden_size: 8,
      num_hidden_layers: 2,
      state_size: 4,
      head_dim: 4,
      n_groups: 1,
      chunk_size: 4,
    },
    new Rng(10),
  );
  it("counts the examples whose arg-max last-position logits equal the target (a full forward as reference)", () => {
    const set = inductionHeads(new Rng(8), { count: 6, length: 20, vocabSize: 16 });
    for (const model of [mamba, mamba2, tf]) {
      const t = { shape: [6, 20], data: set.inputs };
      const logits =
        model === mamba
          ? mambaForward(mamba, t)
          : model === mamba2
            ? mamba2Forward(mamba2, t)
            : transformerForward(tf, t);
      const last = lastPositionLogits(logits);
      const wantHits = Array.from({ length: 6 }, (_, i) => {
        const row = last.slice(i * 16, i * 16 + 16);
        return row.indexOf(Math.max(...row)) === set.targets[i] ? 1 : 0;
      });
      const want = wantHits.filter((h) => h === 1).length;
      const got = inductionCorrect(model, set, { batchSize: 4 })!;
      expect(Array.from(got.hits)).toEqual(wantHits);
      expect(got.correct).toBe(want);
      expect(got.count).toBe(6);
      expect(got.hits.reduce((a, h) => a + h, 0)).toBe(want);
      // Slices add up to the whole.
      const a = inductionCorrect(model, set, { from: 0, to: 2 })!;
      const b = inductionCorrect(model, set, { from: 2, to: 6, batchSize: 3 })!;
      expect(a.correct + b.correct).toBe(want);
    }
  });
  it("recurrent mode (prefill 1: every position through mambaStep) scores each example as a full forward does", () => {
    // A model whose answers are neither all right nor all wrong, so that per-example hits differ.
    const set = inductionHeads(new Rng(9), { count: 24, length: 12, vocabSize: 16 });
    const last = lastPositionLogits(mambaForward(mamba, { shape: [24, 12], data: set.inputs }));
    const want = Array.from({ length: 24 }, (_, i) => {
      const row = last.slice(i * 16, i * 16 + 16);
      return row.indexOf(Math.max(...row)) === set.targets[i] ? 1 : 0;
    });
    expect(want.some((h) => h === 1) && want.some((h) => h === 0)).toBe(true);
    for (const prefill of [1, 5]) {
      const got = inductionCorrect(mamba, set, { batchSize: 7, prefill })!;
      expect(Array.from(got.hits), `prefill ${prefill}`).toEqual(want);
      expect(got.correct).toBe(want.filter((h) => h === 1).length);
    }
    // Mamba-2 in recurrent mode too (every position through mamba2Step).
    const last2 = lastPositionLogits(mamba2Forward(mamba2, { shape: [24, 12], data: set.inputs }));
    const want2 = Array.from({ length: 24 }, (_, i) => {
      const row = last2.slice(i * 16, i * 16 + 16);
      return row.indexOf(Math.max(...row)) === set.targets[i] ? 1 : 0;
    });
    expect(Array.from(inductionCorrect(mamba2, set, { batchSize: 7, prefill: 1 })!.hits)).toEqual(
      want2,
    );
    expect(() => inductionCorrect(tf, set, { prefill: 1 })).toThrow(
      /inductionCorrect: argument 'options.prefill' must be absent for a Transformer\+\+/,
    );
  });

  it("scores a Transformer++ over its budget as null, and Mamba never", () => {
    const set = extrapolationSet(0, 64, 2, 16);
    expect(inductionCorrect(tf, set, { budgetBytes: 1000 })).toBeNull();
    expect(inductionCorrect(mamba, set, { budgetBytes: 1000 })).not.toBeNull();
    const sweep = inductionExtrapolation(tf, {
      lengths: [8, 64],
      examples: 2,
      budgetBytes: attentionEvalBytes(tf.config, 8, 2), // the sweep's batch: both examples
    });
    expect(Object.keys(sweep)).toEqual(["8", "64"]);
    expect(sweep["64"]).toBeNull();
    expect(typeof sweep["8"]).toBe("number");
  });
  it("uses the seeded set extrapolationSet(seed + length) for each length", () => {
    const s = extrapolationSet(5, 32, 3, 16);
    const again = inductionHeads(new Rng(37), { count: 3, length: 32, vocabSize: 16 });
    expect(Array.from(s.inputs)).toEqual(Array.from(again.inputs));
  });
  it("rejects bad input", () => {
    const set = extrapolationSet(0, 8, 2, 16);
    expect(() => inductionCorrect({} as never, set)).toThrow(/inductionCorrect: .*model/);
    expect(() => inductionCorrect(mamba, {} as never)).toThrow(/inductionCorrect: .*set/);
    expect(() => inductionCorrect(mamba, set, { from: 2, to: 1 })).toThrow(
      /inductionCorrect: .*options/,
    );
    expect(() => inductionExtrapolation(mamba, { lengths: [2], examples: 1 })).toThrow(
      /inductionExtrapolation: .*lengths/,
    );
    expect(() => inductionExtrapolation(mamba, { lengths: [8] } as never)).toThrow(
      /inductionExtrapolation: .*examples/,
    );
  });
});
