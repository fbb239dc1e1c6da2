/**
 * Mamba-2, the language model (Dao & Gu 2024, "Transformers are SSMs"), in one definition.
 * `mamba2Forward` (inference), `mamba2LossAndGrads` (training: the same code recording a tape,
 * `ops/tape.ts`) and `mamba2Step` / `mamba2Prefill` (decoding: the same code carrying each
 * layer's state) all run the two functions below.
 *
 * Upstream:
 * - {@link mamba2Block} is transformers' `modeling_mamba2.py`, `Mamba2Mixer.forward` on its
 *   PyTorch path (`torch_forward`: in_proj, causal conv, `mamba2_chunk_scan`, the gated
 *   `MambaRMSNormGated`, out_proj) and, with a state, its decoding branch; the same block as
 *   `state-spaces/mamba`'s `mamba_ssm/modules/mamba2.py` (`Mamba2.forward` / `Mamba2.step`),
 *   except that transformers' gated norm normalises all E channels at once where mamba_ssm's
 *   normalises each of the n_groups groups of channels separately (the same when n_groups = 1);
 * - {@link mamba2LM} is `Mamba2Model` (embedding, pre-norm residual blocks, final norm) and
 *   `Mamba2ForCausalLM` (the head).
 * Parameter names are Hugging Face's `Mamba2ForCausalLM`. Activations are token-major, (b, l, ·).
 *
 * Glossary (paper → config field):
 *   b   batch size                         l   sequence length
 *   d   model width → hidden_size          E   block width, expand · d = H · P
 *   H   heads → num_heads                  P   channels per head → head_dim
 *   G   groups of B and C → n_groups       N   state size per channel → state_size
 *   k   conv width → conv_kernel           V   vocabulary → vocab_size
 *   Δ   step size per head (dt), A (H) = −exp(A_log) a scalar per head, B, C (G·N) the input
 *       and output maps, D (H) the skip; the conv runs over x, B and C together (E + 2GN channels)
 */
import type { Tensor } from "../tensor";
import type { Ops } from "../ops/tape";
import { type Mamba2Config, mamba2Widths } from "./config";

/** A Mamba-2 LM as plain data: its config and its tensors keyed by checkpoint name, one dtype. */
export interface Mamba2Model {
  config: Mamba2Config;
  params: Map<string, Tensor>;
  /** config.json fields the model does not read, kept so that a save writes them back. */
  extraConfig?: Record<string, unknown>;
}

/** What one layer carries from a position to the next when decoding (`Mamba2.step`'s states). */
export interface Mamba2LayerState {
  /** The last k inputs of the conv (x, B and C before it), oldest first, (b, E + 2GN, k). */
  conv: Tensor;
  /** The SSM state of every head, (b, H, P, N). */
  ssm: Tensor;
}

/**
 * One Mamba-2 block (the paper's Figure 6, "Mamba-2 block") on u = RMSNorm(h), (b, l, d) →
 * (b, l, d). With `state` the conv continues from the inputs it holds and the SSD from its
 * states, and both are left at the last position: a prompt of any length, or one token.
 */
export function mamba2Block(
  ops: Ops,
  model: Mamba2Model,
  layer: number,
  u: Tensor,
  state: Mamba2LayerState | null,
): Tensor {
  const c = model.config;
  const { num_heads: H, n_groups: G, state_size: N } = c;
  const { inner: E, convDim } = mamba2Widths(c);
  const w = (name: string): Tensor => model.params.get(`backbone.layers.${layer}.mixer.${name}`)!;
  const optional = (name: string): Tensor | null =>
    model.params.get(`backbone.layers.${layer}.mixer.${name}`) ?? null;

  // One parallel projection: the gate, the conv's input and Δ (Mamba-1 had a second one for Δ, B, C).
  const zxbcdt = ops.linear(u, w("in_proj.weight"), optional("in_proj.bias")); // (b, l, 2E + 2GN + H)
  const [z, xBCin, dt] = ops.split(zxbcdt, [E, convDim, H]); //     (b, l, E), (b, l, E + 2GN), (b, l, H)
  const conv = ops.causalConv1d(
    xBCin,
    w("conv1d.weight"),
    optional("conv1d.bias"),
    state?.conv ?? null,
  ); //                                                               (b, l, E + 2GN)
  const xBC = ops.silu(conv); //                                      (b, l, E + 2GN)
  const [x, B, C] = ops.split(xBC, [E, G * N, G * N]); //             (b, l, E), (b, l, GN) × 2
  const A = ops.negExp(w("A_log")); //                                (H): one scalar per head
  const y = ops.ssd(
    {
      x, //                                                            heads of P channels
      dt, //                                                           Δ = clamp(softplus(dt + dt_bias))
      A,
      B,
      C,
      D: w("D"),
      dtBias: w("dt_bias"),
      groups: G,
      dtLimit: c.time_step_limit,
      chunkSize: c.chunk_size,
    },
    state?.ssm ?? null,
  ); //                                                               (b, l, E)
  // The gated RMSNorm (`MambaRMSNormGated`, gate before the norm): RMSNorm(y ⊙ SiLU(z)) · w.
  const gated = ops.mul(y, ops.silu(z)); //                           (b, l, E)
  const normed = ops.rmsNorm(gated, w("norm.weight"), c.layer_norm_epsilon); // (b, l, E)
  return ops.linear(normed, w("out_proj.weight"), optional("out_proj.bias")); // (b, l, d)
}

/**
 * The language model on token ids (b·l, row-major): h₀ = embedding(ids); for each layer
 * hᵢ₊₁ = hᵢ + block(RMSNorm(hᵢ)); logits = RMSNorm_f(h) Wᵀ with W the embedding (tied head)
 * or lm_head.weight. Returns logits (b, l, V), or (b, 1, V) with `lastPositionOnly`. `states`
 * (one per layer) makes it a decoding call (see {@link mamba2Block}).
 */
export function mamba2LM(
  ops: Ops,
  model: Mamba2Model,
  ids: Int32Array,
  batch: number,
  length: number,
  options: { states?: Mamba2LayerState[]; lastPositionOnly?: boolean } = {},
): Tensor {
  const c = model.config;
  const w = (name: string): Tensor => model.params.get(name)!;
  const embeddings = w("backbone.embeddings.weight"); //                          (V, d)
  let h = ops.embedding(ids, batch, length, embeddings); //                         (b, l, d)
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const u = ops.rmsNorm(h, w(`backbone.layers.${i}.norm.weight`), c.layer_norm_epsilon);
    const out = mamba2Block(ops, model, i, u, options.states?.[i] ?? null); //   (b, l, d)
    h = ops.add(h, out); //                                                         (b, l, d)
  }
  if (options.lastPositionOnly) h = ops.lastPosition(h); //                         (b, 1, d)
  const hf = ops.rmsNorm(h, w("backbone.norm_f.weight"), c.layer_norm_epsilon);
  const head = c.tie_word_embeddings ? embeddings : w("lm_head.weight"); //          (V, d)
  return ops.linear(hf, head); //                                                   (b, l, V)
}
