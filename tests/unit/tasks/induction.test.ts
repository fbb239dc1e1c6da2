/**
 * The induction-heads task (lib/src/tasks/induction.ts) against its documented draw order and
 * layout; its trigger position and token distributions against chi-square bounds.
 */
import { describe, expect, it } from "vitest";
import { Rng, inductionHeads, taskExample } from "../../../lib/src/index";
import { chiBound, chiSquareUniform } from "../../helpers/reference";

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
