/**
 * The copying tasks (lib/src/tasks/copying.ts) against their documented draw order and layout;
 * their position and token distributions against chi-square bounds and the law of the minimum of a
 * random k-subset.
 */
import { describe, expect, it } from "vitest";
import { Rng, copying, selectiveCopying, taskExample } from "../../../lib/src/index";
import { chiBound, chiSquareUniform } from "../../helpers/reference";

function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

describe("selectiveCopying", () => {
  const opts = { count: 3000, length: 20, numTokens: 4, vocabSize: 7 };

  it("is deterministic in the seed and follows the documented draw order exactly", () => {
    const a = selectiveCopying(new Rng(11), opts);
    const b = selectiveCopying(new Rng(11), opts);
    expect(a.inputs).toEqual(b.inputs);
    expect(a.targets).toEqual(b.targets);
    const c = selectiveCopying(new Rng(12), opts);
    expect(c.inputs).not.toEqual(a.inputs);
    // Re-implementation from the documentation: per example, k tokens 1 + int(V - 2), then the
    // first k entries of permutation(length), sorted.
    const rng = new Rng(11);
    for (let i = 0; i < 50; i++) {
      const tokens = Array.from({ length: 4 }, () => 1 + rng.int(5));
      const positions = rng
        .permutation(20)
        .slice(0, 4)
        .sort((x, y) => x - y);
      const seq = new Array(24).fill(0);
      positions.forEach((p, j) => (seq[p] = tokens[j]));
      seq.fill(6, 20);
      expect(taskExample(a, i)).toEqual({ input: seq, target: tokens });
      expect(Array.from(a.positions.subarray(i * 4, i * 4 + 4))).toEqual(positions);
    }
  });

  it("has the documented layout: noise 0, k data tokens in order, k markers at the end", () => {
    const s = selectiveCopying(new Rng(13), opts);
    expect(s).toMatchObject({
      task: "selective-copying",
      count: 3000,
      inputLength: 24,
      targetLength: 4,
      targetStart: 20,
      vocabSize: 7,
    });
    expect(s.tokens).toEqual({ noise: 0, firstData: 1, lastData: 5, marker: 6 });
    for (let i = 0; i < s.count; i++) {
      const { input, target } = taskExample(s, i);
      const data = input.slice(0, 20).filter((t) => t !== 0);
      expect(data).toEqual(target);
      expect(input.slice(20)).toEqual([6, 6, 6, 6]);
      for (const t of target) expect(t >= 1 && t <= 5).toBe(true);
    }
  });

  it("draws data positions uniformly: every position equally often, and the first position with the law of the minimum of a random k-subset", () => {
    const s = selectiveCopying(new Rng(14), opts);
    const perPosition = new Array(20).fill(0);
    const first = new Array(20).fill(0);
    for (let i = 0; i < s.count; i++) {
      for (let j = 0; j < 4; j++) perPosition[s.positions[i * 4 + j]]++;
      first[s.positions[i * 4]]++;
    }
    expect(chiSquareUniform(perPosition)).toBeLessThan(chiBound(19));
    // P(min = p) = C(L - 1 - p, k - 1) / C(L, k) for a uniform k-subset of 0..L-1.
    let chi = 0;
    let df = 0;
    for (let p = 0; p <= 16; p++) {
      const e = (s.count * binomial(19 - p, 3)) / binomial(20, 4);
      if (e < 5) continue;
      chi += (first[p] - e) ** 2 / e;
      df++;
    }
    expect(chi).toBeLessThan(chiBound(df - 1));
  });

  it("draws data tokens uniformly on 1..V-2", () => {
    const s = selectiveCopying(new Rng(15), opts);
    const freq = new Array(5).fill(0);
    for (const t of s.targets) freq[t - 1]++;
    expect(chiSquareUniform(freq)).toBeLessThan(chiBound(4));
  });

  it("plain copying puts the data tokens at positions 0..k-1", () => {
    const s = copying(new Rng(16), { count: 100, length: 10, numTokens: 3, vocabSize: 5 });
    expect(s.task).toBe("copying");
    for (let i = 0; i < 100; i++) {
      const { input, target } = taskExample(s, i);
      expect(input).toEqual([...target, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4]);
    }
  });

  it("rejects bad options and a missing rng, naming the option", () => {
    const rng = new Rng(1);
    const base = { count: 2, length: 5, numTokens: 2, vocabSize: 4 };
    expect(() => selectiveCopying(rng, { ...base, count: -1 })).toThrow(
      /selectiveCopying: argument 'options.count' must be an integer in \[0, 134217728\] \(got -1\)/,
    );
    expect(() => selectiveCopying(rng, { ...base, length: 1 })).toThrow(
      /selectiveCopying: argument 'options.length' must be at least numTokens = 2/,
    );
    expect(() => selectiveCopying(rng, { ...base, numTokens: 0 })).toThrow(
      /selectiveCopying: argument 'options.numTokens'/,
    );
    expect(() => selectiveCopying(rng, { ...base, vocabSize: 2 })).toThrow(
      /selectiveCopying: argument 'options.vocabSize' must be an integer in \[3, 2147483647\] \(got 2\)/,
    );
    expect(() => selectiveCopying(rng, { ...base, vocabSize: 4.5 })).toThrow(
      /selectiveCopying: argument 'options.vocabSize' must be an integer/,
    );
    expect(() => selectiveCopying(rng, { ...base, seqLen: 9 } as never)).toThrow(
      /selectiveCopying: argument 'options' must be .*\(got an unknown key "seqLen"/,
    );
    expect(() => selectiveCopying(42 as never, base)).toThrow(
      /selectiveCopying: argument 'rng' must be an Rng/,
    );
    expect(() => copying(rng, null as never)).toThrow(
      /copying: argument 'options' must be an options object \{ count, length, numTokens, vocabSize \} \(got null\)/,
    );
  });
});
