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
import { argumentError, checkArg, describe, schema } from "../validate";
import { TASK_FILE_FORMAT, type TaskFile, parseTaskFile, readTaskFile } from "./task-file";
import type { CopyingSet, InductionSet } from "./types";

export { TASK_FILE_FORMAT, type TaskFile, type TaskFileSplit } from "./task-file";

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

/**
 * Builds a task set from a parsed task file's split, checking that every example follows the
 * task's conventions (token ids, marker and trigger placement, targets consistent with inputs) and
 * recovering `positions` / `triggerPositions` from the inputs.
 */
export function taskSetFromFile(file: TaskFile, split: string): CopyingSet | InductionSet {
  return parseTaskFile("taskSetFromFile", file, split);
}

/**
 * Loads one split of a fixed task set from `datasets/` (checked against the manifest's SHA-256).
 *
 * @param name the file, e.g. "selective-copying.json" or "induction-heads.json"
 * @param split e.g. "train" or "test"
 */
export function loadTaskSet(name: string, split: string): CopyingSet | InductionSet {
  return readTaskFile("loadTaskSet", name, split);
}
