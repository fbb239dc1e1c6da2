/**
 * mambaForward (lib/src/mamba/forward.ts, running the one model definition of model.ts) against the
 * float64 Mamba written from the equations in tests/helpers/mamba-reference.ts, within float32
 * tolerance; token, option and width errors.
 */
import { describe, expect, it } from "vitest";
import { Rng, initMamba, mambaForward, mambaMixer, mambaSelection } from "../../../lib/src/index";
import { MAMBA_TOKENS, mambaReferenceLogits, tinyMamba } from "../../helpers/mamba-reference";
import { relErr } from "../../helpers/reference";

describe("mambaForward", () => {
  it("matches a float64 implementation written from the equations (float32 tolerance)", () => {
    const model = tinyMamba();
    const want = mambaReferenceLogits(model, MAMBA_TOKENS).flat(2);
    for (const engine of ["typescript", "simd", "simd-threads"] as const) {
      const got = mambaForward(model, MAMBA_TOKENS, { engine });
      expect(got.shape).toEqual([2, 12, 37]);
      expect(got.data).toBeInstanceOf(Float32Array);
      expect(relErr(got.data, want)).toBeLessThan(1e-5);
    }
  });
  it("accepts an Int32Array tensor like number[][] and refuses bad tokens and options", () => {
    const model = tinyMamba();
    const a = mambaForward(model, MAMBA_TOKENS);
    const b = mambaForward(model, { shape: [2, 12], data: Int32Array.from(MAMBA_TOKENS.flat()) });
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
    expect(() => mambaForward(model, MAMBA_TOKENS, { engine: "gpu" as never })).toThrow(
      /mambaForward: argument 'options.engine'/,
    );
    expect(() => mambaForward(model, MAMBA_TOKENS, { speed: 1 } as never)).toThrow(
      /mambaForward: argument 'options' must be an options object \{ engine\?, variant\? \} \(got an unknown key "speed"; the keys are/,
    );
    expect(() =>
      mambaForward({ ...model, config: { ...model.config, state_size: 0 } }, MAMBA_TOKENS),
    ).toThrow(/mambaForward: argument 'model.config.state_size'/);
    const broken = { config: model.config, params: new Map(model.params) };
    broken.params.delete("backbone.layers.1.mixer.D");
    expect(() => mambaForward(broken, MAMBA_TOKENS)).toThrow(
      /mambaForward: argument 'model.params' must hold every tensor of the config \(got no "backbone.layers.1.mixer.D"/,
    );
  });
  it("the mixer alone refuses a hidden state of the wrong width", () => {
    const model = tinyMamba();
    expect(() => mambaMixer(model, 0, { shape: [1, 3, 5], data: new Float32Array(15) })).toThrow(
      /mambaMixer: argument 'u' must be a tensor of shape \[\*, \*, 24\]/,
    );
    expect(() => mambaMixer(model, 2, { shape: [1, 3, 24], data: new Float32Array(72) })).toThrow(
      /mambaMixer: argument 'layer'/,
    );
  });
});

describe("mambaSelection", () => {
  it("reports each layer's Δ = softplus(dt_proj(δ) + bias) and SiLU(z), recomputed here from the weights", () => {
    const model = initMamba({ vocab_size: 11, hidden_size: 8, num_hidden_layers: 2 }, new Rng(5));
    const tokens = [[1, 4, 2, 9, 0, 3]];
    const sel = mambaSelection(model, tokens);
    expect(sel.length).toBe(2);
    // Layer 0 by hand: embedding, RMSNorm, in_proj, conv, SiLU, x_proj, dt_proj (float64 sums).
    const P = (n: string) => model.params.get(n)!.data;
    const c = model.config;
    const [d, E, N, R, k] = [
      c.hidden_size,
      c.intermediate_size,
      c.state_size,
      c.time_step_rank,
      c.conv_kernel,
    ];
    const L = tokens[0].length;
    const silu = (v: number) => v / (1 + Math.exp(-v));
    const softplus = (v: number) => Math.log1p(Math.exp(v));
    const u = tokens[0].map((id) => {
      const h = Array.from(P("backbone.embeddings.weight").subarray(id * d, id * d + d));
      const rms = Math.sqrt(h.reduce((s, v) => s + v * v, 0) / d + c.layer_norm_epsilon);
      return h.map((v, j) => (v / rms) * P("backbone.layers.0.norm.weight")[j]);
    });
    const m = "backbone.layers.0.mixer.";
    const xz = u.map((row) =>
      Array.from({ length: 2 * E }, (_, o) =>
        row.reduce((s, v, i) => s + v * P(m + "in_proj.weight")[o * d + i], 0),
      ),
    );
    const x = Array.from({ length: L }, (_, t) =>
      Array.from({ length: E }, (_, e) => {
        let s = P(m + "conv1d.bias")[e];
        for (let j = 0; j < k; j++) {
          const src = t - (k - 1) + j;
          if (src >= 0) s += P(m + "conv1d.weight")[e * k + j] * xz[src][e];
        }
        return silu(s);
      }),
    );
    for (let t = 0; t < L; t++) {
      const dtLow = Array.from({ length: R }, (_, r) =>
        x[t].reduce((s, v, e) => s + v * P(m + "x_proj.weight")[r * E + e], 0),
      );
      for (let e = 0; e < E; e++) {
        const raw = dtLow.reduce((s, v, r) => s + v * P(m + "dt_proj.weight")[e * R + r], 0);
        const want = softplus(raw + P(m + "dt_proj.bias")[e]);
        expect(Math.abs(sel[0].delta.data[t * E + e] - want) / want).toBeLessThan(1e-4);
        expect(Math.abs(sel[0].gate!.data[t * E + e] - silu(xz[t][E + e]))).toBeLessThan(1e-5);
      }
    }
    expect(sel[0].B.shape).toEqual([1, L, N]);
    expect(mambaSelection(model, tokens, { variant: "s6" })[0].gate).toBeNull();
    expect(() => mambaSelection(model, [[11]])).toThrow(
      /^mambaSelection: argument 'tokens' must be token ids in \[0, 11\)/,
    );
  });
});
