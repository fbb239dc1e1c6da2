/**
 * The Mamba language model in float64, written straight from the paper and the upstream code
 * (Gu & Dao 2023, Figure 3; mamba_simple.py): the independent oracle of the tests of lib/src/mamba.
 */
import { type MambaModel, Rng, initMamba } from "../../lib/src/index";

/** RMSNorm of v with weight w and ε eps, in float64. */
export function rmsNorm(v: number[], w: number[], eps: number): number[] {
  const ms = v.reduce((a, x) => a + x * x, 0) / v.length;
  return v.map((x, j) => (x / Math.sqrt(ms + eps)) * w[j]);
}

/** W (rows × cols, row-major) times v, plus `bias` (none when empty), in float64. */
export function matvec(
  W: number[],
  rows: number,
  cols: number,
  v: number[],
  bias: number[] = [],
): number[] {
  return Array.from(
    { length: rows },
    (_, r) => (bias[r] ?? 0) + v.reduce((a, x, c) => a + W[r * cols + c] * x, 0),
  );
}

export const softplus = (x: number): number => Math.log(1 + Math.exp(x));

/**
 * A float64 Mamba LM written straight from the equations (Gu & Dao 2023, Figure 3 and
 * `mamba_simple.py`), with number[] arrays and nested loops, using none of lib's ops.
 */
export function mambaReferenceLogits(model: MambaModel, tokens: number[][]): number[][][] {
  const cfg = model.config;
  const P = (name: string) => Array.from(model.params.get(name)!.data);
  const d = cfg.hidden_size;
  const E = cfg.intermediate_size;
  const N = cfg.state_size;
  const R = cfg.time_step_rank;
  const K = cfg.conv_kernel;
  const V = cfg.vocab_size;
  const emb = P("backbone.embeddings.weight");
  const rms = (v: number[], w: number[]) => rmsNorm(v, w, cfg.layer_norm_epsilon);
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const silu = (x: number) => x * sig(x);
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

/** A small random Mamba LM (vocabulary 37, 2 layers, d_model 24, N 8) and two sequences for it. */
export const tinyMamba = (): MambaModel =>
  initMamba({ vocab_size: 37, hidden_size: 24, num_hidden_layers: 2, state_size: 8 }, new Rng(7));
export const MAMBA_TOKENS = [
  [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8],
  [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5],
];
