/**
 * The loss and its gradients for a whole Transformer++ (`LlamaForCausalLM` layout), llm.c style
 * like `mambaLossAndGrads`: one forward pass keeping each layer's activations, then the backward
 * pass through the layers in reverse, each op's backward paired with its forward: `linear`,
 * `rmsNorm`, `embedding` and SiLU from `train/ops-backward.ts`, plus the three this model adds:
 *
 * - attention (per query i, weights P_ij = softmax_j(s_ij), s_ij = q_i·k_j / √h, j ≤ i;
 *   o_i = Σ_j P_ij v_j):
 *     ∂v_j = Σ_i P_ij ∂o_i,   ∂P_ij = ∂o_i · v_j,   ∂s_ij = P_ij (∂P_ij − Σ_j' P_ij' ∂P_ij'),
 *     ∂q_i = Σ_j ∂s_ij k_j / √h,   ∂k_j = Σ_i ∂s_ij q_i / √h
 *   (a KV head shared by several query heads sums their contributions);
 * - RoPE: an orthogonal rotation R_p per position, so ∂x = R_pᵀ ∂y = the rotation by −angle;
 * - SwiGLU h = silu(g) ⊙ u:  ∂u = ∂h ⊙ silu(g),  ∂g = ∂h ⊙ u ⊙ silu'(g).
 *
 * The attention weights are kept, (b, H, l, l) per layer: memory O(b·H·l²), as in the standard
 * (not flash) attention backward.
 */
import { type FloatArray, type Tensor, allocate, dtypeOf } from "../tensor";
import { assertInteger, assertPositive, assertTensor, describe } from "../validate";
import { linear } from "../nn/linear";
import { rmsNorm } from "../nn/rms-norm";
import { embedding } from "../nn/embedding";
import { silu } from "../selective/activations";
import { readTokens } from "../mamba/forward";
import {
  crossEntropy,
  embeddingBackward,
  linearBackward,
  rmsNormBackward,
  siluBackward,
} from "../train/ops-backward";
import { type LossAndGrads, type TokenBatch, lossTargets } from "../train/mamba-grads";
import { type HeadLayout, attentionKernel, headMajorLayout, tokenMajorLayout } from "./attention";
import { ropeInvFreq, ropeTables, rotateHalfInPlace } from "./rope";
import { type TransformerModel, checkActivationSize, checkTransformerModel } from "./model";

/** Sizes of one attention call (see `attentionKernel`). */
interface AttentionDims {
  batch: number;
  heads: number;
  kvHeads: number;
  queries: number;
  keys: number;
  headDim: number;
  offset: number;
}

/**
 * Backward of the attention kernel over strided operands, given the weights `probs`
 * (b, H, lq, lk) its forward stored: accumulates ∂q, ∂k, ∂v (same layouts as q, k, v) from
 * ∂out (layout oL). Equations in the module comment.
 */
function attentionBackwardKernel(
  dims: AttentionDims,
  q: FloatArray,
  qL: HeadLayout,
  k: FloatArray,
  kL: HeadLayout,
  v: FloatArray,
  vL: HeadLayout,
  probs: Float64Array,
  dout: FloatArray,
  oL: HeadLayout,
  dq: Float64Array,
  dk: Float64Array,
  dv: Float64Array,
): void {
  const { batch, heads, kvHeads, queries, keys, headDim, offset } = dims;
  const group = heads / kvHeads;
  const scale = 1 / Math.sqrt(headDim);
  const dp = new Float64Array(keys);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const g = Math.floor(h / group);
      const kBase = b * kL.sb + g * kL.sh;
      const vBase = b * vL.sb + g * vL.sh;
      for (let i = 0; i < queries; i++) {
        const last = Math.min(keys - 1, offset + i);
        const po = ((b * heads + h) * queries + i) * keys;
        const oo = b * oL.sb + h * oL.sh + i * oL.sl;
        const qo = b * qL.sb + h * qL.sh + i * qL.sl;
        let weighted = 0;
        for (let j = 0; j <= last; j++) {
          const vo = vBase + j * vL.sl;
          const p = probs[po + j];
          let d = 0;
          for (let e = 0; e < headDim; e++) {
            d += dout[oo + e] * v[vo + e];
            dv[vo + e] += p * dout[oo + e];
          }
          dp[j] = d;
          weighted += p * d;
        }
        for (let j = 0; j <= last; j++) {
          const ds = probs[po + j] * (dp[j] - weighted) * scale;
          if (ds === 0) continue;
          const ko = kBase + j * kL.sl;
          for (let e = 0; e < headDim; e++) {
            dq[qo + e] += ds * k[ko + e];
            dk[ko + e] += ds * q[qo + e];
          }
        }
      }
    }
  }
}

/**
 * Backward of `causalAttention` (full causal attention, offset lk − lq): given q, k, v and
 * g = ∂loss/∂out, returns ∂q, ∂k, ∂v (the forward is recomputed for the weights).
 *
 * @param q (b, H, lq, head_dim); k, v (b, H_kv, lk, head_dim); g (b, H, lq, head_dim)
 * @returns dq, dk, dv in the shapes and dtype of q, k, v; computed in float64
 */
export function causalAttentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  g: Tensor,
): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const fn = "causalAttentionBackward";
  const qt = assertTensor(`${fn}: q`, q, { rank: 4, axes: ["b", "H", "lq", "head_dim"] });
  const [batch, heads, queries, headDim] = qt.shape;
  const kt = assertTensor(`${fn}: k`, k, { shape: [batch, null, null, headDim] });
  const [, kvHeads, keys] = kt.shape;
  const vt = assertTensor(`${fn}: v`, v, { shape: [batch, kvHeads, keys, headDim] });
  const gt = assertTensor(`${fn}: g`, g, { shape: qt.shape });
  if (kvHeads === 0 || heads % kvHeads !== 0) {
    throw new Error(
      `${fn}: argument 'k' must be a tensor whose number of key/value heads divides the ${heads} query heads (got ${kvHeads})`,
    );
  }
  if (keys < queries) {
    throw new Error(
      `${fn}: argument 'k' must be a tensor with at least lq = ${queries} keys (got ${keys})`,
    );
  }
  const dims = { batch, heads, kvHeads, queries, keys, headDim, offset: keys - queries };
  const qL = headMajorLayout(queries, heads, headDim);
  const kL = headMajorLayout(keys, kvHeads, headDim);
  const probs = new Float64Array(batch * heads * queries * keys);
  const out = new Float64Array(qt.data.length);
  attentionKernel(dims, qt.data, qL, kt.data, kL, vt.data, kL, out, qL, probs);
  const dq = new Float64Array(qt.data.length);
  const dk = new Float64Array(kt.data.length);
  const dv = new Float64Array(vt.data.length);
  attentionBackwardKernel(
    dims,
    qt.data,
    qL,
    kt.data,
    kL,
    vt.data,
    kL,
    probs,
    gt.data,
    qL,
    dq,
    dk,
    dv,
  );
  return { dq: like(qt, dq), dk: like(kt, dk), dv: like(vt, dv) };
}

/**
 * Backward of `applyRope`: the rotation's transpose, i.e. RoPE with every angle negated.
 *
 * @param g ∂loss/∂(applyRope output), (b, h, l, head_dim)
 * @returns ∂loss/∂x, (b, h, l, head_dim), g's dtype
 */
export function applyRopeBackward(g: Tensor, theta: number, start = 0): Tensor {
  const fn = "applyRopeBackward";
  const t = assertTensor(`${fn}: g`, g, { rank: 4, axes: ["b", "h", "l", "head_dim"] });
  const [b, h, l, headDim] = t.shape;
  if (headDim % 2 !== 0) {
    throw new Error(
      `${fn}: argument 'g' must be a tensor whose head_dim (axis 3) is even for RoPE (got ${headDim})`,
    );
  }
  assertPositive(`${fn}: theta`, theta);
  assertInteger(`${fn}: start`, start, 0, 2 ** 31);
  const data = allocate(dtypeOf(t), t.data.length);
  data.set(t.data);
  const tables = inverseTables(ropeTables(start, l, ropeInvFreq(headDim, theta)));
  rotateHalfInPlace(data, b * h, l, (row, p) => (row * l + p) * headDim, tables);
  return { shape: [...t.shape], data };
}

/** cos(−a) = cos a, sin(−a) = −sin a: the tables of the inverse rotation. */
function inverseTables(t: { cos: Float64Array; sin: Float64Array }) {
  return { cos: t.cos, sin: t.sin.map((s) => -s) };
}

/** What the forward keeps of one layer for the backward pass. */
interface LayerCache {
  x: Tensor; // residual stream entering the layer (b, l, d)
  a: Tensor; // input_layernorm(x)
  q: FloatArray; // rotated queries (b, l, H·hd)
  k: FloatArray; // rotated keys (b, l, H_kv·hd)
  v: FloatArray; // values (b, l, H_kv·hd)
  probs: Float64Array; // attention weights (b, H, l, l)
  heads: Tensor; // attention output before o_proj (b, l, H·hd)
  x1: Tensor; // residual stream after attention
  m: Tensor; // post_attention_layernorm(x1)
  gate: Tensor; // m W_gateᵀ
  up: Tensor; // m W_upᵀ
  hidden: Tensor; // silu(gate) ⊙ up
}

/** Options of {@link transformerLossAndGrads}. */
export interface TransformerLossOptions {
  /** Target ids (b, l) (−100 = ignore); default: next token, the last position ignored. */
  targets?: TokenBatch;
  /** Weights (b·l) of the positions in the mean (0/1 masks); default all 1. */
  mask?: ArrayLike<number> | null;
}

const OPTION_KEYS = ["targets", "mask"];
/** Attention weights kept per layer at most: 2^27 float64 numbers, 1 GiB. */
const MAX_ATTENTION_WEIGHTS = 2 ** 27;

/**
 * The mean cross-entropy of a Transformer++ on `tokens` and its gradient with respect to every
 * parameter, with the loss and naming rules of `mambaLossAndGrads`: by default positions
 * 0 … l−2 predict tokens 1 … l−1 (HF's `labels = input_ids`); `targets` (b, l) gives each
 * position's target instead (−100 skips it), `mask` (b·l) weights the positions. A tied head's
 * gradient is added into `model.embed_tokens.weight`. As in transformers' `LlamaForCausalLM`,
 * whose embedding has `padding_idx = pad_token_id`, the row of `config.pad_token_id` gets no
 * gradient from the embedding lookup (positions holding the pad id still count in the loss and
 * pass gradient to every other parameter; a tied head still adds its part to that row).
 * Arithmetic follows the parameters' dtype (all float32 for training, all float64 for gradient
 * checks).
 *
 * @param tokens (b, l) ids, as in `transformerForward`
 * @returns `{ loss, grads, count, correct }`: grads keyed by the checkpoint names, the shapes
 *   and dtypes of `model.params`; count = counted positions, correct = those the argmax gets right
 */
export function transformerLossAndGrads(
  model: TransformerModel,
  tokens: TokenBatch,
  options: TransformerLossOptions = {},
): LossAndGrads {
  const fn = "transformerLossAndGrads";
  const c = checkTransformerModel(fn, model, ["float32", "float64"]);
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new Error(
      `${fn}: argument 'options' must be { targets?, mask? } (got ${describe(options)})`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) {
      throw new Error(
        `${fn}: argument 'options' must be an options object (got an unknown key "${key}"; the keys are targets, mask)`,
      );
    }
  }
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, c.vocab_size);
  checkActivationSize(fn, c, b * l);
  const weights = b * c.num_attention_heads * l * l;
  if (weights > MAX_ATTENTION_WEIGHTS) {
    throw new Error(
      `${fn}: argument 'tokens' must be a batch whose b·H·l² attention weights per layer (kept for the backward pass) are at most ${MAX_ATTENTION_WEIGHTS}: use shorter sequences or a smaller batch (got ${weights})`,
    );
  }
  const targets = lossTargets(fn, options.targets, ids, b, l, c.vocab_size);
  const P = (name: string): Tensor => model.params.get(name)!;
  const H = c.num_attention_heads;
  const G = c.num_key_value_heads;
  const hd = c.head_dim;
  const eps = c.rms_norm_eps;
  const tables = ropeTables(0, l, ropeInvFreq(hd, c.rope_theta));
  const back = inverseTables(tables);
  const rope = (data: FloatArray, n: number, t: typeof tables): void =>
    rotateHalfInPlace(
      data,
      b * n,
      l,
      (row, pos) => ((Math.floor(row / n) * l + pos) * n + (row % n)) * hd,
      t,
    );
  const qL = tokenMajorLayout(l, H, hd);
  const kvL = tokenMajorLayout(l, G, hd);
  const dims = { batch: b, heads: H, kvHeads: G, queries: l, keys: l, headDim: hd, offset: 0 };

  // ---- forward, keeping the caches ----
  const emb = P("model.embed_tokens.weight");
  let x = embedding(ids, emb, [b, l]);
  const caches: LayerCache[] = [];
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    const a = rmsNorm(x, P(`${p}input_layernorm.weight`), eps);
    const q = linear(a, P(`${p}self_attn.q_proj.weight`)).data;
    const k = linear(a, P(`${p}self_attn.k_proj.weight`)).data;
    const v = linear(a, P(`${p}self_attn.v_proj.weight`)).data;
    rope(q, H, tables);
    rope(k, G, tables);
    const probs = new Float64Array(b * H * l * l);
    const heads: Tensor = { shape: [b, l, H * hd], data: allocate(dtypeOf(x), b * l * H * hd) };
    attentionKernel(dims, q, qL, k, kvL, v, kvL, heads.data, qL, probs);
    const x1 = add(x, linear(heads, P(`${p}self_attn.o_proj.weight`)));
    const m = rmsNorm(x1, P(`${p}post_attention_layernorm.weight`), eps);
    const gate = linear(m, P(`${p}mlp.gate_proj.weight`));
    const up = linear(m, P(`${p}mlp.up_proj.weight`));
    const hidden: Tensor = {
      shape: [...gate.shape],
      data: allocate(dtypeOf(gate), gate.data.length),
    };
    for (let j = 0; j < hidden.data.length; j++) hidden.data[j] = silu(gate.data[j]) * up.data[j];
    const x2 = add(x1, linear(hidden, P(`${p}mlp.down_proj.weight`)));
    caches.push({ x, a, q, k, v, probs, heads, x1, m, gate, up, hidden });
    x = x2;
  }
  const normW = P("model.norm.weight");
  const hf = rmsNorm(x, normW, eps);
  const headName = c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  const head = P(headName);
  const ce = crossEntropy(linear(hf, head), targets, options.mask);

  // ---- backward ----
  const grads = new Map<string, Tensor>();
  const put = (name: string, g: Tensor): void => {
    const prev = grads.get(name);
    if (prev) for (let j = 0; j < g.data.length; j++) prev.data[j] += g.data[j];
    else grads.set(name, g);
  };
  const hg = linearBackward(hf, head, ce.dlogits);
  put(headName, hg.dweight);
  const ng = rmsNormBackward(x, normW, eps, hg.dx);
  put("model.norm.weight", ng.dweight);
  let dx = ng.dx; // ∂loss/∂(residual stream after the current layer)
  for (let i = c.num_hidden_layers - 1; i >= 0; i--) {
    const s = caches[i];
    const p = `model.layers.${i}.`;
    // MLP: x2 = x1 + down(silu(gate) ⊙ up).
    const dg = linearBackward(s.hidden, P(`${p}mlp.down_proj.weight`), dx);
    put(`${p}mlp.down_proj.weight`, dg.dweight);
    const dHidden = dg.dx.data;
    const dUp = allocate(dtypeOf(s.up), s.up.data.length);
    const dGateOut = allocate(dtypeOf(s.gate), s.gate.data.length);
    for (let j = 0; j < dUp.length; j++) {
      dUp[j] = dHidden[j] * silu(s.gate.data[j]);
      dGateOut[j] = dHidden[j] * s.up.data[j];
    }
    const dGate = siluBackward(s.gate, { shape: [...s.gate.shape], data: dGateOut });
    const gg = linearBackward(s.m, P(`${p}mlp.gate_proj.weight`), dGate);
    const ug = linearBackward(s.m, P(`${p}mlp.up_proj.weight`), {
      shape: [...s.up.shape],
      data: dUp,
    });
    put(`${p}mlp.gate_proj.weight`, gg.dweight);
    put(`${p}mlp.up_proj.weight`, ug.dweight);
    const mg = rmsNormBackward(
      s.x1,
      P(`${p}post_attention_layernorm.weight`),
      eps,
      add(gg.dx, ug.dx),
    );
    put(`${p}post_attention_layernorm.weight`, mg.dweight);
    const dx1 = add(dx, mg.dx);
    // Attention: x1 = x + o_proj(attention(rope(q), rope(k), v)).
    const og = linearBackward(s.heads, P(`${p}self_attn.o_proj.weight`), dx1);
    put(`${p}self_attn.o_proj.weight`, og.dweight);
    const dq = new Float64Array(s.q.length);
    const dk = new Float64Array(s.k.length);
    const dv = new Float64Array(s.v.length);
    attentionBackwardKernel(dims, s.q, qL, s.k, kvL, s.v, kvL, s.probs, og.dx.data, qL, dq, dk, dv);
    rope(dq, H, back);
    rope(dk, G, back);
    const proj = (name: string, width: number, d: Float64Array) => {
      const r = linearBackward(s.a, P(`${p}self_attn.${name}.weight`), {
        shape: [b, l, width],
        data: d,
      });
      put(`${p}self_attn.${name}.weight`, r.dweight);
      return r.dx;
    };
    const da = add(
      add(proj("q_proj", H * hd, dq), proj("k_proj", G * hd, dk)),
      proj("v_proj", G * hd, dv),
    );
    const ag = rmsNormBackward(s.x, P(`${p}input_layernorm.weight`), eps, da);
    put(`${p}input_layernorm.weight`, ag.dweight);
    dx = add(dx1, ag.dx);
  }
  const dEmbedding = embeddingBackward(ids, c.vocab_size, dx);
  if (c.pad_token_id !== null) {
    // HF's embedding has padding_idx = pad_token_id: the lookup gives that row no gradient.
    const row = c.pad_token_id < 0 ? c.pad_token_id + c.vocab_size : c.pad_token_id;
    dEmbedding.data.fill(0, row * c.hidden_size, (row + 1) * c.hidden_size);
  }
  put("model.embed_tokens.weight", dEmbedding);
  // Same order, shapes and dtypes as the parameters.
  const ordered = new Map<string, Tensor>();
  for (const [name, param] of model.params) {
    const g = grads.get(name)!;
    ordered.set(name, dtypeOf(g) === dtypeOf(param) ? g : like(param, g.data));
  }
  return { loss: ce.loss, grads: ordered, count: ce.count, correct: ce.correct };
}

/** a + b elementwise, a's shape and dtype. */
function add(a: Tensor, b: Tensor): Tensor {
  const out = allocate(dtypeOf(a), a.data.length);
  for (let j = 0; j < out.length; j++) out[j] = a.data[j] + b.data[j];
  return { shape: [...a.shape], data: out };
}

/** A tensor with `like`'s shape and dtype holding `data`. */
function like(t: Tensor, data: ArrayLike<number>): Tensor {
  const out = allocate(dtypeOf(t), data.length);
  out.set(data);
  return { shape: [...t.shape], data: out };
}
