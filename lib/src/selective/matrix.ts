/**
 * The selective scan written as one matrix per channel: y = M u. For an LTI system M is Toeplitz
 * (M[t, s] = K[t - s], a convolution); for a selective one it is not, which is why the convolution
 * trick of lesson 03 no longer applies.
 */
import { type Tensor } from "../tensor";
import { checkArg, describe, schema } from "../validate";
import { softplusRaw } from "../ops/reference/scalar";
import { checkSelectiveScanArgs } from "./scan";

/** Arguments of {@link selectiveScanMatrix}: those of `selectiveScan` that define the operator. */
export interface SelectiveMatrixArgs {
  /** (b, d, l). */
  delta: Tensor;
  /** (d, n). */
  A: Tensor;
  /** (b, n, l), (b, g, n, l) or (d, n), as for `selectiveScan`. */
  B: Tensor;
  C: Tensor;
  /** (d). */
  deltaBias?: Tensor | null;
  deltaSoftplus?: boolean;
}

/**
 * The (l, l) lower-triangular matrix M of channel `channel` of batch element `batch`, such that the
 * scan's output without skip and gate is y[t] = Σ_s M[t, s] · u[s]:
 *
 *   M[t, s] = Σ_n C[n, t] · exp(A[n] · (Δ[s+1] + … + Δ[t])) · Δ[s] · B[n, s]   for s ≤ t, else 0.
 *
 * Entry (t, s) is how much input s still contributes at time t. Computing it costs O(l² n): this
 * is for looking at the operator, not for running the model.
 *
 * @returns M as a float64 tensor of shape (l, l)
 */
export function selectiveScanMatrix(
  args: SelectiveMatrixArgs,
  batch: number,
  channel: number,
): Tensor {
  const fn = "selectiveScanMatrix";
  // Extra keys are allowed: the arguments of selectiveScan (with u, D, z) may be passed as they are.
  if (args === null || typeof args !== "object") {
    throw new Error(
      `${fn}: expected an argument object { delta, A, B, C, deltaBias?, deltaSoftplus? } (got ${describe(args)})`,
    );
  }
  const delta = checkArg(fn, "delta", args.delta, DELTA);
  const shapes = checkSelectiveScanArgs(fn, {
    u: delta,
    delta,
    A: args.A,
    B: args.B,
    C: args.C,
    deltaBias: args.deltaBias,
    deltaSoftplus: args.deltaSoftplus,
  });
  const { dim, length: L, dstate: N } = shapes;
  checkArg(fn, "batch", batch, schema.integer({ min: 0, max: shapes.batch - 1 }));
  checkArg(fn, "channel", channel, schema.integer({ min: 0, max: dim - 1 }));
  const row = (batch * dim + channel) * L;
  const dt = new Float64Array(L);
  for (let l = 0; l < L; l++) {
    let v = delta.data[row + l] + (args.deltaBias ? args.deltaBias.data[channel] : 0);
    if (args.deltaSoftplus) v = softplusRaw(v);
    dt[l] = v;
  }
  // cum[l] = Δ[0] + … + Δ[l], so Δ[s+1] + … + Δ[t] = cum[t] - cum[s].
  const cum = new Float64Array(L);
  let acc = 0;
  for (let l = 0; l < L; l++) cum[l] = acc += dt[l];
  const M = new Float64Array(L * L);
  const bBase = shapes.B.base(batch, channel);
  const cBase = shapes.C.base(batch, channel);
  const { nStride: bn, lStride: bl } = shapes.B;
  const { nStride: cn, lStride: cl } = shapes.C;
  for (let n = 0; n < N; n++) {
    const a = args.A.data[channel * N + n];
    for (let t = 0; t < L; t++) {
      const c = args.C.data[cBase + n * cn + t * cl];
      for (let s = 0; s <= t; s++) {
        const b = args.B.data[bBase + n * bn + s * bl];
        M[t * L + s] += c * Math.exp(a * (cum[t] - cum[s])) * dt[s] * b;
      }
    }
  }
  return { shape: [L, L], data: M };
}

const DELTA = schema.tensor({ rank: 3, axes: ["b", "d", "l"] });
