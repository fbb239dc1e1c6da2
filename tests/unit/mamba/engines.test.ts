/**
 * The inference engines of the Mamba functions (lib/src/mamba/engine.ts: "typescript", "simd",
 * "simd-threads") against the reference engine, and against transformers itself for 16-bit
 * weights:
 * - mambaForward, mambaPrefill, mambaStep and mambaMixer agree with engine "typescript" (run on
 *   a float64 copy of the model where the function takes one; its sums are float64 either way),
 *   within relative 1e-4 of the largest logit (float32 rounding),
 *   for every mixer variant, batches of 2, a sequence longer than one chunk of the simd engines
 *   (the states carried across chunks), a channel count that is not a multiple of 4 and a
 *   model wide enough for the thread pool to split its products even when decoding one token;
 * - greedy decoding (mambaGenerate and mambaStep's argmax) gives the same tokens on every engine;
 * - weights kept in 16 bits (loadMambaCheckpoint's `keep`) of the BF16 and F16 checkpoints that
 *   transformers 5.18 wrote (tests/fixtures/hf) give transformers' logits (relative 1e-4) and
 *   its greedy tokens on every engine, and the same logits as loading the file as float32;
 * - what is refused, naming the function the user called: a bad engine, a simd engine for a
 *   float64 model, `keep` of a width the file does not hold, training or saving kept weights.
 */
import * as path from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import {
  Rng,
  type MambaEngine,
  type MambaModel,
  type Tensor,
  createMambaCache,
  initMamba,
  loadMambaCheckpoint,
  mambaForward,
  mambaGenerate,
  mambaLossAndGrads,
  mambaMixer,
  mambaPrefill,
  mambaStep,
  readSafetensors,
  saveMambaCheckpoint,
} from "../../../lib/src/index";
import { float64Copy, relMax } from "../../helpers/reference";

const ENGINES: MambaEngine[] = ["simd", "simd-threads"];
const FIXTURES = path.resolve(__dirname, "../../fixtures/hf");

/** A model with random values everywhere (D, norms and biases too, not their initial constants). */
function randomModel(seed: number, config: Parameters<typeof initMamba>[0]): MambaModel {
  const m = initMamba(config, new Rng(seed));
  const rng = new Rng(seed + 100);
  for (const [name, t] of m.params) {
    if (name.endsWith("A_log") || name.endsWith("dt_proj.bias")) continue;
    for (let i = 0; i < t.data.length; i++) t.data[i] += 0.2 * (2 * rng.uniform() - 1);
  }
  return m;
}

const tokens = (seed: number, b: number, l: number, V: number): number[][] => {
  const rng = new Rng(seed);
  return Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(V)));
};

const argmax = (row: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
};

describe("every engine agrees with the reference", () => {
  // E = 2 · 13 = 26 channels: not a multiple of 4 (the simd engines pad to 28)
  const model = randomModel(1, {
    vocab_size: 29,
    hidden_size: 13,
    num_hidden_layers: 2,
    state_size: 6,
  });
  const ref = float64Copy(model);
  const V = 29;

  it.each(["mamba", "s6", "lti"] as const)("mambaForward, variant %s, b 2, l 9", (variant) => {
    const t = tokens(2, 2, 9, V);
    const want = mambaForward(ref, t, { engine: "typescript", variant });
    for (const engine of ENGINES) {
      const got = mambaForward(model, t, { engine, variant });
      expect(got.shape).toEqual([2, 9, V]);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(relMax(got.data, want.data), engine).toBeLessThan(1e-4);
    }
  });

  it("mambaForward over more positions than one chunk (states carried across chunks)", () => {
    const t = tokens(3, 1, 300, V);
    const want = mambaForward(ref, t, { engine: "typescript" });
    for (const engine of ENGINES)
      expect(relMax(mambaForward(model, t, { engine }).data, want.data), engine).toBeLessThan(1e-4);
  });

  it("prefill then steps: the cache and the logits of the reference, and the same greedy tokens", () => {
    const prompt = tokens(4, 2, 7, V);
    // caches are float32: the reference engine runs the float32 model (its sums are float64)
    const refCache = createMambaCache(model, 2);
    const refFirst = mambaPrefill(model, refCache, prompt, { engine: "typescript" });
    for (const engine of ENGINES) {
      const cache = createMambaCache(model, 2);
      const first = mambaPrefill(model, cache, prompt, { engine });
      expect(relMax(first.data, refFirst.data), engine).toBeLessThan(1e-4);
      for (let i = 0; i < model.config.num_hidden_layers; i++) {
        expect(relMax(cache.conv[i].data, refCache.conv[i].data), engine).toBeLessThan(1e-5);
        expect(relMax(cache.ssm[i].data, refCache.ssm[i].data), engine).toBeLessThan(1e-4);
      }
    }
    // greedy decoding, 12 steps, each engine from its own prefill
    const decode = (m: MambaModel, engine: MambaEngine) => {
      const cache = createMambaCache(m, 2);
      let logits = mambaPrefill(m, cache, prompt, { engine });
      const out: number[][] = [];
      const all: number[] = [];
      for (let s = 0; s < 12; s++) {
        const next = [0, 1].map((i) => argmax(logits.data.subarray(i * V, (i + 1) * V)));
        out.push(next);
        logits = mambaStep(m, cache, next, { engine });
        all.push(...logits.data);
      }
      return { out, all };
    };
    const want = decode(model, "typescript");
    for (const engine of ENGINES) {
      const got = decode(model, engine);
      expect(got.out, engine).toEqual(want.out);
      expect(relMax(got.all, want.all), engine).toBeLessThan(1e-4);
    }
  });

  it("mambaGenerate: the same greedy tokens on every engine", () => {
    const prompt = [3, 1, 4, 1, 5];
    const want = mambaGenerate(model, prompt, {
      maxNewTokens: 16,
      temperature: 0,
      engine: "typescript",
    });
    for (const engine of ENGINES)
      expect(mambaGenerate(model, prompt, { maxNewTokens: 16, temperature: 0, engine })).toEqual(
        want,
      );
  });

  it("mambaMixer: output and state", () => {
    const u: Tensor = {
      shape: [2, 5, 13],
      data: Float32Array.from({ length: 130 }, (_, i) => Math.sin(i)),
    };
    const want = mambaMixer(ref, 1, u, { engine: "typescript", returnState: true });
    for (const engine of ENGINES) {
      const got = mambaMixer(model, 1, u, { engine, returnState: true });
      expect(relMax(got.out.data, want.out.data), engine).toBeLessThan(1e-4);
      expect(relMax(got.state!.ssm.data, want.state!.ssm.data), engine).toBeLessThan(1e-4);
      expect(relMax(got.state!.conv.data, want.state!.conv.data), engine).toBeLessThan(1e-5);
    }
  });

  it("a model wide enough that the pool splits a one-token step: the reference's logits", () => {
    // in_proj of one token: 1024 × 256 multiply-adds, the split threshold
    const wide = randomModel(5, { vocab_size: 40, hidden_size: 256, num_hidden_layers: 1 });
    const prompt = tokens(6, 1, 5, 40);
    const run = (m: MambaModel, engine: MambaEngine) => {
      const cache = createMambaCache(m, 1);
      const out = [...mambaPrefill(m, cache, prompt, { engine }).data];
      for (const id of [7, 8, 9]) out.push(...mambaStep(m, cache, [id], { engine }).data);
      return out;
    };
    const want = run(wide, "typescript");
    for (const engine of ENGINES)
      expect(relMax(run(wide, engine), want), engine).toBeLessThan(1e-4);
  });
});

describe("weights kept in 16 bits (transformers' BF16 and F16 checkpoints)", () => {
  const index = JSON.parse(readFileSync(path.join(FIXTURES, "index.json"), "utf8")) as {
    cases: Record<string, { tokens: number[][]; prompt: number[]; generated: number[] }>;
  };
  it.each([
    ["mamba-bf16", "bf16"],
    ["mamba-untied-f16", "f16"],
  ] as const)(
    "%s with keep %s: transformers' logits and greedy tokens on every engine",
    (name, keep) => {
      const dir = path.join(FIXTURES, name);
      const c = index.cases[name];
      const kept = loadMambaCheckpoint(dir, { keep });
      expect(kept.half!.size).toBeGreaterThan(0);
      for (const [k, t] of kept.half!) {
        expect(kept.params.has(k)).toBe(false);
        expect(t.data).toBeInstanceOf(Uint16Array);
        expect(t.format).toBe(keep);
      }
      const asFloat = loadMambaCheckpoint(dir);
      const theirs = readSafetensors(path.join(dir, "expected.safetensors")).get("logits")!.data;
      const floatLogits = mambaForward(asFloat, c.tokens, { engine: "typescript" }).data;
      for (const engine of ["typescript", ...ENGINES] as MambaEngine[]) {
        const logits = mambaForward(kept, c.tokens, { engine }).data;
        expect(relMax(logits, theirs), engine).toBeLessThan(1e-4);
        // the same values as float32 loading: the same logits up to summation order
        expect(relMax(logits, floatLogits), engine).toBeLessThan(1e-5);
        const options = { maxNewTokens: c.generated.length, temperature: 0, engine };
        expect(mambaGenerate(kept, c.prompt, options), engine).toEqual(c.generated);
      }
    },
  );

  const tmp = mkdtempSync(path.join(os.tmpdir(), "mamba-engines-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  it("refuses keep for a file of another width, and training or saving kept weights", () => {
    expect(() =>
      loadMambaCheckpoint(path.join(FIXTURES, "mamba-tied-f32"), { keep: "bf16" }),
    ).toThrow(
      /loadMambaCheckpoint: argument 'options.keep' must be the width the checkpoint stores its weight matrices in \(got "bf16", but .* stores "backbone.embeddings.weight" as F32; load without keep/,
    );
    expect(() => loadMambaCheckpoint(path.join(FIXTURES, "mamba-bf16"), { keep: "f16" })).toThrow(
      /as BF16/,
    );
    expect(() =>
      loadMambaCheckpoint(path.join(FIXTURES, "mamba-bf16"), { keep: "f32" as never }),
    ).toThrow(/loadMambaCheckpoint: argument 'options.keep'/);
    const kept = loadMambaCheckpoint(path.join(FIXTURES, "mamba-bf16"), { keep: "bf16" });
    expect(() => mambaLossAndGrads(kept, [[1, 2, 3]])).toThrow(
      /mambaLossAndGrads: argument 'model' must hold float32 or float64 weights \(got weights kept in 16 bits by loadMambaCheckpoint's keep option, which serve inference only/,
    );
    expect(() => saveMambaCheckpoint(kept, path.join(tmp, "kept"))).toThrow(
      /saveMambaCheckpoint: argument 'model' must hold float32 or float64 weights/,
    );
  });
});

describe("bad engines", () => {
  const model = initMamba({ vocab_size: 9, hidden_size: 8, num_hidden_layers: 1 }, new Rng(3));
  it("are refused naming the function and the option", () => {
    const cache = createMambaCache(model, 1);
    expect(() => mambaForward(model, [[1]], { engine: "gpu" as never })).toThrow(
      /mambaForward: argument 'options.engine' must be one of "typescript", "simd", "simd-threads"/,
    );
    expect(() => mambaStep(model, cache, [1], { engine: "fast" as never })).toThrow(
      /mambaStep: argument 'options.engine'/,
    );
    expect(() => mambaPrefill(model, cache, [[1]], { scan: "fast" } as never)).toThrow(
      /mambaPrefill: argument 'options' must be an options object \{ engine\? \} \(got an unknown key "scan"/,
    );
    expect(() =>
      mambaGenerate(model, [1], { maxNewTokens: 1, temperature: 0, engine: 1 as never }),
    ).toThrow(/mambaGenerate: argument 'options.engine'/);
  });
  it("a float64 model runs the reference by default and refuses a simd engine", () => {
    const m64 = float64Copy(model);
    expect(mambaForward(m64, [[1, 2]]).data).toBeInstanceOf(Float64Array);
    expect(() => mambaForward(m64, [[1, 2]], { engine: "simd" })).toThrow(
      /mambaForward: argument 'options.engine' must be "typescript" for a float64 model \(got "simd", which computes in float32\)/,
    );
  });
});
