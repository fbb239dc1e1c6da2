/**
 * The Transformer++ forward pass (the LLaMA recipe, HF's `LlamaForCausalLM`):
 *
 *   x⁰ = embed_tokens[tokens]                                        (b, l, d)
 *   for each layer i:
 *     a  = RMSNorm(x, input_layernorm)
 *     q, k, v = a W_qᵀ, a W_kᵀ, a W_vᵀ, split into H (q) and H_kv (k, v) heads of head_dim
 *     q, k ← RoPE(q), RoPE(k) at positions 0 … l − 1
 *     x  = x + Attention(q, k, v) W_oᵀ         (causal, scale 1/√head_dim, grouped-query)
 *     m  = RMSNorm(x, post_attention_layernorm)
 *     x  = x + W_down(silu(m W_gateᵀ) ⊙ m W_upᵀ)                        (SwiGLU)
 *   logits = RMSNorm(x, model.norm) W_headᵀ    (W_head = embed_tokens when tied)
 *
 * No biases anywhere. Computed in float32 storage with float64 sums (lib's `nn` ops).
 */
import { type DType, type Tensor, dtypeOf } from "../tensor";
import { describe } from "../validate";
import { readTokens } from "../lm/tokens";
import { linear } from "../nn/linear";
import { rmsNorm } from "../nn/rms-norm";
import { embedding } from "../nn/embedding";
import { silu } from "../selective/activations";
import { type LlamaConfig, checkLlamaConfig, transformerParamShapes } from "./config";
import {
  type HeadLayout,
  attentionKernel,
  ropeTables,
  rotateHalfInPlace,
  tokenMajorLayout,
} from "../ops/reference/attention";
import { ropeInvFreq } from "./rope";

/**
 * A Transformer++ as plain data: its configuration and its tensors keyed by the
 * `LlamaForCausalLM` checkpoint names (see `transformerParamShapes`), float32.
 * `configExtra` holds `config.json` fields this model does not read, kept for saving.
 */
export interface TransformerModel {
  config: LlamaConfig;
  params: Map<string, Tensor>;
  configExtra?: Record<string, unknown>;
}

/**
 * Checks a model object (config fields; every tensor present, of its checkpoint shape, of one
 * of `dtypes` (default float32) and all of the same dtype; no unknown tensor) and returns its
 * config. Weights are scanned for NaN/∞ when a model is built
 * or loaded, not here (that would cost as much as a decoding step).
 */
export function checkTransformerModel(
  fn: string,
  model: unknown,
  dtypes: readonly DType[] = ["float32"],
): LlamaConfig {
  if (model === null || typeof model !== "object" || !(model as TransformerModel).params) {
    throw new Error(
      `${fn}: argument 'model' must be { config, params: Map<name, tensor> } (from initTransformer or loadTransformerCheckpoint) (got ${describe(model)})`,
    );
  }
  const m = model as TransformerModel;
  if (!(m.params instanceof Map)) {
    throw new Error(
      `${fn}: argument 'model.params' must be a Map from tensor name to tensor (got ${describe(m.params)})`,
    );
  }
  const config = checkLlamaConfig(fn, "model.config", m.config, { allowUnknown: false }).config;
  const shapes = transformerParamShapes(config);
  for (const [name, shape] of shapes) {
    const t = m.params.get(name);
    if (t === undefined)
      throw new Error(
        `${fn}: argument 'model.params' must hold every tensor of the config (got no tensor "${name}")`,
      );
    if (
      !(t.data instanceof Float32Array || t.data instanceof Float64Array) ||
      !dtypes.includes(dtypeOf(t))
    ) {
      throw new Error(
        `${fn}: argument 'model.params' must hold ${dtypes.join(" or ")} data in tensor "${name}" (got ${describe(t)})`,
      );
    }
    const first = m.params.get("model.embed_tokens.weight");
    if (first && dtypeOf(t) !== dtypeOf(first)) {
      throw new Error(
        `${fn}: argument 'model.params' must hold tensors of one dtype (${dtypeOf(first)}) (got ${dtypeOf(t)} in tensor "${name}")`,
      );
    }
    if (t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new Error(
        `${fn}: argument 'model.params' must hold tensor "${name}" of shape [${shape.join(", ")}] (got shape [${t.shape.join(", ")}])`,
      );
    }
  }
  for (const name of m.params.keys()) {
    if (!shapes.has(name)) {
      throw new Error(
        `${fn}: argument 'model.params' must hold only the tensors of the config (got an unexpected tensor "${name}"${name === "lm_head.weight" ? " (tie_word_embeddings is true)" : ""})`,
      );
    }
  }
  return config;
}

/** Token ids (b, l) as one flat Int32Array, already checked against the vocabulary. */
export interface TokenBatch {
  ids: Int32Array;
  batch: number;
  length: number;
}

/** Reads (b, l) `tokens` (Int32Array tensor or number[][]) with lib's one token reader. */
export function readTokenBatch(fn: string, tokens: unknown, vocab: number): TokenBatch {
  const { ids, shape } = readTokens(fn, tokens, vocab);
  return { ids, batch: shape[0], length: shape[1] };
}

/**
 * Attention of one layer for `length` new tokens per sequence: given the rotated queries and the
 * rotated keys and values of those tokens, all (b, length, heads · head_dim), returns the heads'
 * outputs (b, length, H · head_dim). The full forward attends among the new tokens; the cached
 * step also attends to earlier ones.
 */
export type LayerAttention = (
  layer: number,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
) => Float32Array;

/** Full-sequence causal attention over (b, l, heads · head_dim) projections. */
export function sequenceAttention(config: LlamaConfig, batch: number, length: number) {
  const heads = config.num_attention_heads;
  const kvHeads = config.num_key_value_heads;
  const headDim = config.head_dim;
  const qL: HeadLayout = tokenMajorLayout(length, heads, headDim);
  const kvL: HeadLayout = tokenMajorLayout(length, kvHeads, headDim);
  return (_layer: number, q: Float32Array, k: Float32Array, v: Float32Array): Float32Array => {
    const out = new Float32Array(batch * length * heads * headDim);
    const dims = { batch, heads, kvHeads, queries: length, keys: length, headDim, offset: 0 };
    attentionKernel(dims, q, qL, k, kvL, v, kvL, out, qL);
    return out;
  };
}

/**
 * The decoder stack and head for tokens at positions start … start + l − 1 (see the module
 * comment), with `attend` supplying each layer's attention. Returns logits (b, l, vocab) float32.
 */
export function decoderForward(
  model: TransformerModel,
  tokens: TokenBatch,
  start: number,
  attend: LayerAttention,
): Tensor {
  const c = model.config;
  const p = (name: string): Tensor => model.params.get(name)!;
  const { batch, length } = tokens;
  const heads = c.num_attention_heads;
  const kvHeads = c.num_key_value_heads;
  const headDim = c.head_dim;
  const tables = ropeTables(start, length, ropeInvFreq(headDim, c.rope_theta));
  // Rotates every head of a (b, l, heads · head_dim) projection at its token's position.
  const rope = (data: Float32Array, n: number): void =>
    rotateHalfInPlace(
      data,
      batch * n,
      length,
      (row, pos) => ((Math.floor(row / n) * length + pos) * n + (row % n)) * headDim,
      tables,
    );
  let x = embedding(tokens.ids, p("model.embed_tokens.weight"), [batch, length]);
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const pre = `model.layers.${i}.`;
    const a = rmsNorm(x, p(`${pre}input_layernorm.weight`), c.rms_norm_eps);
    const q = linear(a, p(`${pre}self_attn.q_proj.weight`)).data as Float32Array;
    const k = linear(a, p(`${pre}self_attn.k_proj.weight`)).data as Float32Array;
    const v = linear(a, p(`${pre}self_attn.v_proj.weight`)).data as Float32Array;
    rope(q, heads);
    rope(k, kvHeads);
    const heads_ = attend(i, q, k, v);
    const o = linear(
      { shape: [batch, length, heads * headDim], data: heads_ },
      p(`${pre}self_attn.o_proj.weight`),
    );
    x = addInto(x, o);
    const m = rmsNorm(x, p(`${pre}post_attention_layernorm.weight`), c.rms_norm_eps);
    const gate = linear(m, p(`${pre}mlp.gate_proj.weight`));
    const up = linear(m, p(`${pre}mlp.up_proj.weight`));
    for (let j = 0; j < gate.data.length; j++) gate.data[j] = silu(gate.data[j]) * up.data[j];
    x = addInto(x, linear(gate, p(`${pre}mlp.down_proj.weight`)));
  }
  const h = rmsNorm(x, p("model.norm.weight"), c.rms_norm_eps);
  const head = c.tie_word_embeddings ? p("model.embed_tokens.weight") : p("lm_head.weight");
  return linear(h, head);
}

/** x += y elementwise (the residual connection); returns x. */
function addInto(x: Tensor, y: Tensor): Tensor {
  for (let j = 0; j < x.data.length; j++) x.data[j] += y.data[j];
  return x;
}

/**
 * Logits of a Transformer++ for every position of every sequence (see the module comment).
 *
 * @param model from `initTransformer` or `loadTransformerCheckpoint`
 * @param tokens (b, l) ids in [0, vocab_size): `{ shape: [b, l], data: Int32Array }` or number[][]
 * @returns logits (b, l, vocab_size) float32; position t sees tokens 0 … t only (causal)
 */
export function transformerForward(model: TransformerModel, tokens: unknown): Tensor {
  const fn = "transformerForward";
  const config = checkTransformerModel(fn, model);
  const batch = readTokenBatch(fn, tokens, config.vocab_size);
  checkActivationSize(fn, config, batch.batch * batch.length);
  return decoderForward(model, batch, 0, sequenceAttention(config, batch.batch, batch.length));
}

/** The largest activation (elements) a forward may allocate: 2^28 float32 numbers, 1 GiB. */
const MAX_ACTIVATION = 2 ** 28;

/** Refuses runaway sizes: `rows` token positions times the widest activation of the model. */
export function checkActivationSize(fn: string, config: LlamaConfig, rows: number): void {
  const widest = Math.max(
    config.vocab_size,
    config.intermediate_size,
    config.num_attention_heads * config.head_dim,
  );
  if (rows * widest > MAX_ACTIVATION) {
    throw new Error(
      `${fn}: tokens: ${rows} positions × ${widest} (the widest activation) = ${rows * widest} numbers is more than this library allocates (${MAX_ACTIVATION}); use a shorter or smaller batch`,
    );
  }
}
