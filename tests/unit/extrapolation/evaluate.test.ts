import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  adamwStep,
  attentionEvalBytes,
  clipGradNorm,
  createAdamW,
  extrapolationSet,
  inductionCorrect,
  inductionExtrapolation,
  inductionHeads,
  initMamba,
  initTransformer,
  learningRate,
  llamaConfig,
  loadTrainingState,
  mambaForward,
  mambaLastLogits,
  saveTrainingState,
  taskBatch,
  trainTransformer,
  transformerCacheBytes,
  transformerForward,
  transformerLastLogits,
  transformerLossAndGrads,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";

const mambaCfg = { vocab_size: 16, hidden_size: 16, num_hidden_layers: 2, state_size: 4 };
const llamaCfg = {
  vocab_size: 16,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

/** The last position's logits, (b, vocab), out of (b, l, vocab) logits. */
function lastOf(logits: { shape: number[]; data: ArrayLike<number> }): number[] {
  const [b, l, v] = logits.shape;
  const out: number[] = [];
  for (let i = 0; i < b; i++)
    for (let j = 0; j < v; j++) out.push(logits.data[(i * l + l - 1) * v + j]);
  return out;
}

const tokens = (b: number, l: number, seed: number) => {
  const rng = new Rng(seed);
  return { shape: [b, l], data: Int32Array.from({ length: b * l }, () => rng.int(16)) };
};

describe("mambaLastLogits", () => {
  const model = initMamba(mambaCfg, new Rng(1));
  it("equals mambaForward's last position for every split between prefill and recurrent steps", () => {
    const t = tokens(3, 37, 2);
    const want = lastOf(mambaForward(model, t));
    for (const prefill of [1, 5, 36, 37, 4096]) {
      const got = mambaLastLogits(model, t, { prefill });
      expect(got.shape).toEqual([3, 16]);
      // float32 activations summed in another order: a few float32 ulps of the logits' scale.
      expect(relErr(got.data, want), `prefill ${prefill}`).toBeLessThan(1e-4);
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

describe("transformerLastLogits", () => {
  const model = initTransformer(llamaCfg, new Rng(3));
  it("equals transformerForward's last position for every chunk length", () => {
    const t = tokens(2, 45, 4);
    const want = lastOf(transformerForward(model, t));
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
        ...llamaCfg,
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
  const config = llamaConfig(llamaCfg);
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

describe("inductionCorrect / inductionExtrapolation", () => {
  const mamba = initMamba(mambaCfg, new Rng(6));
  const tf = initTransformer(llamaCfg, new Rng(7));
  it("counts the examples whose arg-max last-position logits equal the target (a full forward as reference)", () => {
    const set = inductionHeads(new Rng(8), { count: 6, length: 20, vocabSize: 16 });
    for (const model of [mamba, tf]) {
      const logits =
        model === mamba
          ? mambaForward(mamba, { shape: [6, 20], data: set.inputs })
          : transformerForward(tf, { shape: [6, 20], data: set.inputs });
      const last = lastOf(logits);
      let want = 0;
      for (let i = 0; i < 6; i++) {
        const row = last.slice(i * 16, i * 16 + 16);
        if (row.indexOf(Math.max(...row)) === set.targets[i]) want++;
      }
      expect(inductionCorrect(model, set, { batchSize: 4 })).toEqual({ correct: want, count: 6 });
      // Slices add up to the whole.
      const a = inductionCorrect(model, set, { from: 0, to: 2 })!;
      const b = inductionCorrect(model, set, { from: 2, to: 6, batchSize: 3 })!;
      expect(a.correct + b.correct).toBe(want);
    }
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

describe("trainTransformer", () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tiny = { ...llamaCfg, num_hidden_layers: 1 };
  const batch = (rng: Rng) =>
    taskBatch(inductionHeads(rng, { count: 3, length: 10, vocabSize: 16 }));
  const schedule = { peakLr: 0.01, warmupSteps: 2, totalSteps: 6 };

  it("takes the steps of a hand-written loop (transformerLossAndGrads, clip 1, AdamW) exactly", async () => {
    const model = initTransformer(tiny, new Rng(2));
    const result = await trainTransformer(model, { batch, schedule, seed: 4, display: false });
    expect(result.stopped).toBe("done");
    const ref = initTransformer(tiny, new Rng(2));
    const opt = createAdamW(ref.params);
    const rng = new Rng(4);
    const losses: number[] = [];
    for (let step = 0; step < 6; step++) {
      const b = batch(rng);
      const { loss, grads } = transformerLossAndGrads(ref, b.tokens, { targets: b.targets });
      clipGradNorm(grads, 1);
      adamwStep(ref.params, grads, opt, { lr: learningRate(step, schedule) });
      losses.push(loss);
    }
    expect(result.history.map((r) => r.loss)).toEqual(losses);
    for (const [name, p] of model.params)
      expect(Array.from(p.data)).toEqual(Array.from(ref.params.get(name)!.data));
  });

  it("resumes from a saved training state with the same loss curve", async () => {
    const whole = initTransformer(tiny, new Rng(5));
    const a = await trainTransformer(whole, { batch, schedule, seed: 1, display: false });
    const part = initTransformer(tiny, new Rng(5));
    const first = await trainTransformer(part, {
      batch,
      schedule,
      seed: 1,
      display: false,
      maxSteps: 2,
    });
    expect(first.stopped).toBe("maxSteps");
    const dir = mkdtempSync(path.join(tmpdir(), "tf-train-"));
    dirs.push(dir);
    saveTrainingState(first.state, part, dir);
    const state = loadTrainingState(dir, part);
    const rest = await trainTransformer(part, { batch, schedule, state, display: false });
    expect([...first.history, ...rest.history].map((r) => r.loss)).toEqual(
      a.history.map((r) => r.loss),
    );
  });

  it("rejects Mamba-only options and bad models", async () => {
    const model = initTransformer(tiny, new Rng(0));
    await expect(
      trainTransformer(model, { batch, schedule, variant: "s6" } as never),
    ).rejects.toThrow(
      /trainTransformer: argument 'options' must be an options object \(got an unknown key "variant"/,
    );
    await expect(trainTransformer({} as never, { batch, schedule })).rejects.toThrow(
      /trainTransformer: argument 'model' must be/,
    );
  });
});
