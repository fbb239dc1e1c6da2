/** Token embedding: a table lookup, PyTorch's `nn.Embedding` layout (vocab, d). */
import type { Tensor } from "../tensor";
import { embedding as referenceEmbedding } from "../ops/reference/forward";
import { assertInteger, assertTensor, describe } from "../validate";

/**
 * out[b, l, :] = weight[ids[b·L + l], :].
 *
 * Shapes: ids an Int32Array of b·l token ids in [0, vocab), weight (vocab, d), shape [b, l].
 * Returns (b, l, d) with weight's dtype.
 */
export function embedding(ids: Int32Array, weight: Tensor, shape: readonly number[]): Tensor {
  const fn = "embedding";
  if (!(ids instanceof Int32Array)) {
    throw new Error(
      `${fn}: argument 'ids' must be an Int32Array of token ids (got ${describe(ids)})`,
    );
  }
  const w = assertTensor(`${fn}: weight`, weight, { rank: 2, axes: ["vocab", "d"], finite: false });
  if (!Array.isArray(shape) || shape.length !== 2) {
    throw new Error(`${fn}: argument 'shape' must be [b, l] (got ${describe(shape)})`);
  }
  const b = assertInteger(`${fn}: shape[0] (b)`, shape[0], 0);
  const l = assertInteger(`${fn}: shape[1] (l)`, shape[1], 0);
  if (ids.length !== b * l) {
    throw new Error(
      `${fn}: argument 'ids' must be b·l = ${b * l} ids for shape [${b}, ${l}] (got ${ids.length})`,
    );
  }
  const vocab = w.shape[0];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw new Error(
        `${fn}: argument 'ids' must be token ids in [0, ${vocab}) (vocab) (got ${ids[i]} at flat index ${i})`,
      );
    }
  }
  return referenceEmbedding(ids, b, l, w);
}
