/**
 * The fixed task sets in datasets/ (lib/src/tasks/fixed.ts, io.ts): each file byte for byte what
 * the generators produce from the recorded seeds, the documented sizes and token conventions, and
 * task files that break them refused.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  INDUCTION_HEADS_SET,
  Rng,
  SELECTIVE_COPYING_SET,
  type TaskFile,
  datasetPath,
  generateInductionHeadsSplit,
  generateSelectiveCopyingSplit,
  loadInductionHeads,
  loadSelectiveCopying,
  selectiveCopying,
  taskFileText,
  taskSetFromFile,
} from "../../../lib/src/index";

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
