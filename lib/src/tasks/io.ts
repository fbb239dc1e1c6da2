/**
 * Fixed task sets on disk: the small sets in `datasets/` that the lessons share, so that every
 * learner fits and scores models on exactly the same examples.
 *
 * File format (JSON, one example per line):
 *
 *   {
 *     "format": "mamba-ts-token-task/1",
 *     "task": "selective-copying" | "copying" | "induction-heads",
 *     "options": { ...generator options without count... },
 *     "tokens": { ...token ids, as in the set's `tokens`... },
 *     "splits": { "<split>": { "seed": <int>, "count": n, "inputs": [[...], ...], "targets": [[...], ...] } }
 *   }
 *
 * Split s holds exactly what the generator returns for `new Rng(seed)` and the options with
 * `count: n` (the tests regenerate every file and compare).
 */
import { loadDatasetJSON } from "../datasets/index";
import { argumentError, checkArg, describe, schema } from "../validate";
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

function rows(data: Int32Array, n: number, width: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
}

/**
 * The text of a task file holding the given splits (all made by the same generator with the same
 * options apart from count). Each example sits on its own line so the file diffs and reads well.
 *
 * @param splits split name -> { seed it was generated from, the set }
 */
export function taskFileText(
  splits: Record<string, { seed: number; set: CopyingSet | InductionSet }>,
): string {
  const fn = "taskFileText";
  checkArg(fn, "splits", splits, schema.object());
  const names = Object.keys(splits);
  if (names.length === 0)
    throw new Error(`${fn}: argument 'splits' must be an object of at least one split (got none)`);
  for (const name of names) {
    const entry = splits[name] as { seed?: unknown; set?: unknown } | null;
    const set = entry?.set as Partial<CopyingSet> | undefined;
    if (
      !entry ||
      typeof entry !== "object" ||
      !Number.isInteger(entry.seed) ||
      !set ||
      typeof set !== "object" ||
      typeof set.task !== "string" ||
      !set.options ||
      !(set.inputs instanceof Int32Array)
    ) {
      throw argumentError(
        fn,
        `splits.${name}`,
        `{ seed: integer, set: a task set } (got ${describe(entry)})`,
      );
    }
  }
  const first = splits[names[0]].set;
  const { count: _count, ...options } = first.options as unknown as Record<string, number>;
  void _count;
  const lines: string[] = [];
  lines.push("{");
  lines.push(`  "format": ${JSON.stringify(TASK_FILE_FORMAT)},`);
  lines.push(`  "task": ${JSON.stringify(first.task)},`);
  lines.push(`  "options": ${JSON.stringify(options)},`);
  lines.push(`  "tokens": ${JSON.stringify(first.tokens)},`);
  lines.push(`  "splits": {`);
  names.forEach((name, s) => {
    const { seed, set } = splits[name];
    const { count: _c, ...opts } = set.options as unknown as Record<string, number>;
    void _c;
    if (set.task !== first.task || JSON.stringify(opts) !== JSON.stringify(options)) {
      throw new Error(
        `taskFileText: argument 'splits.${name}' must be a set of the same task and options as split ${names[0]} (got task ${describe(set.task)} with options ${JSON.stringify(opts)})`,
      );
    }
    const body = (label: string, data: number[][], last: boolean): string[] => [
      `      ${JSON.stringify(label)}: [`,
      ...data.map((r, i) => `        ${JSON.stringify(r)}${i < data.length - 1 ? "," : ""}`),
      `      ]${last ? "" : ","}`,
    ];
    lines.push(`    ${JSON.stringify(name)}: {`);
    lines.push(`      "seed": ${seed},`);
    lines.push(`      "count": ${set.count},`);
    lines.push(...body("inputs", rows(set.inputs, set.count, set.inputLength), false));
    lines.push(...body("targets", rows(set.targets, set.count, set.targetLength), true));
    lines.push(`    }${s < names.length - 1 ? "," : ""}`);
  });
  lines.push("  }");
  lines.push("}");
  return lines.join("\n") + "\n";
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
    throw new Error(
      `${fn}: argument '${what}' must be an array of ${n} rows (got ${describe(data)})`,
    );
  }
  const out = new Int32Array(n * width);
  data.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== width) {
      throw new Error(
        `${fn}: argument '${what}[${i}]' must be a row of ${width} tokens (got ${describe(row)})`,
      );
    }
    row.forEach((t: unknown, j) => {
      if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= vocab) {
        throw new Error(
          `${fn}: argument '${what}[${i}][${j}]' must be a token id in [0, ${vocab}) (got ${describe(t)})`,
        );
      }
      out[i * width + j] = t;
    });
  });
  return out;
}

/**
 * Builds a task set from a parsed task file's split, checking that every example follows the
 * task's conventions (token ids, marker and trigger placement, targets consistent with inputs) and
 * recovering `positions` / `triggerPositions` from the inputs.
 */
export function taskSetFromFile(
  file: TaskFile,
  split: string,
  where = "taskSetFromFile",
): CopyingSet | InductionSet {
  const fn = where;
  if (file === null || typeof file !== "object" || file.format !== TASK_FILE_FORMAT) {
    throw new Error(
      `${fn}: argument 'file' must be a task file with "format": "${TASK_FILE_FORMAT}" (got ${describe(file)})`,
    );
  }
  const sp = file.splits?.[split];
  if (sp === undefined) {
    throw new Error(
      `${fn}: argument 'split': no split ${JSON.stringify(split)}; the file has ${Object.keys(file.splits ?? {}).join(", ")}`,
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
          throw new Error(
            `${fn}: argument '${split}.inputs[${i}]': token ${tok} at position ${t} does not match the targets`,
          );
        }
        positions[i * k + found++] = t;
      }
      if (found !== k)
        throw new Error(
          `${fn}: argument '${split}.inputs[${i}]' must be a row holding ${k} data tokens (got ${found})`,
        );
      for (let j = 0; j < k; j++) {
        if (inputs[row + length + j] !== V - 1) {
          throw new Error(
            `${fn}: argument '${split}.inputs[${i}]' must be a row with the marker ${V - 1} at position ${length + j}`,
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
        throw new Error(
          `${fn}: argument '${split}.inputs[${i}]' must be one trigger at p <= l - 3 followed by the target, and one at the end`,
        );
      }
      triggerPositions[i] = first;
    }
    return inductionSet(opts, inputs, targets, triggerPositions);
  }
  throw new Error(
    `${fn}: argument 'task': unknown task ${describe((file as { task?: unknown }).task)}`,
  );
}

/**
 * Loads one split of a fixed task set from `datasets/` (checked against the manifest's SHA-256).
 *
 * @param name the file, e.g. "selective-copying.json" or "induction-heads.json"
 * @param split e.g. "train" or "test"
 */
export function loadTaskSet(name: string, split: string): CopyingSet | InductionSet {
  const file = loadDatasetJSON<TaskFile>(name);
  return taskSetFromFile(
    file,
    split,
    `loadTaskSet(${JSON.stringify(name)}, ${JSON.stringify(split)})`,
  );
}
