/**
 * The Mamba-2 language model in float64, written straight from transformers' `modeling_mamba2.py`
 * (`Mamba2Mixer` on its PyTorch path, with the SSD as the per-position recurrence): the
 * independent oracle of the tests of lib/src/mamba2. number[] arrays, nested loops, none of lib's
 * ops.
 */
import { type Mamba2Model, Rng, initMamba2, mamba2Config } from "../../lib/src/index";
import { matvec, rmsNorm, softplus } from "./mamba-reference";

export function mamba2ReferenceLogits(model: Mamba2Model, tokens: number[][]): number[][][] {
  const cfg = model.config;
  const P = (name: string) => Array.from(model.params.get(name)?.data ?? []);
  const d = cfg.hidden_size;
  const H = cfg.num_heads;
  const hd = cfg.head_dim;
  const E = H * hd;
  const G = cfg.n_groups;
  const N = cfg.state_size;
  const K = cfg.conv_kernel;
  const V = cfg.vocab_size;
  const convDim = E + 2 * G * N;
  const eps = cfg.layer_norm_epsilon;
  const [lo, hi] = cfg.time_step_limit;
  const emb = P("backbone.embeddings.weight");
  const rms = (v: number[], w: number[]) => rmsNorm(v, w, eps);
  const silu = (x: number) => x / (1 + Math.exp(-x));
  return tokens.map((seq) => {
    const L = seq.length;
    let h = seq.map((id) => emb.slice(id * d, (id + 1) * d));
    for (let layer = 0; layer < cfg.num_hidden_layers; layer++) {
      const m = `backbone.layers.${layer}.mixer.`;
      const proj = h.map((row) =>
        matvec(
          P(m + "in_proj.weight"),
          E + convDim + H,
          d,
          rms(row, P(`backbone.layers.${layer}.norm.weight`)),
          P(m + "in_proj.bias"),
        ),
      );
      const z = proj.map((r) => r.slice(0, E));
      const xBCin = proj.map((r) => r.slice(E, E + convDim));
      const dt = proj.map((r) => r.slice(E + convDim));
      const convW = P(m + "conv1d.weight");
      const convB = P(m + "conv1d.bias");
      const xBC = Array.from({ length: L }, (_, t) =>
        Array.from({ length: convDim }, (_, c) => {
          let s = convB[c] ?? 0;
          for (let j = 0; j < K; j++) {
            const src = t - (K - 1) + j;
            if (src >= 0) s += convW[c * K + j] * xBCin[src][c];
          }
          return silu(s);
        }),
      );
      const A = P(m + "A_log").map((a) => -Math.exp(a));
      const Dv = P(m + "D");
      const dtBias = P(m + "dt_bias");
      const y = Array.from({ length: L }, () => new Array<number>(E).fill(0));
      for (let head = 0; head < H; head++) {
        const g = Math.floor(head / (H / G));
        const state = Array.from({ length: hd }, () => new Array<number>(N).fill(0));
        for (let t = 0; t < L; t++) {
          const delta = Math.min(Math.max(softplus(dt[t][head] + dtBias[head]), lo), hi);
          const Bt = xBC[t].slice(E + g * N, E + (g + 1) * N);
          const Ct = xBC[t].slice(E + G * N + g * N, E + G * N + (g + 1) * N);
          for (let p = 0; p < hd; p++) {
            const x = xBC[t][head * hd + p];
            let acc = Dv[head] * x;
            for (let n = 0; n < N; n++) {
              state[p][n] = Math.exp(delta * A[head]) * state[p][n] + delta * x * Bt[n];
              acc += state[p][n] * Ct[n];
            }
            y[t][head * hd + p] = acc;
          }
        }
      }
      const normW = P(m + "norm.weight");
      const out = y.map((row, t) =>
        matvec(
          P(m + "out_proj.weight"),
          d,
          E,
          rms(
            row.map((v, e) => v * silu(z[t][e])),
            normW,
          ),
          P(m + "out_proj.bias"),
        ),
      );
      h = h.map((row, t) => row.map((v, j) => v + out[t][j]));
    }
    const head = cfg.tie_word_embeddings ? emb : P("lm_head.weight");
    return h.map((row) => matvec(head, V, d, rms(row, P("backbone.norm_f.weight"))));
  });
}

/**
 * A Mamba-2 of `config` whose every parameter is random (norm weights near 1; A_log as
 * initialised), in float32 or float64: tests then exercise D, biases and norms too, not their
 * initial constants.
 */
export function randomMamba2Model(
  config: Parameters<typeof mamba2Config>[0],
  seed: number,
  dtype: "float32" | "float64" = "float32",
): Mamba2Model {
  const rng = new Rng(seed);
  const m = initMamba2(mamba2Config(config), rng);
  for (const [name, t] of m.params) {
    const data =
      dtype === "float64" ? new Float64Array(t.data.length) : new Float32Array(t.data.length);
    for (let i = 0; i < data.length; i++) {
      if (name.endsWith("norm.weight") || name.endsWith("norm_f.weight"))
        data[i] = 1 + 0.3 * rng.normal();
      else if (name.endsWith("A_log")) data[i] = t.data[i];
      else data[i] = 0.5 * rng.normal();
    }
    m.params.set(name, { shape: t.shape, data });
  }
  return m;
}
