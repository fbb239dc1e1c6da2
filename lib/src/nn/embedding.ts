/** Token embedding: a table lookup, PyTorch's `nn.Embedding` layout (vocab, d). */
import { type Tensor, allocate, dtypeOf } from "../tensor";
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
  const [vocab, d] = w.shape;
  const out = allocate(dtypeOf(w), b * l * d);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id < 0 || id >= vocab) {
      throw new Error(
        `${fn}: argument 'ids' must be token ids in [0, ${vocab}) (vocab) (got ${id} at flat index ${i})`,
      );
    }
    out.set(w.data.subarray(id * d, (id + 1) * d), i * d);
  }
  return { shape: [b, l, d], data: out };
}
