/** Token embedding: a table lookup, PyTorch's `nn.Embedding` layout (vocab, d). */
import type { Tensor } from "../tensor";
import { embedding as referenceEmbedding } from "../ops/reference/forward";
import { argumentError, checkArg, describe, schema } from "../validate";

/**
 * out[b, l, :] = weight[ids[b·L + l], :].
 *
 * Shapes: ids an Int32Array of b·l token ids in [0, vocab), weight (vocab, d), shape [b, l].
 * Returns (b, l, d) with weight's dtype.
 */
export function embedding(ids: Int32Array, weight: Tensor, shape: readonly number[]): Tensor {
  const fn = "embedding";
  if (!(ids instanceof Int32Array)) {
    throw argumentError(fn, "ids", `an Int32Array of token ids (got ${describe(ids)})`);
  }
  const w = checkArg(
    fn,
    "weight",
    weight,
    schema.tensor({ rank: 2, axes: ["vocab", "d"], finite: false }),
  );
  const [b, l] = checkArg(fn, "shape", shape, schema.shape({ rank: 2 }));
  if (ids.length !== b * l) {
    throw argumentError(fn, "ids", `b·l = ${b * l} ids for shape [${b}, ${l}] (got ${ids.length})`);
  }
  const vocab = w.shape[0];
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      throw argumentError(
        fn,
        "ids",
        `token ids in [0, ${vocab}) (vocab) (got ${ids[i]} at flat index ${i})`,
      );
    }
  }
  return referenceEmbedding(ids, b, l, w);
}
