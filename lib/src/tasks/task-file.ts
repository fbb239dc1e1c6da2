/**
 * The task-file format of io.ts (the module comment there describes it) and its parser, shared by
 * taskSetFromFile and the loaders (loadTaskSet, loadSelectiveCopying, loadInductionHeads), each of
 * which passes its own name for the messages. Not exported from lib's index.
 */
import { readDatasetJSON } from "../datasets/index";
import { argumentError, describe } from "../validate";
import { copyingSet, inductionSet } from "./assemble";
import { checkCopyingOptions, checkInductionOptions } from "./checks";
import type { CopyingSet, InductionSet } from "./types";

/** The format tag of task files. */
export const TASK_FILE_FORMAT = "mamba-ts-token-task/1";

/** A task set as it appears in a task file. */
export interface TaskFileSplit {
  seed: number;
  count: number;
  inputs: number[][];
  targets: number[][];
}

/** A whole task file. */
export interface TaskFile {
  format: string;
  task: "selective-copying" | "copying" | "induction-heads";
  options: Record<string, number>;
  tokens: Record<string, number>;
  splits: Record<string, TaskFileSplit>;
}

/** Split `split` of the checked dataset file `name`; `fn` is the function the user called. */
export function readTaskFile(fn: string, name: string, split: string): CopyingSet | InductionSet {
  return parseTaskFile(fn, readDatasetJSON<TaskFile>(fn, name), split);
}

/**
 * A task set from split `split` of a parsed task `file` (see io.ts's taskSetFromFile); `fn` is
 * the function the user called.
 */
export function parseTaskFile(
  fn: string,
  file: TaskFile,
  split: string,
): CopyingSet | InductionSet {
  if (file === null || typeof file !== "object" || file.format !== TASK_FILE_FORMAT) {
    throw argumentError(
      fn,
      "file",
      `a task file with "format": "${TASK_FILE_FORMAT}" (got ${describe(file)})`,
    );
  }
  const sp = file.splits?.[split];
  if (sp === undefined) {
    const names = Object.keys(file.splits ?? {}).map((n) => JSON.stringify(n));
    throw argumentError(
      fn,
      "split",
      `one of the file's splits ${names.join(", ")} (got ${JSON.stringify(split)})`,
    );
  }
  if (file.task === "selective-copying" || file.task === "copying") {
    const opts = checkCopyingOptions(fn, { ...file.options, count: sp.count });
    const { count: n, length, numTokens: k, vocabSize: V } = opts;
    const inputs = flatten(fn, `${split}.inputs`, sp.inputs, n, length + k, V);
    const targets = flatten(fn, `${split}.targets`, sp.targets, n, k, V);
    const positions = new Int32Array(n * k);
    for (let i = 0; i < n; i++) {
      const row = i * (length + k);
      let found = 0;
      for (let t = 0; t < length; t++) {
        const tok = inputs[row + t];
        if (tok === 0) continue;
        if (tok === V - 1 || found >= k || tok !== targets[i * k + found]) {
          throw argumentError(
            fn,
            `${split}.inputs[${i}]`,
            `a row whose data tokens are the targets, in order (got token ${tok} at position ${t})`,
          );
        }
        positions[i * k + found++] = t;
      }
      if (found !== k)
        throw argumentError(
          fn,
          `${split}.inputs[${i}]`,
          `a row holding ${k} data tokens (got ${found})`,
        );
      for (let j = 0; j < k; j++) {
        if (inputs[row + length + j] !== V - 1) {
          throw argumentError(
            fn,
            `${split}.inputs[${i}]`,
            `a row with the marker ${V - 1} at position ${length + j} (got ${inputs[row + length + j]})`,
          );
        }
      }
    }
    return copyingSet(file.task, opts, inputs, targets, positions);
  }
  if (file.task === "induction-heads") {
    const opts = checkInductionOptions(fn, { ...file.options, count: sp.count });
    const { count: n, length: l, vocabSize: V } = opts;
    const inputs = flatten(fn, `${split}.inputs`, sp.inputs, n, l, V);
    const targets = flatten(fn, `${split}.targets`, sp.targets, n, 1, V);
    const triggerPositions = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const row = i * l;
      const first = inputs.subarray(row, row + l - 1).indexOf(V - 1);
      const second = first < 0 ? -1 : inputs.subarray(row + first + 1, row + l - 1).indexOf(V - 1);
      if (
        first < 0 ||
        first > l - 3 ||
        second >= 0 ||
        inputs[row + l - 1] !== V - 1 ||
        targets[i] !== inputs[row + first + 1]
      ) {
        const triggers: number[] = [];
        inputs.subarray(row, row + l).forEach((tok, t) => {
          if (tok === V - 1) triggers.push(t);
        });
        throw argumentError(
          fn,
          `${split}.inputs[${i}]`,
          `a row with one trigger at p <= l - 3 = ${l - 3} followed by the target, and one at the end (got triggers at [${triggers.join(", ")}] and target ${targets[i]})`,
        );
      }
      triggerPositions[i] = first;
    }
    return inductionSet(opts, inputs, targets, triggerPositions);
  }
  throw argumentError(
    fn,
    "file.task",
    `one of "selective-copying", "copying", "induction-heads" (got ${describe((file as { task?: unknown }).task)})`,
  );
}

function flatten(
  fn: string,
  what: string,
  data: unknown,
  n: number,
  width: number,
  vocab: number,
): Int32Array {
  if (!Array.isArray(data) || data.length !== n) {
    throw argumentError(fn, `${what}`, `an array of ${n} rows (got ${describe(data)})`);
  }
  const out = new Int32Array(n * width);
  data.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== width) {
      throw argumentError(fn, `${what}[${i}]`, `a row of ${width} tokens (got ${describe(row)})`);
    }
    row.forEach((t: unknown, j) => {
      if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= vocab) {
        throw argumentError(
          fn,
          `${what}[${i}][${j}]`,
          `a token id in [0, ${vocab}) (got ${describe(t)})`,
        );
      }
      out[i * width + j] = t;
    });
  });
  return out;
}
