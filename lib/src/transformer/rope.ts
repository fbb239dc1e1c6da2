/**
 * Rotary position embeddings (RoPE; Su et al. 2021), exactly as Hugging Face's Llama applies them:
 * the head is split into two halves, and coordinate j of the first half is rotated together with
 * coordinate j of the second half ("rotate_half"), by the angle p · inv_freq_j at position p:
 *
 *   inv_freq_j = 1 / θ^(2j / head_dim),   j = 0 … head_dim/2 − 1
 *   out_j            = x_j · cos(p·inv_freq_j) − x_{j+h/2} · sin(p·inv_freq_j)
 *   out_{j+h/2}      = x_{j+h/2} · cos(p·inv_freq_j) + x_j · sin(p·inv_freq_j)
 *
 * i.e. out = x · cos + rotate_half(x) · sin with cos, sin = cat(freqs, freqs) and
 * rotate_half(x) = cat(−x₂, x₁). A rotation by angle pω of q and by angle sω of k leaves
 * q·k depending on p − s only, which is what makes attention scores relative.
 */
import { type Tensor } from "../tensor";
import { ropeTables, rotateHalfInPlace } from "../ops/reference/attention";
import { assertInteger, assertPositive, assertTensor } from "../validate";

/**
 * The rotation frequencies inv_freq_j = 1 / θ^(2j / head_dim), j = 0 … head_dim/2 − 1 (float64).
 *
 * @param headDim even head width
 * @param theta RoPE base (LlamaConfig.rope_theta)
 */
/** Widest head RoPE tables are made for (2^16: far beyond any model, small enough to allocate). */
const MAX_HEAD_DIM = 2 ** 16;

export function ropeInvFreq(headDim: number, theta: number): Float64Array {
  const fn = "ropeInvFreq";
  assertInteger(`${fn}: headDim`, headDim, 2, MAX_HEAD_DIM);
  if (headDim % 2 !== 0)
    throw new Error(`${fn}: argument 'headDim' must be an even number (got ${headDim})`);
  assertPositive(`${fn}: theta`, theta);
  const half = headDim / 2;
  const out = new Float64Array(half);
  for (let j = 0; j < half; j++) out[j] = 1 / Math.pow(theta, (2 * j) / headDim);
  return out;
}

/**
 * RoPE applied to queries or keys laid out (b, h, l, head_dim), token l at absolute position
 * start + l (HF's `apply_rotary_pos_emb` with position_ids = start … start + l − 1).
 *
 * @param x (b, h, l, head_dim), head_dim even
 * @param theta RoPE base
 * @param start absolute position of the first token (default 0; a KV cache decodes at start > 0)
 * @returns (b, h, l, head_dim) float32
 */
export function applyRope(x: Tensor, theta: number, start = 0): Tensor {
  const fn = "applyRope";
  const t = assertTensor(`${fn}: x`, x, { rank: 4, axes: ["b", "h", "l", "head_dim"] });
  const [b, h, l, headDim] = t.shape;
  if (headDim % 2 !== 0) {
    throw new Error(
      `${fn}: argument 'x' must be a tensor whose head_dim (axis 3) is even for RoPE (got ${headDim})`,
    );
  }
  assertPositive(`${fn}: theta`, theta);
  assertInteger(`${fn}: start`, start, 0, 2 ** 31);
  const data = Float32Array.from(t.data);
  const tables = ropeTables(start, l, ropeInvFreq(headDim, theta));
  rotateHalfInPlace(data, b * h, l, (row, p) => (row * l + p) * headDim, tables);
  return { shape: [b, h, l, headDim], data };
}
