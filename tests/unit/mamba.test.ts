import { describe, expect, it } from "vitest";
import {
  Rng,
  type MambaModel,
  createMambaCache,
  initMamba,
  mambaCacheBytes,
  mambaConfig,
  mambaForward,
  mambaGenerate,
  mambaMixer,
  mambaParamCount,
  mambaPrefill,
  mambaStep,
  sampleNextToken,
} from "../../lib/src/index";
import { relErr } from "../helpers/reference";

/**
 * A float64 Mamba LM written straight from the equations (Gu & Dao 2023, Figure 3 and
 * `mamba_simple.py`), with number[] arrays and nested loops, using none of lib's ops.
 */
function referenceLogits(model: MambaModel, tokens: number[][]): number[][][] {
  const cfg = model.config;
  const P = (name: string) => Array.from(model.params.get(name)!.data);
  const d = cfg.hidden_size;
  const E = cfg.intermediate_size;
  const N = cfg.state_size;
  const R = cfg.time_step_rank;
  const K = cfg.conv_kernel;
  const V = cfg.vocab_size;
  const emb = P("backbone.embeddings.weight");
  const rms = (v: number[], w: number[]) => {
    const ms = v.reduce((a, x) => a + x * x, 0) / v.length;
    return v.map((x, j) => (x / Math.sqrt(ms + cfg.layer_norm_epsilon)) * w[j]);
  };
  const matvec = (W: number[], rows: number, cols: number, v: number[]) =>
    Array.from({ length: rows }, (_, r) => v.reduce((a, x, c) => a + W[r * cols + c] * x, 0));
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const silu = (x: number) => x * sig(x);
  const softplus = (x: number) => Math.log(1 + Math.exp(x));
  return tokens.map((seq) => {
    const L = seq.length;
    let h = seq.map((id) => emb.slice(id * d, (id + 1) * d));
    for (let layer = 0; layer < cfg.num_hidden_layers; layer++) {
      const m = `backbone.layers.${layer}.mixer.`;
      const normW = P(`backbone.layers.${layer}.norm.weight`);
      const inW = P(m + "in_proj.weight");
      const convW = P(m + "conv1d.weight");
      const convB = P(m + "conv1d.bias");
      const xW = P(m + "x_proj.weight");
      const dtW = P(m + "dt_proj.weight");
      const dtB = P(m + "dt_proj.bias");
      const Alog = P(m + "A_log");
      const Dv = P(m + "D");
      const outW = P(m + "out_proj.weight");
      const xz = h.map((row) => matvec(inW, 2 * E, d, rms(row, normW)));
      // x[t][e] after the causal conv and SiLU
      const x = Array.from({ length: L }, (_, t) =>
        Array.from({ length: E }, (_, e) => {
          let s = convB[e];
          for (let j = 0; j < K; j++) {
            const src = t - (K - 1) + j;
            if (src >= 0) s += convW[e * K + j] * xz[src][e];
          }
          return silu(s);
        }),
      );
      const state = Array.from({ length: E }, () => new Array(N).fill(0));
      const y: number[][] = [];
      for (let t = 0; t < L; t++) {
        const dbl = matvec(xW, R + 2 * N, E, x[t]);
        const dtLow = dbl.slice(0, R);
        const B = dbl.slice(R, R + N);
        const C = dbl.slice(R + N);
        const yt: number[] = [];
        for (let e = 0; e < E; e++) {
          let raw = dtB[e];
          for (let r = 0; r < R; r++) raw += dtW[e * R + r] * dtLow[r];
          const delta = softplus(raw);
          let acc = 0;
          for (let n = 0; n < N; n++) {
            const A = -Math.exp(Alog[e * N + n]);
            state[e][n] = Math.exp(delta * A) * state[e][n] + delta * B[n] * x[t][e];
            acc += C[n] * state[e][n];
          }
          yt.push((acc + Dv[e] * x[t][e]) * silu(xz[t][E + e]));
        }
        y.push(yt);
      }
      h = h.map((row, t) => {
        const o = matvec(outW, d, E, y[t]);
        return row.map((v, j) => v + o[j]);
      });
    }
    const normF = P("backbone.norm_f.weight");
    return h.map((row) => matvec(emb, V, d, rms(row, normF)));
  });
}

const tiny = () =>
  initMamba({ vocab_size: 37, hidden_size: 24, num_hidden_layers: 2, state_size: 8 }, new Rng(7));
const TOKENS = [
  [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8],
  [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5],
];

describe("mambaForward", () => {
  it("matches a float64 implementation written from the equations (float32 tolerance)", () => {
    const model = tiny();
    const want = referenceLogits(model, TOKENS).flat(2);
    for (const engine of ["typescript", "simd", "simd-threads"] as const) {
      const got = mambaForward(model, TOKENS, { engine });
      expect(got.shape).toEqual([2, 12, 37]);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(relErr(got.data, want)).toBeLessThan(1e-5);
    }
  });
  it("accepts an Int32Array tensor like number[][] and refuses bad tokens and options", () => {
    const model = tiny();
    const a = mambaForward(model, TOKENS);
    const b = mambaForward(model, { shape: [2, 12], data: Int32Array.from(TOKENS.flat()) });
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(() => mambaForward(model, [[0, 37]])).toThrow(
      /mambaForward: argument 'tokens' must be token ids in \[0, 37\)/,
    );
    expect(() => mambaForward(model, [[0, 1], [2]])).toThrow(
      /mambaForward: argument 'tokens' must be number\[\]\[\] with rows of equal length/,
    );
    expect(() => mambaForward(model, [[0.5]])).toThrow(
      /mambaForward: argument 'tokens' must be a batch of integer ids/,
    );
    expect(() =>
      mambaForward(model, { shape: [2, 2], data: new Float32Array(4) } as never),
    ).toThrow(/mambaForward: argument 'tokens' must be \{ shape: \[b, l\], data: Int32Array \}/);
    expect(() => mambaForward(model, TOKENS, { engine: "gpu" as never })).toThrow(
      /mambaForward: argument 'options.engine'/,
    );
    expect(() => mambaForward(model, TOKENS, { speed: 1 } as never)).toThrow(
      /mambaForward: argument 'options' must be an options object \{ engine\?, variant\? \} \(got an unknown key "speed"; the keys are/,
    );
    expect(() =>
      mambaForward({ ...model, config: { ...model.config, state_size: 0 } }, TOKENS),
    ).toThrow(/mambaForward: argument 'model.config.state_size'/);
    const broken = { config: model.config, params: new Map(model.params) };
    broken.params.delete("backbone.layers.1.mixer.D");
    expect(() => mambaForward(broken, TOKENS)).toThrow(
      /mambaForward: argument 'model.params' must hold every tensor of the config \(got no "backbone.layers.1.mixer.D"/,
    );
  });
  it("the mixer alone refuses a hidden state of the wrong width", () => {
    const model = tiny();
    expect(() => mambaMixer(model, 0, { shape: [1, 3, 5], data: new Float32Array(15) })).toThrow(
      /mambaMixer: argument 'u' must be a tensor of shape \[\*, \*, 24\]/,
    );
    expect(() => mambaMixer(model, 2, { shape: [1, 3, 24], data: new Float32Array(72) })).toThrow(
      /mambaMixer: argument 'layer'/,
    );
  });
});

describe("decoding with the cache", () => {
  it("step-by-step logits equal the full forward at every position", () => {
    const model = tiny();
    const full = mambaForward(model, TOKENS, { engine: "typescript" });
    const cache = createMambaCache(model, 2);
    const bytes = mambaCacheBytes(cache);
    const V = 37;
    const stepped = new Float32Array(full.data.length);
    for (let t = 0; t < 12; t++) {
      const logits = mambaStep(model, cache, [TOKENS[0][t], TOKENS[1][t]]);
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
    const model = tiny();
    for (const len of [2, 7]) {
      const prompt = TOKENS.map((r) => r.slice(0, len));
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
      const next = [TOKENS[0][len], TOKENS[1][len]];
      expect(relErr(mambaStep(model, a, next).data, mambaStep(model, b, next).data)).toBeLessThan(
        1e-5,
      );
    }
  });
  it("refuses a cache of another model, a used cache for prefill, and wrong token counts", () => {
    const model = tiny();
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
});

describe("mambaGenerate", () => {
  it("greedy decoding picks the argmax of the full forward at each step", () => {
    const model = tiny();
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
    const model = tiny();
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

describe("initMamba", () => {
  const cfg = { vocab_size: 1000, hidden_size: 64, num_hidden_layers: 4 };
  const model = initMamba(cfg, new Rng(0));
  const P = (n: string) => Array.from(model.params.get(n)!.data);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const variance = (v: number[]) => {
    const m = mean(v);
    return mean(v.map((x) => (x - m) ** 2));
  };
  /** A U(±bound) sample: inside the bounds, variance bound²/3 within 5 standard errors. */
  const expectUniform = (v: number[], bound: number) => {
    expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(Math.fround(bound));
    const want = bound ** 2 / 3;
    // var of x² for U(±a) is a⁴/5 − a⁴/9 = 4a⁴/45
    expect(Math.abs(variance(v) - want)).toBeLessThan(
      5 * Math.sqrt((4 * bound ** 4) / 45 / v.length),
    );
  };
  it("uses upstream's defaults: dt_rank = ⌈d/16⌉, E = 2d, N 16, k 4", () => {
    expect(model.config).toMatchObject({
      time_step_rank: 4,
      intermediate_size: 128,
      state_size: 16,
      conv_kernel: 4,
      layer_norm_epsilon: 1e-5,
      use_bias: false,
      use_conv_bias: true,
      tie_word_embeddings: true,
    });
    expect(
      mambaConfig({ vocab_size: 10, hidden_size: 768, num_hidden_layers: 1 }).time_step_rank,
    ).toBe(48);
    expect(
      mambaConfig({ vocab_size: 10, hidden_size: 65, num_hidden_layers: 1 }).time_step_rank,
    ).toBe(5);
  });
  it("A_log = log(1..N) per channel, D = 1, norms 1", () => {
    const a = P("backbone.layers.2.mixer.A_log");
    for (let e = 0; e < 128; e++)
      for (let n = 0; n < 16; n++) expect(a[e * 16 + n]).toBe(Math.fround(Math.log(n + 1)));
    expect(P("backbone.layers.0.mixer.D").every((v) => v === 1)).toBe(true);
    expect(P("backbone.norm_f.weight").every((v) => v === 1)).toBe(true);
  });
  it("dt_proj.bias = softplus⁻¹(Δ), Δ log-uniform in [0.001, 0.1]", () => {
    const dts = [0, 1, 2, 3].flatMap((i) =>
      P(`backbone.layers.${i}.mixer.dt_proj.bias`).map((b) => Math.log1p(Math.exp(b))),
    );
    for (const dt of dts) {
      expect(dt).toBeGreaterThanOrEqual(0.001 * (1 - 1e-5));
      expect(dt).toBeLessThanOrEqual(0.1 * (1 + 1e-5));
    }
    // log Δ uniform on [log 0.001, log 0.1]: mean and variance within 5 standard errors
    const logs = dts.map(Math.log);
    const lo = Math.log(0.001);
    const w = Math.log(0.1) - lo;
    expect(Math.abs(mean(logs) - (lo + w / 2))).toBeLessThan(
      5 * Math.sqrt(w ** 2 / 12 / logs.length),
    );
    expect(Math.abs(variance(logs) - w ** 2 / 12)).toBeLessThan(
      5 * Math.sqrt(w ** 4 / 180 / logs.length),
    );
  });
  it("weights: Linear/Conv1d defaults, dt_proj ±R^−½, out_proj / √n_layer, embedding N(0, 0.02²)", () => {
    const all = (name: string) =>
      [0, 1, 2, 3].flatMap((i) => P(`backbone.layers.${i}.mixer.${name}`));
    expectUniform(all("in_proj.weight"), 1 / Math.sqrt(64));
    expectUniform(all("x_proj.weight"), 1 / Math.sqrt(128));
    expectUniform(all("conv1d.weight"), 1 / 2);
    expectUniform(all("conv1d.bias"), 1 / 2);
    expectUniform(all("dt_proj.weight"), 1 / Math.sqrt(4));
    expectUniform(all("out_proj.weight"), 1 / Math.sqrt(128) / Math.sqrt(4));
    const emb = P("backbone.embeddings.weight");
    expect(Math.abs(mean(emb))).toBeLessThan(5 * (0.02 / Math.sqrt(emb.length)));
    // var of the sample variance of a normal: 2σ⁴/n
    expect(Math.abs(variance(emb) - 0.02 ** 2)).toBeLessThan(
      5 * Math.sqrt((2 * 0.02 ** 4) / emb.length),
    );
  });
  it("is reproducible from the seed and refuses bad configs", () => {
    const again = initMamba(cfg, new Rng(0));
    expect(Array.from(again.params.get("backbone.layers.3.mixer.x_proj.weight")!.data)).toEqual(
      P("backbone.layers.3.mixer.x_proj.weight"),
    );
    expect(() =>
      initMamba(
        { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, d_state: 4 } as never,
        new Rng(0),
      ),
    ).toThrow(
      /initMamba: argument 'config' must be a MambaConfig \{ vocab_size, .* \} \(got an unknown key "d_state"; the keys are vocab_size, /,
    );
    expect(() =>
      initMamba({ vocab_size: 10, hidden_size: 8, num_hidden_layers: 0 }, new Rng(0)),
    ).toThrow(/initMamba: argument 'config.num_hidden_layers'/);
    expect(() =>
      initMamba(
        { vocab_size: 10, hidden_size: 8, num_hidden_layers: 1, intermediate_size: 20 },
        new Rng(0),
      ),
    ).toThrow(
      /initMamba: argument 'config.intermediate_size' must be expand · hidden_size = 2 · 8 = 16/,
    );
    expect(() => initMamba(cfg, 0 as never)).toThrow(/initMamba: argument 'rng'/);
  });
  it("parameter count = the closed form, ≈ 3·expand·d² per block", () => {
    for (const [d, L, V, biases] of [
      [64, 4, 1000, false],
      [768, 24, 50280, false],
      [40, 2, 100, true],
    ] as const) {
      const c = mambaConfig({
        vocab_size: V,
        hidden_size: d,
        num_hidden_layers: L,
        use_bias: biases,
        tie_word_embeddings: !biases,
      });
      const E = 2 * d;
      const N = 16;
      const R = Math.ceil(d / 16);
      const perBlock =
        2 * E * d +
        E * 4 +
        E +
        E * (R + 2 * N) +
        R * E +
        E +
        E * N +
        E +
        d * E +
        d +
        (biases ? 2 * E + d : 0);
      const want = V * d + L * perBlock + d + (biases ? V * d : 0);
      expect(mambaParamCount(c)).toBe(want);
      if (!biases) expect(perBlock / (3 * 2 * d * d)).toBeGreaterThan(1);
    }
    // mamba-130m: 129,135,360 parameters (the "130m")
    expect(
      mambaParamCount(mambaConfig({ vocab_size: 50280, hidden_size: 768, num_hidden_layers: 24 })),
    ).toBe(129135360);
  });
});
