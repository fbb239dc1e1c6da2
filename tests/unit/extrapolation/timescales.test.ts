/**
 * meanFillerDelta (lib/src/extrapolation/timescales.ts): the mean over every position but the
 * first trigger, the token after it and the query, checked on Δ built so that the answer is a
 * closed form, and on Δ that is large only where it must be left out.
 */
import { describe, expect, it } from "vitest";
import { extrapolationSet, meanFillerDelta } from "../../../lib/src/index";

describe("meanFillerDelta", () => {
  const set = extrapolationSet(3, 12, 4, 8);
  const [b, l] = [3, 12];

  it("averages over the filler only: 1 on filler and 1000 on the triggers and the query give 1", () => {
    const data = new Float64Array(b * l * 2);
    for (let i = 0; i < b; i++) {
      const p = set.triggerPositions[i];
      for (let t = 0; t < l; t++) {
        const skipped = t === p || t === p + 1 || t === l - 1;
        data[(i * l + t) * 2] = skipped ? 1000 : 1;
        data[(i * l + t) * 2 + 1] = skipped ? -1000 : 2;
      }
    }
    const mean = meanFillerDelta({ shape: [b, l, 2], data }, set);
    expect(Array.from(mean)).toEqual([1, 2]);
  });

  it("Δ = position: the mean of 0 … l − 1 less the three positions left out, over the examples", () => {
    const data = Float32Array.from({ length: b * l }, (_, k) => k % l);
    let want = 0;
    for (let i = 0; i < b; i++) {
      const p = set.triggerPositions[i];
      want += ((l - 1) * l) / 2 - p - (p + 1) - (l - 1);
    }
    want /= b * (l - 3);
    const [got] = meanFillerDelta({ shape: [b, l, 1], data }, set);
    expect(got).toBeCloseTo(want, 12);
  });

  it("refuses a Δ of another length or more sequences than the set, and a set of another task", () => {
    const delta = (bb: number, ll: number) => ({
      shape: [bb, ll, 1],
      data: new Float32Array(bb * ll),
    });
    expect(() => meanFillerDelta(delta(2, 11), set)).toThrow(/meanFillerDelta: argument 'delta'/);
    expect(() => meanFillerDelta(delta(5, 12), set)).toThrow(
      /meanFillerDelta: argument 'delta' must cover 1 … 4 of the set's sequences \(got b = 5\)/,
    );
    expect(() => meanFillerDelta(delta(2, 12), { task: "copying" } as never)).toThrow(
      /meanFillerDelta: argument 'set' must be an induction-heads set/,
    );
  });
});
