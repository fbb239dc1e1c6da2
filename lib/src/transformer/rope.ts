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
 *
 * The functions here take head-major (b, h, l, head_dim) tensors, as the lessons draw them, check
 * them, and run the model's own pieces: `./model.ts`'s inv_freq and the reference backend's
 * `rope` op and its backward. A (b, h, l, head_dim) array is, row for row, the token-major
 * (b·h, l, 1·head_dim) array that op reads, so no copy of the kernel is needed.
 */
import { type Tensor } from "../tensor";
import { argumentError, checkArg, schema } from "../validate";
import { rope } from "../ops/reference/attention";
import { ropeBackward } from "../ops/reference/backward";
import { ropeInverseFrequencies } from "./model";

/** Widest head RoPE tables are made for (2^16: far beyond any model, small enough to allocate). */
const MAX_HEAD_DIM = 2 ** 16;

/**
 * The rotation frequencies inv_freq_j = 1 / θ^(2j / head_dim), j = 0 … head_dim/2 − 1 (float64).
 *
 * @param headDim even head width
 * @param theta RoPE base (LlamaConfig.rope_theta)
 */
export function ropeInvFreq(headDim: number, theta: number): Float64Array {
  const fn = "ropeInvFreq";
  checkArg(fn, "headDim", headDim, schema.integer({ min: 2, max: MAX_HEAD_DIM }));
  if (headDim % 2 !== 0) throw argumentError(fn, "headDim", `an even number (got ${headDim})`);
  checkArg(fn, "theta", theta, schema.positive());
  return ropeInverseFrequencies(headDim, theta);
}

/**
 * Checks the arguments of {@link applyRope} / {@link applyRopeBackward} (x or g, θ, start) and
 * returns the sizes and the rotation frequencies.
 */
function checkRope(fn: string, arg: string, x: unknown, theta: unknown, start: unknown) {
  const t = checkArg(fn, arg, x, schema.tensor({ rank: 4, axes: ["b", "h", "l", "head_dim"] }));
  const [b, h, l, headDim] = t.shape;
  if (headDim % 2 !== 0) {
    throw argumentError(
      fn,
      arg,
      `a tensor whose head_dim (axis 3) is even for RoPE (got ${headDim})`,
    );
  }
  const th = checkArg(fn, "theta", theta, schema.positive());
  const p = checkArg(fn, "start", start, schema.integer({ min: 0, max: 2 ** 31 }));
  // (b, h, l, hd) row-major is (b·h, l, 1·hd) token-major: one head per row of rows.
  const rows: Tensor = { shape: [b * h, l, headDim], data: t.data };
  return { t, rows, headDim, start: p, invFreq: ropeInverseFrequencies(headDim, th) };
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
  const r = checkRope("applyRope", "x", x, theta, start);
  const rows32: Tensor = { shape: r.rows.shape, data: Float32Array.from(r.rows.data) };
  const out = rope(rows32, 1, r.headDim, r.start, r.invFreq);
  return { shape: [...r.t.shape], data: out.data };
}

/**
 * Backward of `applyRope`: the rotation's transpose, i.e. RoPE with every angle negated.
 *
 * @param g ∂loss/∂(applyRope output), (b, h, l, head_dim)
 * @returns ∂loss/∂x, (b, h, l, head_dim), g's dtype
 */
export function applyRopeBackward(g: Tensor, theta: number, start = 0): Tensor {
  const r = checkRope("applyRopeBackward", "g", g, theta, start);
  const out = ropeBackward(r.rows, 1, r.headDim, r.start, r.invFreq);
  return { shape: [...r.t.shape], data: out.data };
}
