import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  INDUCTION_HEADS_SET,
  Rng,
  SELECTIVE_COPYING_SET,
  type TaskFile,
  accuracyByTarget,
  chanceAccuracy,
  copying,
  datasetPath,
  generateInductionHeadsSplit,
  generateSelectiveCopyingSplit,
  inductionHeads,
  loadInductionHeads,
  loadSelectiveCopying,
  renderExample,
  selectiveCopying,
  taskExample,
  taskFileText,
  taskSetFromFile,
  tokenAccuracy,
} from "../../../lib/src/index";

/** Pearson's chi-square statistic of observed counts against equal expected counts. */
function chiSquareUniform(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const e = total / counts.length;
  return counts.reduce((s, c) => s + (c - e) ** 2 / e, 0);
}
/** A generous bound: mean + 5 standard deviations of chi-square with df degrees of freedom. */
const chiBound = (df: number): number => df + 5 * Math.sqrt(2 * df);

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

describe("inductionHeads", () => {
  const opts = { count: 4000, length: 12, vocabSize: 6 };

  it("is deterministic and follows the documented draw order", () => {
    const s = inductionHeads(new Rng(21), opts);
    expect(inductionHeads(new Rng(21), opts).inputs).toEqual(s.inputs);
    const rng = new Rng(21);
    for (let i = 0; i < 50; i++) {
      const p = rng.int(10);
      const seq: number[] = [];
      for (let t = 0; t < 11; t++) seq.push(t === p ? 5 : rng.int(5));
      seq.push(5);
      expect(taskExample(s, i)).toEqual({ input: seq, target: [seq[p + 1]] });
    }
  });

  it("places the trigger exactly twice (at p <= l - 3 and at the end) and targets the token after the first", () => {
    const s = inductionHeads(new Rng(22), opts);
    expect(s).toMatchObject({
      task: "induction-heads",
      inputLength: 12,
      targetLength: 1,
      targetStart: 11,
      vocabSize: 6,
    });
    expect(s.tokens).toEqual({ firstContent: 0, lastContent: 4, trigger: 5 });
    for (let i = 0; i < s.count; i++) {
      const { input, target } = taskExample(s, i);
      const where = input.flatMap((t, k) => (t === 5 ? [k] : []));
      expect(where.length).toBe(2);
      expect(where[1]).toBe(11);
      expect(where[0]).toBeLessThanOrEqual(9);
      expect(where[0]).toBe(s.triggerPositions[i]);
      expect(target).toEqual([input[where[0] + 1]]);
    }
  });

  it("draws p uniformly on 0..l-3, and content tokens (answers included) uniformly", () => {
    const s = inductionHeads(new Rng(23), opts);
    const pc = new Array(10).fill(0);
    const answers = new Array(5).fill(0);
    const content = new Array(5).fill(0);
    for (let i = 0; i < s.count; i++) {
      pc[s.triggerPositions[i]]++;
      answers[s.targets[i]]++;
      for (let t = 0; t < 11; t++) if (s.inputs[i * 12 + t] !== 5) content[s.inputs[i * 12 + t]]++;
    }
    expect(chiSquareUniform(pc)).toBeLessThan(chiBound(9));
    expect(chiSquareUniform(answers)).toBeLessThan(chiBound(4));
    expect(chiSquareUniform(content)).toBeLessThan(chiBound(4));
  });

  it("rejects bad options", () => {
    expect(() => inductionHeads(new Rng(1), { count: 1, length: 2, vocabSize: 5 })).toThrow(
      /inductionHeads: argument 'options.length' must be an integer in \[3, 134217728\] \(got 2\)/,
    );
    expect(() => inductionHeads(new Rng(1), { count: 1, length: 5, vocabSize: 1 })).toThrow(
      /inductionHeads: argument 'options.vocabSize'/,
    );
    expect(() =>
      inductionHeads(new Rng(1), { count: 1, length: 5, vocabSize: 5, extra: 1 } as never),
    ).toThrow(/inductionHeads: argument 'options' must be .*\(got an unknown key "extra"/);
  });
});

describe("fixed task sets in datasets/", () => {
  it("each file is byte-for-byte what the generators produce from the recorded seeds", () => {
    for (const [spec, gen] of [
      [SELECTIVE_COPYING_SET, generateSelectiveCopyingSplit],
      [INDUCTION_HEADS_SET, generateInductionHeadsSplit],
    ] as const) {
      const text = taskFileText({
        train: { seed: spec.splits.train.seed, set: gen("train") },
        test: { seed: spec.splits.test.seed, set: gen("test") },
      });
      expect(readFileSync(datasetPath(spec.file), "utf8")).toBe(text);
    }
  });

  it("loads splits with the documented sizes and token conventions", () => {
    const train = loadSelectiveCopying("train");
    expect(train).toMatchObject({
      count: 1200,
      inputLength: 72,
      targetLength: 8,
      targetStart: 64,
      vocabSize: 16,
    });
    expect(train.inputs).toEqual(generateSelectiveCopyingSplit("train").inputs);
    expect(train.positions).toEqual(generateSelectiveCopyingSplit("train").positions);
    const test = loadInductionHeads("test");
    expect(test).toMatchObject({
      count: 200,
      inputLength: 64,
      targetLength: 1,
      targetStart: 63,
      vocabSize: 16,
    });
    expect(test.triggerPositions).toEqual(generateInductionHeadsSplit("test").triggerPositions);
    expect(() => loadSelectiveCopying("validation" as never)).toThrow(
      /loadSelectiveCopying: argument 'split' must be one of "train", "test" \(got "validation"\)/,
    );
  });

  it("rejects task files whose examples break the conventions", () => {
    const file = JSON.parse(
      taskFileText({
        a: {
          seed: 1,
          set: selectiveCopying(new Rng(1), { count: 2, length: 6, numTokens: 2, vocabSize: 5 }),
        },
      }),
    ) as TaskFile;
    expect(taskSetFromFile(file, "a").count).toBe(2);
    const broken = structuredClone(file);
    broken.splits.a.targets[1][0] = broken.splits.a.targets[1][0] === 1 ? 2 : 1;
    expect(() => taskSetFromFile(broken, "a")).toThrow(
      /taskSetFromFile: argument 'a.inputs\[1\]' must be a row whose data tokens are the targets, in order \(got token \d+ at position \d+\)/,
    );
    const badToken = structuredClone(file);
    badToken.splits.a.inputs[0][0] = 9;
    expect(() => taskSetFromFile(badToken, "a")).toThrow(
      /argument 'a.inputs\[0\]\[0\]' must be a token id in \[0, 5\)/,
    );
    expect(() => taskSetFromFile(file, "b")).toThrow(
      /taskSetFromFile: argument 'split' must be one of the file's splits "a" \(got "b"\)/,
    );
    expect(() => taskSetFromFile({ ...file, format: "x" }, "a")).toThrow(
      /argument 'file' must be a task file/,
    );
  });
});

describe("scoring and display", () => {
  it("tokenAccuracy, accuracyByTarget and chanceAccuracy", () => {
    const s = selectiveCopying(new Rng(31), { count: 4, length: 6, numTokens: 2, vocabSize: 6 });
    const pred = Int32Array.from(s.targets);
    expect(tokenAccuracy(pred, s)).toBe(1);
    pred[0] = 0;
    pred[2] = 0;
    expect(tokenAccuracy(pred, s)).toBe(6 / 8);
    expect(accuracyByTarget(pred, s)).toEqual([0.5, 1]);
    expect(chanceAccuracy(s)).toBe(1 / 4);
    expect(chanceAccuracy(inductionHeads(new Rng(1), { count: 1, length: 5, vocabSize: 6 }))).toBe(
      1 / 5,
    );
    expect(() => tokenAccuracy([1, 2], s)).toThrow(
      /tokenAccuracy: argument 'predictions' must be an array of 8/,
    );
  });

  it("renderExample draws noise, markers, triggers and tokens", () => {
    const s = copying(new Rng(1), { count: 1, length: 5, numTokens: 2, vocabSize: 6 });
    const { target } = taskExample(s, 0);
    const letters = target.map((t) => "ABCD"[t - 1]).join("");
    expect(renderExample(s, 0)).toBe(`${letters}···?? → ${letters}`);
    const ih = inductionHeads(new Rng(2), { count: 1, length: 4, vocabSize: 4 });
    expect(renderExample(ih, 0)).toMatch(/^[abc*]{3}\* → [abc]$/);
  });
});
