/**
 * The Transformer++'s engines (lib/src/transformer: grads.ts, forward.ts, kv-cache.ts,
 * generate.ts; extrapolation/last-logits.ts) against the reference engine run on a float64 copy
 * of the same model (the reference's gradients are themselves checked against finite differences
 * in transformer-grads.test.ts):
 * - "simd" and "simd-threads": the loss (relative 1e-5) and every gradient (max error ≤ 1e-4 of
 *   the tensor's largest gradient: float32 rounding) for grouped-query attention down to one KV
 *   head, head_dim ≠ hidden_size / heads with an odd half-width, odd sizes, a tied head with a
 *   padding row, a mask and targets;
 * - "simd" inference: logits of the forward, of a prompt read into the KV cache and of the
 *   single steps after it, and the last-position logits of chunked prefill, against the
 *   float64 forward (max error ≤ 1e-4 of the largest logit);
 * - threads against one thread; the training loop on each engine;
 * - bad options refused, naming the function the user called.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  type LlamaConfig,
  Rng,
  type Tensor,
  type TransformerModel,
  createTrainPool,
  createTransformerCache,
  initTransformer,
  llamaConfig,
  trainTransformer,
  transformerForward,
  transformerGenerate,
  transformerLastLogits,
  transformerLossAndGrads,
  transformerPrefill,
  transformerStep,
} from "../../../lib/src/index";
import { reference } from "../../../lib/src/ops/reference/index";
import { Ops } from "../../../lib/src/ops/tape";
import { llamaLM } from "../../../lib/src/transformer/model";
import { float64Copy, relMax } from "../../helpers/reference";

/** A random float32 model: weights of std 0.3, norm weights in [0.5, 1.5]. */
function randomModel(over: Partial<LlamaConfig>, seed: number): TransformerModel {
  const c = llamaConfig({
    vocab_size: 11,
    hidden_size: 16,
    intermediate_size: 13,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rope_theta: 100,
    initializer_range: 0.3,
    ...over,
  });
  const m = initTransformer(c, new Rng(seed));
  const rng = new Rng(seed + 1);
  for (const t of m.params.values())
    if (t.shape.length === 1)
      for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(0.5, 1.5);
  return m;
}

function tokensOf(seed: number, b: number, l: number, V: number) {
  const rng = new Rng(seed);
  return { shape: [b, l], data: Int32Array.from({ length: b * l }, () => rng.int(V)) };
}

/** The float64 reference forward's logits (b, l, V). */
function referenceLogits(m64: TransformerModel, ids: Int32Array, b: number, l: number): Tensor {
  return llamaLM(new Ops(reference), m64, ids, b, l);
}

const pool2 = createTrainPool({ threads: 2 });
const pool3 = createTrainPool({ threads: 3 });
afterAll(() => {
  pool2.close();
  pool3.close();
});

const shapes: { name: string; over: Partial<LlamaConfig>; b: number; l: number }[] = [
  { name: "grouped-query (4 heads on 2), untied", over: {}, b: 3, l: 37 },
  {
    name: "one KV head, head_dim 6 ≠ 16 / 4, tied with a padding row",
    over: { num_key_value_heads: 1, head_dim: 6, tie_word_embeddings: true, pad_token_id: 3 },
    b: 2,
    l: 70,
  },
  {
    name: "odd sizes: 3 heads of 6 (half-width 3), hidden 7, MLP 9, vocab 5, one layer",
    over: {
      vocab_size: 5,
      hidden_size: 7,
      intermediate_size: 9,
      num_attention_heads: 3,
      num_key_value_heads: 3,
      head_dim: 6,
      num_hidden_layers: 1,
    },
    b: 2,
    l: 5,
  },
  {
    name: "Table 1-sized (d 64, 4 heads of 16, MLP 88), past a query block",
    over: { vocab_size: 16, hidden_size: 64, intermediate_size: 88, num_key_value_heads: 4 },
    b: 2,
    l: 130,
  },
];

describe("engines agree with the reference engine on the loss and every gradient", () => {
  for (const { name, over, b, l } of shapes) {
    for (const engine of ["simd", "simd-threads"] as const) {
      it(`${engine}, ${name}`, () => {
        const model = randomModel(over, 5);
        const m64 = float64Copy(model);
        const V = model.config.vocab_size;
        const tokens = tokensOf(9, b, l, V);
        const rng = new Rng(4);
        const mask = Float64Array.from({ length: b * l }, () => (rng.uniform() < 0.8 ? 1 : 0));
        const ref = transformerLossAndGrads(m64, tokens, { mask });
        const fast = transformerLossAndGrads(model, tokens, {
          mask,
          engine,
          ...(engine === "simd-threads" ? { pool: pool2 } : {}),
        });
        expect(Math.abs(fast.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
        expect(fast.count).toBe(ref.count);
        expect(fast.correct).toBe(ref.correct);
        for (const [k, g] of ref.grads) {
          const f = fast.grads.get(k)!;
          expect(f.shape, k).toEqual(g.shape);
          expect(f.data).toBeInstanceOf(Float32Array);
          expect(relMax(f.data, g.data), k).toBeLessThan(1e-4);
        }
      });
    }
  }

  it("simd with targets (−100 skipped) like the reference", () => {
    const model = randomModel({}, 6);
    const tokens = tokensOf(2, 2, 12, 11);
    const rng = new Rng(8);
    const targets = {
      shape: [2, 12],
      data: Int32Array.from({ length: 24 }, () => (rng.uniform() < 0.3 ? -100 : rng.int(11))),
    };
    const ref = transformerLossAndGrads(float64Copy(model), tokens, { targets });
    const fast = transformerLossAndGrads(model, tokens, { targets, engine: "simd" });
    expect(Math.abs(fast.loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
    expect(fast.count).toBe(ref.count);
    for (const [k, g] of ref.grads)
      expect(relMax(fast.grads.get(k)!.data, g.data), k).toBeLessThan(1e-4);
  });
});

describe("simd inference agrees with the float64 reference forward", () => {
  for (const { name, over } of shapes) {
    it(`forward, prefill and steps, last-position logits: ${name}`, () => {
      const model = randomModel(over, 7);
      const m64 = float64Copy(model);
      const V = model.config.vocab_size;
      const [b, l] = [2, 41];
      const tokens = tokensOf(3, b, l, V);
      const want = referenceLogits(m64, tokens.data, b, l);
      const got = transformerForward(model, tokens, { engine: "simd" });
      expect(got.shape).toEqual([b, l, V]);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(relMax(got.data, want.data)).toBeLessThan(1e-4);
      /** The reference's logits at position t of every sequence, (b, V). */
      const at = (t: number): Float64Array => {
        const out = new Float64Array(b * V);
        for (let i = 0; i < b; i++)
          out.set(want.data.subarray((i * l + t) * V, (i * l + t + 1) * V), i * V);
        return out;
      };
      // a prompt of 20 (past the cache's first capacity of 16), a chunk of 7, then single tokens
      const cache = createTransformerCache(model, b);
      const cols = (t0: number, t1: number) => {
        const data = new Int32Array(b * (t1 - t0));
        for (let i = 0; i < b; i++)
          data.set(tokens.data.subarray(i * l + t0, i * l + t1), i * (t1 - t0));
        return { shape: [b, t1 - t0], data };
      };
      const prompt = transformerPrefill(model, cache, cols(0, 20), { engine: "simd" });
      expect(relMax(prompt.data, at(19))).toBeLessThan(1e-4);
      const chunk = transformerPrefill(model, cache, cols(20, 27), { engine: "simd" });
      expect(relMax(chunk.data, at(26))).toBeLessThan(1e-4);
      for (let t = 27; t < l; t++) {
        const ids = Array.from({ length: b }, (_, i) => tokens.data[i * l + t]);
        const step = transformerStep(model, cache, ids, { engine: "simd" });
        expect(relMax(step.data, at(t)), `step at ${t}`).toBeLessThan(1e-4);
      }
      expect(cache.position).toBe(l);
      const last = transformerLastLogits(model, tokens, { chunk: 16, engine: "simd" });
      expect(relMax(last.data, at(l - 1))).toBeLessThan(1e-4);
    });
  }

  it("generation: the greedy tokens of the typescript engine, from logits that agree", () => {
    const model = randomModel({}, 8);
    const options = { maxNewTokens: 12, temperature: 0 };
    const a = transformerGenerate(model, [1, 2, 3, 4], { ...options, engine: "simd" });
    const b = transformerGenerate(model, [1, 2, 3, 4], { ...options, engine: "typescript" });
    expect(a).toEqual(b);
    expect(a.length).toBe(12);
  });
});

describe("simd-threads", () => {
  it("equals one thread, for shares of unequal sizes and a share with nothing to score", () => {
    const model = randomModel({}, 2);
    const [b, l] = [5, 19];
    const tokens = tokensOf(3, b, l, 11);
    const mask = Float64Array.from({ length: b * l }, (_, p) => (p < 3 * l ? 1 : 0));
    const one = transformerLossAndGrads(model, tokens, { engine: "simd", mask });
    for (const pool of [pool2, pool3]) {
      const many = transformerLossAndGrads(model, tokens, { engine: "simd-threads", pool, mask });
      expect(Math.abs(many.loss - one.loss) / one.loss).toBeLessThan(1e-6);
      expect(many.count).toBe(one.count);
      for (const [k, g] of one.grads)
        expect(relMax(many.grads.get(k)!.data, g.data), k).toBeLessThan(1e-5);
    }
  });

  it("trains in the training loop: the losses of the simd and typescript engines", async () => {
    const run = async (engine: "typescript" | "simd" | "simd-threads") => {
      const model = randomModel({}, 8);
      const r = await trainTransformer(model, {
        batch: (rng) => ({ tokens: tokensOf(rng.int(1000), 4, 16, 11) }),
        schedule: { peakLr: 1e-2, warmupSteps: 1, totalSteps: 4 },
        engine,
        ...(engine === "simd-threads" ? { pool: pool2 } : {}),
        display: false,
      });
      return r.history.map((h) => h.loss);
    };
    const ts = await run("typescript");
    const simd = await run("simd");
    const threads = await run("simd-threads");
    expect(ts.length).toBe(4);
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(threads[i] - simd[i]) / simd[i]).toBeLessThan(1e-5);
      // AdamW's first steps move every weight by about lr whatever the gradient's size, so
      // float32 rounding in the gradients stays at float32 rounding in the losses
      expect(Math.abs(simd[i] - ts[i]) / ts[i]).toBeLessThan(1e-4);
    }
  });
});

describe("bad options", () => {
  const model = randomModel({ num_hidden_layers: 1 }, 1);
  const tokens = tokensOf(1, 2, 5, 11);
  it("are refused with the function the user called and the option named", async () => {
    expect(() => transformerLossAndGrads(model, tokens, { engine: "gpu" as never })).toThrow(
      /transformerLossAndGrads: argument 'options.engine' must be one of "typescript", "simd", "simd-threads"/,
    );
    expect(() => transformerLossAndGrads(model, tokens, { engine: "simd", pool: pool2 })).toThrow(
      /transformerLossAndGrads: argument 'options.pool' must be absent unless options.engine is "simd-threads"/,
    );
    expect(() =>
      transformerLossAndGrads(model, tokens, { engine: "simd-threads", pool: {} as never }),
    ).toThrow(
      /transformerLossAndGrads: argument 'options.pool' must be a pool from createTrainPool/,
    );
    const closed = createTrainPool({ threads: 2 });
    closed.close();
    expect(() =>
      transformerLossAndGrads(model, tokens, { engine: "simd-threads", pool: closed }),
    ).toThrow(/transformerLossAndGrads: options.pool: this pool was closed/);
    const schedule = { peakLr: 1e-2, warmupSteps: 1, totalSteps: 2 };
    const batch = () => ({ tokens });
    await expect(
      trainTransformer(model, { batch, schedule, engine: "fast" as never, display: false }),
    ).rejects.toThrow(/trainTransformer: argument 'options.engine' must be one of/);
    await expect(
      trainTransformer(model, { batch, schedule, engine: "simd", pool: pool2, display: false }),
    ).rejects.toThrow(/trainTransformer: argument 'options.pool' must be absent unless/);
    expect(() => transformerForward(model, tokens, { engine: "simd-threads" as never })).toThrow(
      /transformerForward: argument 'options.engine' must be one of "simd", "typescript"/,
    );
    const cache = createTransformerCache(model, 2);
    expect(() => transformerPrefill(model, cache, tokens, { engine: 1 as never })).toThrow(
      /transformerPrefill: argument 'options.engine'/,
    );
    expect(() => transformerStep(model, cache, [1, 2], { engin: "simd" } as never)).toThrow(
      /transformerStep: argument 'options' must be an options object \{ engine\? \} \(got an unknown key "engin"/,
    );
    expect(() =>
      transformerGenerate(model, [1], { maxNewTokens: 1, temperature: 0, engine: "x" as never }),
    ).toThrow(/transformerGenerate: argument 'options.engine'/);
    expect(() => transformerLastLogits(model, tokens, { engine: "x" as never })).toThrow(
      /transformerLastLogits: argument 'options.engine'/,
    );
  });
});
