/**
 * initMamba (lib/src/mamba/init.ts) against upstream's initialisation (mamba_simple.py): dt_rank,
 * expand and defaults, A_log = log(1..N), D = 1, the Δ bias as softplus⁻¹ of a log-uniform Δ, the
 * weight scales by their sample statistics, reproducibility, and the parameter count's closed form.
 */
import { describe, expect, it } from "vitest";
import { Rng, initMamba, mambaConfig, mambaParamCount } from "../../../lib/src/index";

describe("initMamba", () => {
  it("starts a time-invariant variant as S4D-Real: B = 1, C ~ N(0, 1), and records the variant", () => {
    const cfg = { vocab_size: 5, hidden_size: 32, num_hidden_layers: 2 };
    const upstream = initMamba(cfg, new Rng(3));
    for (const variant of ["lti", "mamba-lti"] as const) {
      const m = initMamba(cfg, new Rng(3), { variant });
      expect(m.extraConfig).toEqual({ mamba_ts_variant: variant });
      const { time_step_rank: R, state_size: N, intermediate_size: E } = m.config;
      for (let i = 0; i < 2; i++) {
        const x = m.params.get(`backbone.layers.${i}.mixer.x_proj.weight`)!.data;
        const C = Array.from(x.subarray((R + N) * E, (R + 2 * N) * E));
        expect(Array.from(x.subarray(R * E, (R + N) * E)).every((v) => v === 1)).toBe(true);
        const mean = C.reduce((a, b) => a + b, 0) / C.length;
        const variance = C.reduce((a, b) => a + (b - mean) ** 2, 0) / C.length;
        // 1024 samples: mean within 4 standard errors (4/32) of 0, variance within 20% of 1
        expect(Math.abs(mean)).toBeLessThan(0.125);
        expect(Math.abs(variance - 1)).toBeLessThan(0.2);
      }
      // every other tensor is upstream's initialisation, draw for draw
      for (const [name, p] of upstream.params) {
        if (!name.endsWith("x_proj.weight"))
          expect(Array.from(m.params.get(name)!.data), name).toEqual(Array.from(p.data));
      }
    }
    expect(initMamba(cfg, new Rng(3), { variant: "s6" }).extraConfig).toEqual({
      mamba_ts_variant: "s6",
    });
    expect(() => initMamba(cfg, new Rng(3), { variant: "s4" as never })).toThrow(
      /^initMamba: argument 'options.variant' must be one of/,
    );
  });
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
