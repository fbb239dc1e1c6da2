/**
 * Why a selective model extrapolates or not (lessons 11 and 13): how long each of its units
 * remembers across filler. On the induction-heads task every token but the two triggers and the
 * query is filler; a unit's state decays by exp(Δ_t · A) at each token, so across filler it keeps
 * exp(−Δ̄ · |A| · d) of itself after d tokens, Δ̄ being the mean Δ over filler tokens, and its
 * timescale is 1 / (Δ̄ · |A|) tokens. The Δ come from `mambaSelection` / `mamba2Selection` run on
 * a set's inputs; this averages them over the filler.
 */
import type { Tensor } from "../tensor";
import { checkArg, describe, schema } from "../validate";
import type { InductionSet } from "../tasks/types";

/**
 * The mean Δ over the filler tokens of an induction-heads set, per unit: `delta` (b, l, units)
 * is a layer's Δ on the set's first b sequences (a Mamba layer's channels, a Mamba-2 layer's
 * heads); every position but the first trigger, the token after it and the query (the last) is
 * averaged.
 */
export function meanFillerDelta(delta: Tensor, set: InductionSet): Float64Array {
  const fn = "meanFillerDelta";
  const s = set as Partial<InductionSet> | null;
  if (!s || s.task !== "induction-heads" || !(s.triggerPositions instanceof Int32Array)) {
    throw new Error(
      `${fn}: argument 'set' must be an induction-heads set from inductionHeads (got ${describe(set)})`,
    );
  }
  const { count, length } = s.options!;
  const d = checkArg(
    fn,
    "delta",
    delta,
    schema.tensor({ rank: 3, shape: [null, length, null], axes: ["b", "l", "units"] }),
  );
  const [b, l, units] = d.shape;
  if (b < 1 || b > count) {
    throw new Error(
      `${fn}: argument 'delta' must cover 1 … ${count} of the set's sequences (got b = ${b})`,
    );
  }
  const sums = new Float64Array(units);
  let fillers = 0;
  for (let i = 0; i < b; i++) {
    const p = s.triggerPositions[i];
    for (let t = 0; t < l; t++) {
      if (t === p || t === p + 1 || t === l - 1) continue; // the triggers and the query
      for (let u = 0; u < units; u++) sums[u] += d.data[(i * l + t) * units + u];
      fillers++;
    }
  }
  return sums.map((sum) => sum / fillers);
}
