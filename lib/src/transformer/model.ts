/**
 * The Transformer++ (the LLaMA recipe: pre-RMSNorm, rotary positions, SwiGLU, no biases,
 * grouped-query attention) in one definition. `transformerForward` (inference),
 * `transformerLossAndGrads` (training: the same code recording a tape, `ops/tape.ts`) and
 * `transformerPrefill` / `transformerStep` (decoding: the same code appending to every layer's
 * KV cache) all run the functions below; the engines differ only in the backend behind `ops`.
 *
 * Upstream, in Hugging Face `transformers`' `models/llama/modeling_llama.py`:
 * - {@link ropeInverseFrequencies} is `LlamaRotaryEmbedding`'s `inv_freq` (the default rope type);
 * - {@link llamaAttention} is `LlamaAttention.forward`: q/k/v_proj, `apply_rotary_pos_emb`
 *   (rotate_half), `repeat_kv` (each KV head serves H / H_kv query heads), causal softmax
 *   attention scaled by 1/√head_dim (`eager_attention_forward`), o_proj; with a cache,
 *   `past_key_values.update` first (`DynamicCache`);
 * - {@link llamaMLP} is `LlamaMLP`: down_proj(act_fn(gate_proj(x)) · up_proj(x)), act_fn = SiLU;
 * - `ops.rmsNorm` is `LlamaRMSNorm`: x / √(mean(x²) + ε) · weight;
 * - {@link llamaDecoderLayer} is `LlamaDecoderLayer.forward` (two pre-norm residual blocks);
 * - {@link llamaLM} is `LlamaModel.forward` (embed_tokens, layers, norm) and `LlamaForCausalLM`
 *   (lm_head, or the embedding itself when tie_word_embeddings).
 * Parameter names are `LlamaForCausalLM`'s (`config.ts`'s `transformerParamShapes`), so a
 * checkpoint maps onto the model one to one. Activations are token-major, (b, l, ·), like HF's
 * hidden_states; attention reads heads straight out of the projections (H heads of hd side by
 * side on the last axis), without HF's transpose to (b, H, l, hd).
 *
 * Glossary (symbol → config field):
 *   b   batch size                         l   positions in this call (the whole sequence, a
 *   t₀  position of the first of them          prompt chunk, or 1 when decoding a token)
 *       (0, or the cache's length)
 *   d   model width → hidden_size          I   MLP width → intermediate_size
 *   H   query heads → num_attention_heads  H_kv key/value heads → num_key_value_heads (H_kv | H)
 *   hd  head width → head_dim (even)       θ   RoPE base → rope_theta
 *   V   vocabulary → vocab_size            ε   rms_norm_eps
 */
import type { Tensor } from "../tensor";
import type { LayerKV } from "../ops/backend";
import type { Ops } from "../ops/tape";
import type { LlamaConfig } from "./config";

/**
 * A Transformer++ as plain data: its configuration and its tensors keyed by the
 * `LlamaForCausalLM` checkpoint names (see `transformerParamShapes`), float32 (float64 for
 * gradient checks). `configExtra` holds `config.json` fields this model does not read, kept for
 * saving.
 */
export interface TransformerModel {
  config: LlamaConfig;
  params: Map<string, Tensor>;
  configExtra?: Record<string, unknown>;
}

/**
 * RoPE's rotation speeds inv_freq_j = 1 / θ^(2j / hd), j = 0 … hd/2 − 1 (float64): coordinate j
 * of a head and coordinate j + hd/2 turn together by the angle t · inv_freq_j at position t.
 */
export function ropeInverseFrequencies(headDim: number, theta: number): Float64Array {
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let j = 0; j < half; j++) out[j] = 1 / Math.pow(theta, (2 * j) / headDim);
  return out;
}

/**
 * Causal self-attention of layer `layer` on x = input_layernorm(h), (b, l, d) → (b, l, d), the
 * tokens at positions t₀ … t₀ + l − 1. With `cache` (decoding), t₀ is the number of positions it
 * holds; the new keys and values are appended to it and the queries attend to all of them.
 */
export function llamaAttention(
  ops: Ops,
  model: TransformerModel,
  layer: number,
  x: Tensor,
  invFreq: Float64Array,
  cache: LayerKV | null,
): Tensor {
  const c = model.config;
  const w = (name: string): Tensor => model.params.get(`model.layers.${layer}.self_attn.${name}`)!;
  const shape = {
    heads: c.num_attention_heads,
    kvHeads: c.num_key_value_heads,
    headDim: c.head_dim,
  };
  const t0 = cache ? cache.length : 0;
  const q = ops.linear(x, w("q_proj.weight")); //                                 (b, l, H·hd)
  const k = ops.linear(x, w("k_proj.weight")); //                                 (b, l, H_kv·hd)
  const v = ops.linear(x, w("v_proj.weight")); //                                 (b, l, H_kv·hd)
  const qRot = ops.rope(q, shape.heads, shape.headDim, t0, invFreq); //           (b, l, H·hd)
  const kRot = ops.rope(k, shape.kvHeads, shape.headDim, t0, invFreq); //         (b, l, H_kv·hd)
  // softmax(q kᵀ / √hd, keys up to the query's position) v, query head h reading KV head
  // ⌊h / (H / H_kv)⌋ (repeat_kv); keys and values go into the cache first when there is one.
  const heads = ops.attention(qRot, kRot, v, shape, cache); //                   (b, l, H·hd)
  return ops.linear(heads, w("o_proj.weight")); //                                (b, l, d)
}

/** The SwiGLU MLP of layer `layer` on x = post_attention_layernorm(h), (b, l, d) → (b, l, d). */
export function llamaMLP(ops: Ops, model: TransformerModel, layer: number, x: Tensor): Tensor {
  const w = (name: string): Tensor => model.params.get(`model.layers.${layer}.mlp.${name}`)!;
  const gate = ops.linear(x, w("gate_proj.weight")); //                           (b, l, I)
  const up = ops.linear(x, w("up_proj.weight")); //                               (b, l, I)
  const hidden = ops.mul(ops.silu(gate), up); //                                  (b, l, I)
  return ops.linear(hidden, w("down_proj.weight")); //                            (b, l, d)
}

/**
 * Decoder layer `layer` on the residual stream h (b, l, d):
 * h ← h + attention(RMSNorm(h)); h ← h + MLP(RMSNorm(h)).
 */
export function llamaDecoderLayer(
  ops: Ops,
  model: TransformerModel,
  layer: number,
  h: Tensor,
  invFreq: Float64Array,
  cache: LayerKV | null,
): Tensor {
  const eps = model.config.rms_norm_eps;
  const w = (name: string): Tensor => model.params.get(`model.layers.${layer}.${name}`)!;
  const a = ops.rmsNorm(h, w("input_layernorm.weight"), eps); //                  (b, l, d)
  const h1 = ops.add(h, llamaAttention(ops, model, layer, a, invFreq, cache)); //  (b, l, d)
  const m = ops.rmsNorm(h1, w("post_attention_layernorm.weight"), eps); //        (b, l, d)
  return ops.add(h1, llamaMLP(ops, model, layer, m)); //                          (b, l, d)
}

/**
 * The language model on token ids (b·l, row-major): h = embed_tokens(ids); every decoder layer;
 * logits = RMSNorm(h) W_headᵀ with W_head = embed_tokens when tied, else lm_head. Returns logits
 * (b, l, V), or (b, 1, V) with `lastPositionOnly` (all a prompt needs). `caches` (one per layer)
 * makes it a decoding call: the tokens continue the cached positions (see {@link llamaAttention}).
 */
export function llamaLM(
  ops: Ops,
  model: TransformerModel,
  ids: Int32Array,
  batch: number,
  length: number,
  options: { caches?: LayerKV[]; lastPositionOnly?: boolean } = {},
): Tensor {
  const c = model.config;
  const w = (name: string): Tensor => model.params.get(name)!;
  const invFreq = ropeInverseFrequencies(c.head_dim, c.rope_theta); //            (hd/2)
  const embed = w("model.embed_tokens.weight"); //                                (V, d)
  // HF's embedding has padding_idx = pad_token_id: no gradient flows into that row.
  const pad = c.pad_token_id === null ? null : (c.pad_token_id + c.vocab_size) % c.vocab_size;
  let h = ops.embedding(ids, batch, length, embed, pad); //                       (b, l, d)
  for (let i = 0; i < c.num_hidden_layers; i++) {
    h = llamaDecoderLayer(ops, model, i, h, invFreq, options.caches?.[i] ?? null); // (b, l, d)
  }
  if (options.lastPositionOnly) h = ops.lastPosition(h); //                       (b, 1, d)
  const hf = ops.rmsNorm(h, w("model.norm.weight"), c.rms_norm_eps); //           (b, l, d)
  const head = c.tie_word_embeddings ? embed : w("lm_head.weight"); //            (V, d)
  return ops.linear(hf, head); //                                                 (b, l, V)
}
