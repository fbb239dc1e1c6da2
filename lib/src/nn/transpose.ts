/** Axis swaps between the sequence-major (b, l, d) layout of the residual stream and the
 * channel-major (b, d, l) layout of the conv and the scan. */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { checkArg, schema } from "../validate";

/** out[b, j, i] = x[b, i, j]: (b, a, c) -> (b, c, a), same dtype. */
export function transpose12(x: Tensor): Tensor {
  const xt = checkArg(
    "transpose12",
    "x",
    x,
    schema.tensor({ rank: 3, axes: ["b", "a", "c"], finite: false }),
  );
  const [batch, a, c] = xt.shape;
  const out = allocate(dtypeOf(xt), xt.data.length);
  for (let b = 0; b < batch; b++) {
    const base = b * a * c;
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < c; j++) out[base + j * a + i] = xt.data[base + i * c + j];
    }
  }
  return { shape: [batch, c, a], data: out };
}
