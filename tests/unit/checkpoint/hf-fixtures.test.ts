/**
 * lib against Hugging Face `transformers` itself, through the golden fixtures in
 * tests/fixtures/hf (written by transformers 4.57 and 5.18 and by lib's own savers; see its
 * README.md, remade with `npm run fixtures`): for every checkpoint transformers wrote, our
 * logits, greedy generation, loss and every parameter gradient against what transformers
 * computed; for every checkpoint lib saved, the logits transformers computed after loading it.
 * Only lib's public API is used.
 *
 * Tolerances (both sides compute in float32; `float32_vs_float64` in index.json records how far
 * transformers' own float32 results are from a run of the same model in float64, float64 except
 * inside transformers' RMSNorms and loss):
 * - logits: max |ours − transformers| ≤ LOGITS_REL · max |logit| of the case. transformers'
 *   float32 logits are up to 8.7e-6 of max |logit| from its float64 run here, ours measured up to
 *   9.4e-6 from transformers': 1e-4 leaves ten times that, and stays far below the mistakes these
 *   fixtures catch (a RoPE base ignored: 0.24 of max |logit|; Mamba-2's Δ clamp ignored: 0.26).
 *   Mamba-2's cases measured up to 1.0e-6 (logits), 5.3e-7 nats (loss), 5.0e-6 (gradients).
 * - loss: |ours − transformers| ≤ LOSS_ABS nats: a mean of 14 float32 cross-entropies near 5
 *   nats (float32 spacing there: 4.8e-7); measured up to 1.2e-6.
 * - gradients, each tensor: max |ours − transformers| ≤ GRAD_REL · max |transformers' gradient|.
 *   transformers' float32 gradients are up to 3.4e-5 of their max from its float64 run, ours
 *   measured up to 3.0e-5 from transformers': 3e-4 leaves ten times that (the embedding's
 *   padding row, before lib matched it, was off by 0.7 of the max).
 * - greedy tokens: equal. Every step of the recorded generation wins by `greedy_min_margin`
 *   (at least 1e-3 in logits, 100 times the logits tolerance here), so a float32 implementation
 *   of the same maths picks the same tokens.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type LossAndGrads,
  type SafetensorsEntry,
  type Tensor,
  loadMamba2Checkpoint,
  loadMambaCheckpoint,
  loadTransformerCheckpoint,
  mamba2Forward,
  mamba2Generate,
  mamba2LossAndGrads,
  mambaForward,
  mambaGenerate,
  mambaLossAndGrads,
  readSafetensors,
  saveMamba2Checkpoint,
  saveMambaCheckpoint,
  saveTransformerCheckpoint,
  transformerForward,
  transformerGenerate,
  transformerLossAndGrads,
} from "../../../lib/src/index";

const FIXTURES = path.resolve(__dirname, "../../fixtures/hf");
const LOGITS_REL = 1e-4;
const LOSS_ABS = 1e-5;
const GRAD_REL = 3e-4;

/** One case of index.json (see make_hf_fixtures.py). */
interface FixtureCase {
  architecture: Architecture;
  writer: string;
  what: string;
  vocab_size: number;
  tokens: number[][];
  loss?: number;
  grad_names?: string[];
  prompt?: number[];
  generated?: number[];
  greedy_min_margin?: number;
}

const index = JSON.parse(readFileSync(path.join(FIXTURES, "index.json"), "utf8")) as {
  cases: Record<string, FixtureCase>;
};
const cases = Object.entries(index.cases);
const byTransformers = cases.filter(([, c]) => c.loss !== undefined);
const savedByLib = cases.filter(([name]) => name.startsWith("ours-"));

const tmp = mkdtempSync(path.join(os.tmpdir(), "hf-fixtures-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** lib's public functions for one architecture, on a model of that architecture. */
interface Functions {
  load(dir: string): unknown;
  forward(m: unknown, tokens: number[][]): Tensor;
  generate(
    m: unknown,
    prompt: number[],
    o: { maxNewTokens: number; temperature: number },
  ): number[];
  lossAndGrads(m: unknown, tokens: number[][]): LossAndGrads;
  save(m: unknown, dir: string): void;
}
type Architecture = "MambaForCausalLM" | "Mamba2ForCausalLM" | "LlamaForCausalLM";
const LIB: Record<Architecture, Functions> = {
  MambaForCausalLM: {
    load: loadMambaCheckpoint,
    forward: mambaForward,
    generate: mambaGenerate,
    lossAndGrads: mambaLossAndGrads,
    save: saveMambaCheckpoint,
  } as Functions,
  Mamba2ForCausalLM: {
    load: loadMamba2Checkpoint,
    forward: mamba2Forward,
    generate: mamba2Generate,
    lossAndGrads: mamba2LossAndGrads,
    save: saveMamba2Checkpoint,
  } as Functions,
  LlamaForCausalLM: {
    load: loadTransformerCheckpoint,
    forward: transformerForward,
    generate: transformerGenerate,
    lossAndGrads: transformerLossAndGrads,
    save: saveTransformerCheckpoint,
  } as Functions,
};
const lib = (name: string): Functions => LIB[index.cases[name].architecture];
const load = (name: string, dir = path.join(FIXTURES, name)): unknown => lib(name).load(dir);
const forward = (name: string, m: unknown, tokens: number[][]): Tensor =>
  lib(name).forward(m, tokens);
const expected = (name: string): Map<string, SafetensorsEntry> =>
  readSafetensors(path.join(FIXTURES, name, "expected.safetensors"));

/** max |a − b| and max |b|. */
function errors(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  expect(a.length).toBe(b.length);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { err, scale };
}

describe("the fixtures are what the tests need", () => {
  it("cover both architectures, both transformers versions, F32/F16/BF16 files and lib's saves", () => {
    const writers = new Set(cases.map(([, c]) => c.writer.split(".")[0]));
    expect(writers).toEqual(
      new Set([
        "transformers 4",
        "transformers 5",
        "mamba-ts (lib/scripts/fixtures/save-lib-checkpoints",
      ]),
    );
    for (const arch of ["MambaForCausalLM", "Mamba2ForCausalLM", "LlamaForCausalLM"]) {
      expect(byTransformers.filter(([, c]) => c.architecture === arch).length).toBeGreaterThan(2);
      expect(savedByLib.filter(([, c]) => c.architecture === arch).length).toBeGreaterThan(2);
    }
    const dtypes = new Set(
      byTransformers.map(
        ([name]) =>
          [...readSafetensors(path.join(FIXTURES, name, "model.safetensors")).values()][0].dtype,
      ),
    );
    expect(dtypes).toEqual(new Set(["F32", "F16", "BF16"]));
  });
});

describe.each(cases)("%s", (name, c) => {
  it(`computes transformers' logits (${c.what})`, () => {
    const logits = forward(name, load(name), c.tokens);
    expect(logits.shape).toEqual([c.tokens.length, c.tokens[0].length, c.vocab_size]);
    const { err, scale } = errors(logits.data, expected(name).get("logits")!.data);
    expect(err).toBeLessThanOrEqual(LOGITS_REL * scale);
  });

  if (c.generated !== undefined) {
    it("greedy decoding gives transformers' generate tokens", () => {
      const options = { maxNewTokens: c.generated!.length, temperature: 0 };
      const tokens = lib(name).generate(load(name), c.prompt!, options);
      expect(c.greedy_min_margin).toBeGreaterThanOrEqual(1e-3);
      expect(tokens).toEqual(c.generated);
    });
  }

  if (c.loss !== undefined) {
    it("computes transformers' loss (labels = input_ids) and every parameter's gradient", () => {
      const { loss, grads } = lib(name).lossAndGrads(load(name), c.tokens);
      expect(Math.abs(loss - c.loss!)).toBeLessThanOrEqual(LOSS_ABS);
      // Every parameter transformers has, and no other.
      expect([...grads.keys()].sort()).toEqual([...c.grad_names!].sort());
      const ref = expected(name);
      for (const [param, g] of grads) {
        const { err, scale } = errors(g.data, ref.get(`grad.${param}`)!.data);
        expect(err, param).toBeLessThanOrEqual(GRAD_REL * scale);
      }
    });
  }

  if (name.startsWith("ours-")) {
    it("saving it again writes exactly the files transformers loaded", () => {
      const dir = path.join(tmp, name);
      lib(name).save(load(name), dir);
      for (const file of ["config.json", "model.safetensors"]) {
        const want = readFileSync(path.join(FIXTURES, name, file));
        expect(readFileSync(path.join(dir, file)).equals(want), file).toBe(true);
      }
    });
  }
});

describe("regressions the fixtures caught", () => {
  it("a transformers 5 config's rope_parameters is read: without it the logits move far", () => {
    // transformers 5 writes RoPE's base only under rope_parameters; read as the default 10000
    // (what lib did), the logits of this one-KV-head model move by a quarter of their range.
    const name = "llama-gqa1-tied-bf16";
    const dir = path.join(tmp, "rope-dropped");
    cpSync(path.join(FIXTURES, name), dir, { recursive: true });
    const json = JSON.parse(readFileSync(path.join(dir, "config.json"), "utf8"));
    expect(json.rope_parameters).toEqual({ rope_theta: 500000, rope_type: "default" });
    expect(json).not.toHaveProperty("rope_theta");
    delete json.rope_parameters;
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(json));
    const c = index.cases[name];
    const ref = expected(name).get("logits")!.data;
    const right = errors(forward(name, load(name), c.tokens).data, ref);
    const wrong = errors(transformerForward(loadTransformerCheckpoint(dir), c.tokens).data, ref);
    expect(right.err).toBeLessThanOrEqual(LOGITS_REL * right.scale);
    expect(wrong.err).toBeGreaterThan(0.1 * wrong.scale);
  });

  it("the embedding row of pad_token_id gets no gradient from the lookup, as in transformers", () => {
    // llama-gqa2-pad-f16: untied, pad_token_id 3, which the token batch holds three times.
    const name = "llama-gqa2-pad-f16";
    const c = index.cases[name];
    const m = loadTransformerCheckpoint(path.join(FIXTURES, name));
    expect(m.config.pad_token_id).toBe(3);
    expect(c.tokens.flat().filter((t) => t === 3).length).toBe(3);
    const d = m.config.hidden_size;
    const theirs = expected(name).get("grad.model.embed_tokens.weight")!.data;
    const ours = transformerLossAndGrads(m, c.tokens).grads.get("model.embed_tokens.weight")!.data;
    expect(Array.from(theirs.subarray(3 * d, 4 * d))).toEqual(new Array(d).fill(0));
    expect(Array.from(ours.subarray(3 * d, 4 * d))).toEqual(new Array(d).fill(0));
    // The other rows of tokens in the batch do get gradient.
    const t = c.tokens[0][0];
    expect(Math.max(...Array.from(ours.subarray(t * d, (t + 1) * d), Math.abs))).toBeGreaterThan(0);
  });

  it("Mamba-2's time_step_limit clamps Δ as in transformers: without the clamp the logits move far", () => {
    const name = "mamba2-clamp-f16";
    const m = loadMamba2Checkpoint(path.join(FIXTURES, name));
    expect(m.config.time_step_limit).toEqual([0.05, 0.5]);
    const c = index.cases[name];
    const ref = expected(name).get("logits")!.data;
    const right = errors(mamba2Forward(m, c.tokens).data, ref);
    const unclamped = {
      ...m,
      config: { ...m.config, time_step_limit: [0, Infinity] as [number, number] },
    };
    const wrong = errors(mamba2Forward(unclamped, c.tokens).data, ref);
    expect(right.err).toBeLessThanOrEqual(LOGITS_REL * right.scale);
    expect(wrong.err).toBeGreaterThan(0.1 * wrong.scale); // measured 0.26
  });

  it("Mamba-2's time_step_limit is written as transformers 5 writes it, ∞ included", () => {
    const init = JSON.parse(
      readFileSync(path.join(FIXTURES, "ours-mamba2-init", "config.json"), "utf8"),
    );
    expect(init.time_step_limit).toEqual([0, { __float__: "Infinity" }]);
    const theirs = JSON.parse(
      readFileSync(path.join(FIXTURES, "mamba2-untied-f32", "config.json"), "utf8"),
    );
    expect(theirs.time_step_limit).toEqual([0, { __float__: "Infinity" }]);
    const text = readFileSync(path.join(FIXTURES, "ours-mamba2-init", "config.json"), "utf8");
    expect(text).toMatch(/"time_step_limit": \[\s*0\.0,/);
  });

  it("lib's saves write transformers' float fields as floats (transformers 5 refuses an int)", () => {
    const text = readFileSync(path.join(FIXTURES, "ours-mamba-resaved-f16", "config.json"), "utf8");
    expect(text).toMatch(/"time_step_scale": 1\.0,/);
    const llama = readFileSync(path.join(FIXTURES, "ours-llama-init", "config.json"), "utf8");
    expect(llama).toMatch(/"rope_theta": 500000\.0/);
    expect(JSON.parse(llama).rope_parameters).toEqual({ rope_theta: 500000, rope_type: "default" });
  });
});
