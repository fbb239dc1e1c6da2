/**
 * Mamba, the language model (Gu & Dao 2023), in one definition. `mambaForward` (inference),
 * `mambaLossAndGrads` (training: the same code recording a tape, `ops/tape.ts`) and
 * `mambaStep` / `mambaPrefill` (decoding: the same code carrying each layer's state) all run the
 * two functions below; the engines differ only in the backend behind `ops`.
 *
 * Upstream, in `state-spaces/mamba`:
 * - {@link mambaBlock} is `mamba_ssm/modules/mamba_simple.py`, `Mamba.forward` without its fused
 *   kernels (`selective_scan_ref`'s equations) and, with a state, `Mamba.step`;
 * - {@link mambaLM} is `mamba_ssm/models/mixer_seq_simple.py`'s `MixerModel` (embedding, pre-norm
 *   residual blocks, final norm) and `MambaLMHeadModel` (the tied head).
 * Parameter names are Hugging Face's `MambaForCausalLM` (`modeling_mamba.py`), so a downloaded
 * checkpoint maps onto the model one to one. Activations are token-major, (b, l, ·), as in
 * mamba-minimal's `model.py`.
 *
 * Glossary (paper → config field):
 *   b   batch size                         l   sequence length (L in the paper)
 *   d   model width, D → hidden_size       E   block width, E·D → intermediate_size = expand · d
 *   N   state size per channel → state_size
 *   R   rank of Δ's projection → time_step_rank (dt_rank, ⌈d/16⌉)
 *   k   conv width → conv_kernel           V   vocabulary → vocab_size
 *   Δ   step size (delta), A (E, N) = −exp(A_log), B, C the input and output maps, D the skip
 */
import type { FloatArray, Tensor } from "../tensor";
import type { HalfTensor } from "../half";
import type { Weight } from "../ops/backend";
import type { Ops } from "../ops/tape";
import type { MambaConfig } from "./config";

/** A Mamba LM as plain data: its config and its tensors keyed by checkpoint name, one dtype. */
export interface MambaModel {
  config: MambaConfig;
  params: Map<string, Tensor>;
  /**
   * The weight matrices kept in 16-bit floats as the checkpoint stored them
   * (`loadMambaCheckpoint(dir, { keep: "bf16" })`), absent from `params`: inference only.
   */
  half?: Map<string, HalfTensor>;
  /** config.json fields the model does not read, kept so that a save writes them back. */
  extraConfig?: Record<string, unknown>;
}

/**
 * The mixer of every layer: the Mamba block, or one of the ablations of the paper's Table 1,
 * which use the same parameters and checkpoint layout:
 * - "s6": no gate (the scan's output is not multiplied by SiLU(z); the z half of in_proj is unused);
 * - "lti": no gate and no selection, an S4D-like time-invariant layer: Δ = softplus(dt_proj.bias),
 *   B[e, n] = x_proj.weight[R + n, e] and C[e, n] = x_proj.weight[R + N + n, e], the same at
 *   every position (the δ rows of x_proj and dt_proj.weight are unused);
 * - "mamba-lti": the Mamba block (conv and gate) around that time-invariant SSM (Table 1's
 *   "Mamba, S4" row).
 */
export type MixerVariant = (typeof MIXER_VARIANTS)[number];

/** Every {@link MixerVariant}, the full block first. */
export const MIXER_VARIANTS = ["mamba", "s6", "lti", "mamba-lti"] as const;

/** What one layer carries from a position to the next when decoding (`Mamba.step`'s states). */
export interface LayerState<T extends FloatArray = FloatArray> {
  /** The last k inputs of the conv, oldest first, (b, E, k). */
  conv: Tensor<T>;
  /** The SSM state h, (b, E, N). */
  ssm: Tensor<T>;
}

/**
 * One Mamba block (the paper's Figure 3) on u = RMSNorm(h), (b, l, d) → (b, l, d). With `state`
 * the conv continues from the inputs it holds and the scan from its h, and both are left at the
 * last position: a prompt of any length, or one token (l = 1, upstream's `step`).
 */
export function mambaBlock(
  ops: Ops,
  model: MambaModel,
  layer: number,
  u: Tensor,
  variant: MixerVariant,
  state: LayerState | null,
): Tensor {
  const { intermediate_size: E, state_size: N, time_step_rank: R } = model.config;
  const w = (name: string): Tensor => model.params.get(`backbone.layers.${layer}.mixer.${name}`)!;
  const matrix = (name: string): Weight =>
    matrixOf(model, `backbone.layers.${layer}.mixer.${name}`);
  const optional = (name: string): Tensor | null =>
    model.params.get(`backbone.layers.${layer}.mixer.${name}`) ?? null;
  const [b, l] = u.shape;

  const xz = ops.linear(u, matrix("in_proj.weight"), optional("in_proj.bias")); //  (b, l, 2E)
  const [xIn, zIn] = ops.split(xz, [E, E]); //                                   (b, l, E) each
  const conv = ops.causalConv1d(
    xIn,
    w("conv1d.weight"),
    optional("conv1d.bias"),
    state?.conv ?? null,
  );
  const x = ops.silu(conv); //                                                    (b, l, E)
  const A = ops.negExp(w("A_log")); //                                            (E, N)

  const selective = variant === "mamba" || variant === "s6";
  const gated = variant === "mamba" || variant === "mamba-lti";
  let delta: Tensor; //                                       (b, l, E), before bias and softplus
  let B: Tensor; //                                           (b, l, N), or (E, N) time-invariant
  let C: Tensor; //                                           (b, l, N), or (E, N) time-invariant
  if (!selective) {
    delta = ops.zeros([b, l, E], x); //                       Δ = softplus(dt_proj.bias) everywhere
    B = ops.rowsTransposed(matrix("x_proj.weight"), R, N); //     (E, N)
    C = ops.rowsTransposed(matrix("x_proj.weight"), R + N, N); // (E, N)
  } else {
    const xdbl = ops.linear(x, matrix("x_proj.weight")); //       (b, l, R + 2N): the selection
    const [dtLow, Bx, Cx] = ops.split(xdbl, [R, N, N]); //        (b, l, R), (b, l, N), (b, l, N)
    delta = ops.linear(dtLow, matrix("dt_proj.weight")); //       (b, l, E); bias: in the scan
    B = Bx;
    C = Cx;
  }
  const y = ops.selectiveScan(
    {
      u: x,
      delta,
      A,
      B,
      C,
      D: w("D"),
      z: gated ? zIn : null, //                                gate: y ⊙ SiLU(z)
      deltaBias: w("dt_proj.bias"), //                        Δ = softplus(delta + dt_proj.bias)
    },
    state?.ssm ?? null,
  ); //                                                       (b, l, E)
  return ops.linear(y, matrix("out_proj.weight"), optional("out_proj.bias")); // (b, l, d)
}

/**
 * The language model on token ids (b·l, row-major): h₀ = embedding(ids); for each layer
 * hᵢ₊₁ = hᵢ + block(RMSNorm(hᵢ)); logits = RMSNorm_f(h) Wᵀ with W the embedding (tied head)
 * or lm_head.weight. Returns logits (b, l, V), or (b, 1, V) with `lastPositionOnly` (all a
 * prompt needs: the head is the largest product of a small model). `states` (one per layer)
 * makes it a decoding call (see {@link mambaBlock}).
 */
export function mambaLM(
  ops: Ops,
  model: MambaModel,
  ids: Int32Array,
  batch: number,
  length: number,
  options: { variant: MixerVariant; states?: LayerState[]; lastPositionOnly?: boolean },
): Tensor {
  const c = model.config;
  const w = (name: string): Tensor => model.params.get(name)!;
  const embeddings = matrixOf(model, "backbone.embeddings.weight"); //             (V, d)
  let h = ops.embedding(ids, batch, length, embeddings); //                         (b, l, d)
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const u = ops.rmsNorm(h, w(`backbone.layers.${i}.norm.weight`), c.layer_norm_epsilon);
    const out = mambaBlock(ops, model, i, u, options.variant, options.states?.[i] ?? null);
    h = ops.add(h, out); //                                                         (b, l, d)
  }
  if (options.lastPositionOnly) h = ops.lastPosition(h); //                         (b, 1, d)
  const hf = ops.rmsNorm(h, w("backbone.norm_f.weight"), c.layer_norm_epsilon);
  const head = c.tie_word_embeddings ? embeddings : matrixOf(model, "lm_head.weight"); // (V, d)
  return ops.linear(hf, head); //                                                   (b, l, V)
}

/** A weight matrix by checkpoint name: kept in 16 bits, or from the parameters. */
function matrixOf(model: MambaModel, name: string): Weight {
  return model.half?.get(name) ?? model.params.get(name)!;
}
