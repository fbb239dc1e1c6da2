/**
 * The Mamba-2 LM (lib/src/mamba2/model.ts and the functions around it): logits against a float64
 * model written from transformers' equations (tests/helpers/mamba2-reference.ts), any chunk
 * size, decoding with the cache equal to the full forward, greedy generation, every gradient
 * against central finite differences in float64, the selection (Δ, A, B, C) recomputed by hand
 * from the weights, and init.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type Tensor,
  type Mamba2Model,
  createMamba2Cache,
  crossEntropy,
  initMamba2,
  mamba2CacheBytes,
  mamba2Forward,
  mamba2Generate,
  mamba2LossAndGrads,
  mamba2Prefill,
  mamba2Selection,
  mamba2Step,
} from "../../../lib/src/index";
import { mamba2ReferenceLogits, randomMamba2Model } from "../../helpers/mamba2-reference";

const SMALL = {
  vocab_size: 11,
  hidden_size: 8,
  num_hidden_layers: 2,
  state_size: 4,
  head_dim: 4,
  n_groups: 2,
  conv_kernel: 3,
  chunk_size: 4,
};

/** A random model of SMALL with `overrides` (see randomMamba2Model). */
function randomModel(
  seed: number,
  overrides: Record<string, unknown> = {},
  dtype: "float32" | "float64" = "float32",
): Mamba2Model {
  return randomMamba2Model({ ...SMALL, ...overrides }, seed, dtype);
}

function tokens(seed: number, b: number, l: number, V = SMALL.vocab_size): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: b }, () => Array.from({ length: l }, () => rng.int(V)));
}

function maxRel(got: ArrayLike<number>, want: number[]): number {
  const scale = Math.max(1, ...want.map(Math.abs));
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]));
  return e / scale;
}

describe("mamba2Forward", () => {
  const variants: [string, Record<string, unknown>][] = [
    ["untied, 2 groups", {}],
    ["tied, biases, one group", { tie_word_embeddings: true, use_bias: true, n_groups: 1 }],
    [
      "a head per group, no conv bias, Δ clamped",
      { n_groups: 4, use_conv_bias: false, time_step_limit: [0.2, 0.9] },
    ],
  ];
  for (const [name, o] of variants) {
    it(`equals the float64 reference (${name})`, () => {
      const m = randomModel(1, o, "float64");
      const ids = tokens(2, 2, 9);
      const got = mamba2Forward(m, ids);
      expect(got.shape).toEqual([2, 9, 11]);
      expect(maxRel(got.data, mamba2ReferenceLogits(m, ids).flat(2))).toBeLessThan(1e-12);
    });
  }

  it("float32 parameters: within float32 rounding of the reference", () => {
    const m = randomModel(3);
    const ids = tokens(4, 1, 13);
    const got = mamba2Forward(m, ids);
    expect(got.data).toBeInstanceOf(Float32Array);
    expect(maxRel(got.data, mamba2ReferenceLogits(m, ids).flat(2))).toBeLessThan(1e-5);
  });

  it("the chunk size changes only the rounding", () => {
    const m = randomModel(5, {}, "float64");
    const ids = tokens(6, 1, 17);
    const want = Array.from(mamba2Forward(m, ids).data);
    for (const Q of [1, 3, 16, 64]) {
      const other = { ...m, config: { ...m.config, chunk_size: Q } };
      expect(maxRel(mamba2Forward(other, ids).data, want)).toBeLessThan(1e-12);
    }
  });
});

// The algorithm on the reference engine (the simd engines against it: engines.test.ts).
const REF = { engine: "typescript" } as const;

describe("non-finite weights", () => {
  it("a weight made non-finite in place after a call is refused by name on the next, on every engine", () => {
    for (const engine of ["typescript", "simd"] as const) {
      const model = randomModel(3);
      const ids = tokens(4, 1, 6);
      const calls = [
        () => mamba2Forward(model, ids, { engine }),
        () => mamba2Prefill(model, createMamba2Cache(model, 1), ids, { engine }),
      ];
      for (const call of calls) call(); // found finite: not read again by the next calls
      model.params.get("backbone.norm_f.weight")!.data[2] = Infinity;
      for (const [i, call] of calls.entries())
        expect(call, `${engine} call ${i}`).toThrow(
          /^mamba2(Forward|Prefill): argument 'model.params' must hold finite values \(got Infinity in "backbone.norm_f.weight" at flat index 2\)/,
        );
    }
  });
});

describe("mamba2Selection", () => {
  for (const [label, overrides] of [
    ["no clamp", {}],
    ["Δ clamped, biases", { time_step_limit: [0.3, 0.8], use_bias: true }],
  ] as [string, Record<string, unknown>][]) {
    it(`reports layer 0's Δ, A and B as recomputed here from the weights (${label})`, () => {
      const model = randomModel(3, overrides, "float64");
      const toks = [[1, 4, 2, 9, 0, 3, 7]];
      const sel = mamba2Selection(model, toks);
      expect(sel.length).toBe(SMALL.num_hidden_layers);
      const c = model.config;
      const P = (n: string) => model.params.get(n)!.data;
      const m = "backbone.layers.0.mixer.";
      const [d, H, G, N, k] = [c.hidden_size, c.num_heads, c.n_groups, c.state_size, c.conv_kernel];
      const E = H * c.head_dim;
      const convDim = E + 2 * G * N;
      const rows = 2 * E + 2 * G * N + H;
      const L = toks[0].length;
      const silu = (v: number) => v / (1 + Math.exp(-v));
      const softplus = (v: number) => Math.log1p(Math.exp(v));
      const bias = (name: string, o: number) => (model.params.has(m + name) ? P(m + name)[o] : 0);
      // embedding, RMSNorm, in_proj: z, then the conv's input x B C, then dt
      const proj = toks[0].map((id) => {
        const h = Array.from(P("backbone.embeddings.weight").subarray(id * d, id * d + d));
        const rms = Math.sqrt(h.reduce((s, v) => s + v * v, 0) / d + c.layer_norm_epsilon);
        const u = h.map((v, j) => (v / rms) * P("backbone.layers.0.norm.weight")[j]);
        return Array.from(
          { length: rows },
          (_, o) =>
            u.reduce((s, v, i) => s + v * P(m + "in_proj.weight")[o * d + i], 0) +
            bias("in_proj.bias", o),
        );
      });
      const [lo, hi] = c.time_step_limit;
      for (let t = 0; t < L; t++)
        for (let h = 0; h < H; h++) {
          const want = Math.min(
            Math.max(softplus(proj[t][E + convDim + h] + P(m + "dt_bias")[h]), lo),
            hi,
          );
          expect(Math.abs(sel[0].delta.data[t * H + h] - want)).toBeLessThan(1e-12);
        }
      // B: channels E … E + GN of the conv's output, after SiLU
      for (let t = 0; t < L; t++)
        for (let j = 0; j < G * N; j++) {
          const ch = E + j;
          let v = bias("conv1d.bias", ch);
          for (let i = 0; i < k; i++) {
            const src = t - (k - 1) + i;
            if (src >= 0) v += P(m + "conv1d.weight")[ch * k + i] * proj[src][E + ch];
          }
          expect(Math.abs(sel[0].B.data[t * G * N + j] - silu(v))).toBeLessThan(1e-12);
        }
      expect(sel[0].delta.shape).toEqual([1, L, H]);
      expect(sel[0].B.shape).toEqual([1, L, G * N]);
      expect(Array.from(sel[0].A.data)).toEqual(Array.from(P(m + "A_log"), (v) => -Math.exp(v)));
      if (lo > 0) {
        const all = sel.flatMap((s) => Array.from(s.delta.data));
        expect(Math.min(...all)).toBeGreaterThanOrEqual(lo);
        expect(Math.max(...all)).toBeLessThanOrEqual(hi);
      }
    });
  }
  it("refuses a token outside the vocabulary, naming itself", () => {
    expect(() => mamba2Selection(randomModel(1), [[SMALL.vocab_size]])).toThrow(
      /^mamba2Selection: argument 'tokens' must be token ids in \[0, 11\)/,
    );
  });
});

describe("decoding", () => {
  it("prefill then steps give the full forward's logits at every position; the cache does not grow", () => {
    const m = randomModel(7);
    const ids = tokens(8, 2, 12);
    const full = mamba2Forward(m, ids);
    const V = SMALL.vocab_size;
    const cache = createMamba2Cache(m, 2);
    const bytes = mamba2CacheBytes(cache);
    // layers · b · ((E + 2GN) · k + H · P · N) float32
    expect(bytes).toBe(2 * 2 * ((16 + 2 * 2 * 4) * 3 + 4 * 4 * 4) * 4);
    const prompt = 5;
    const check = (logits: Tensor, t: number) => {
      for (let b = 0; b < 2; b++)
        for (let v = 0; v < V; v++)
          expect(logits.data[b * V + v]).toBeCloseTo(full.data[(b * 12 + t) * V + v], 4);
    };
    check(
      mamba2Prefill(
        m,
        cache,
        ids.map((r) => r.slice(0, prompt)),
        REF,
      ),
      prompt - 1,
    );
    for (let t = prompt; t < 12; t++) {
      check(mamba2Step(m, cache, [ids[0][t], ids[1][t]], REF), t);
      expect(mamba2CacheBytes(cache)).toBe(bytes);
    }
    expect(cache.position).toBe(12);
  });

  it("steps from an empty cache give the full forward too", () => {
    const m = randomModel(9, { tie_word_embeddings: true });
    const ids = tokens(10, 1, 6);
    const full = mamba2Forward(m, ids);
    const cache = createMamba2Cache(m, 1);
    for (let t = 0; t < 6; t++) {
      const logits = mamba2Step(m, cache, [ids[0][t]], REF);
      for (let v = 0; v < 11; v++) expect(logits.data[v]).toBeCloseTo(full.data[t * 11 + v], 4);
    }
  });

  it("greedy generation picks the forward's argmax, token after token", () => {
    const m = randomModel(11);
    const prompt = [1, 2, 3];
    const got = mamba2Generate(m, prompt, { maxNewTokens: 5, temperature: 0, ...REF });
    const seq = [...prompt];
    for (let i = 0; i < 5; i++) {
      const logits = mamba2Forward(m, [seq]).data;
      const last = Array.from(logits.slice((seq.length - 1) * 11, seq.length * 11));
      seq.push(last.indexOf(Math.max(...last)));
    }
    expect(got).toEqual(seq.slice(3));
  });
});

describe("mamba2LossAndGrads", () => {
  it("the loss is the cross-entropy of mamba2Forward's logits", () => {
    const m = randomModel(12);
    const ids = tokens(13, 2, 7);
    const { loss } = mamba2LossAndGrads(m, ids);
    const logits = mamba2Forward(m, ids);
    const targets = new Int32Array(14).fill(-100);
    for (let b = 0; b < 2; b++) for (let t = 0; t < 6; t++) targets[b * 7 + t] = ids[b][t + 1];
    const ce = crossEntropy({ shape: [14, 11], data: logits.data }, targets);
    expect(loss).toBeCloseTo(ce.loss, 5);
  });

  for (const [name, o] of [
    ["untied, 2 groups, Δ clamped", { time_step_limit: [0.1, 1.5] }],
    ["tied, biases", { tie_word_embeddings: true, use_bias: true, num_hidden_layers: 1 }],
  ] as [string, Record<string, unknown>][]) {
    it(`every gradient equals central finite differences in float64 (${name})`, () => {
      const m = randomModel(14, o, "float64");
      const ids = tokens(15, 2, 6);
      const { loss, grads } = mamba2LossAndGrads(m, ids);
      expect(loss).toBeGreaterThan(0);
      expect([...grads.keys()]).toEqual([...m.params.keys()]);
      const rng = new Rng(16);
      for (const [pname, p] of m.params) {
        const g = grads.get(pname)!;
        expect(g.shape).toEqual(p.shape);
        // every entry of small tensors, 12 random entries of large ones
        const idx =
          p.data.length <= 24
            ? Array.from({ length: p.data.length }, (_, i) => i)
            : Array.from({ length: 12 }, () => rng.int(p.data.length));
        for (const i of idx) {
          const keep = p.data[i];
          p.data[i] = keep + 1e-6;
          const up = mamba2LossAndGrads(m, ids).loss;
          p.data[i] = keep - 1e-6;
          const down = mamba2LossAndGrads(m, ids).loss;
          p.data[i] = keep;
          const want = (up - down) / 2e-6;
          expect(Math.abs(g.data[i] - want), `${pname}[${i}]`).toBeLessThan(
            2e-7 * Math.max(1, Math.abs(want)),
          );
        }
      }
    });
  }
});

describe("initMamba2", () => {
  it("makes every tensor of the config with upstream's initial values", () => {
    const m = initMamba2({ ...SMALL, num_hidden_layers: 3 }, new Rng(0));
    const p = (n: string) => m.params.get(n)!.data;
    expect(m.params.get("backbone.layers.0.mixer.in_proj.weight")!.shape).toEqual([16 + 32 + 4, 8]);
    expect(m.params.get("backbone.layers.0.mixer.conv1d.weight")!.shape).toEqual([32, 1, 3]);
    expect(Array.from(p("backbone.layers.1.mixer.D"))).toEqual([1, 1, 1, 1]);
    for (const a of p("backbone.layers.2.mixer.A_log")) {
      expect(Math.exp(a)).toBeGreaterThanOrEqual(1 - 1e-6);
      expect(Math.exp(a)).toBeLessThanOrEqual(16 + 1e-5);
    }
    for (const b of p("backbone.layers.0.mixer.dt_bias")) {
      const dt = Math.log1p(Math.exp(b));
      expect(dt).toBeGreaterThanOrEqual(1e-4 - 1e-9);
      expect(dt).toBeLessThanOrEqual(0.1 + 1e-6);
    }
    const outBound = 1 / Math.sqrt(16) / Math.sqrt(3);
    expect(
      Math.max(...Array.from(p("backbone.layers.0.mixer.out_proj.weight"), Math.abs)),
    ).toBeLessThanOrEqual(outBound);
    expect(m.params.has("lm_head.weight")).toBe(true); // transformers' default: untied
  });
});
