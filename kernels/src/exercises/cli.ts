#!/usr/bin/env node
/**
 * `npm run exercises [-- --check] [notebooks-dir]`: regenerates the learner notebooks from
 * `notebooks/solutions/` (see release.ts). `--check` writes nothing and fails when a learner
 * notebook differs from what its solutions notebook produces. Every notebook is validated before
 * any is written; the last line says what was written, left unchanged and kept.
 */
import * as path from "node:path";
import { type ReleaseOutcome, releaseAll } from "./release";

const USAGE = `Usage: npm run exercises [-- options] [notebooks-dir]

Writes the learner version <dir>/NN-slug.ipynb of every lesson <dir>/solutions/NN-slug.ipynb
(default dir: notebooks), each exercise's solution replaced by a stub. Every notebook is checked
first: if one is invalid, nothing is written. A learner notebook you have edited is never
overwritten (it is reported and left as it is).

Options:
  --check     write nothing; exit 1 when a learner notebook is out of date or edited
  -h, --help  show this help

Exit status: 0 done, 1 a notebook is invalid (or, with --check, out of date), 2 usage error.`;

/** "3 written, 6 unchanged, 1 kept (your edits)" for the outcomes that occurred. */
function summarizeOutcomes(outcomes: readonly ReleaseOutcome[]): string {
  const labels: Record<ReleaseOutcome["status"], string> = {
    written: "written",
    unchanged: "unchanged",
    "kept-learner-edits": "kept (your edits)",
    "out-of-date": "out of date",
  };
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(labels[o.status], (counts.get(labels[o.status]) ?? 0) + 1);
  const parts = [...counts].map(([label, n]) => `${n} ${label}`);
  return `exercises: ${outcomes.length} learner notebook${outcomes.length === 1 ? "" : "s"}: ${parts.join(", ") || "none"}`;
}

function main(argv: string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a.startsWith("-") && a !== "--check");
  if (unknown.length > 0) {
    console.error(
      `exercises: unknown option ${unknown[0]}; usage: exercises [--check] [notebooks-dir] (--help for more)`,
    );
    return 2;
  }
  const positionals = argv.filter((a) => !a.startsWith("-"));
  if (positionals.length > 1) {
    console.error(`exercises: expected at most one notebooks folder, got ${positionals.join(" ")}`);
    return 2;
  }
  const dir = path.resolve(positionals[0] ?? "notebooks");
  let failed = false;
  const outcomes = releaseAll(dir, { check });
  for (const r of outcomes) {
    const rel = path.relative(process.cwd(), r.learnerPath);
    if (r.status === "kept-learner-edits") {
      failed = failed || check;
      console.error(
        `${rel}: has your own edits, so it was left as it is. To get the new version, rename your copy first (e.g. to ${path.basename(rel, ".ipynb")}.mine.ipynb), then run this again.`,
      );
    } else if (r.status === "out-of-date") {
      failed = true;
      console.error(
        `${rel}: differs from solutions/${path.basename(rel)}; run \`npm run exercises\``,
      );
    } else {
      console.log(`${rel}: ${r.status}`);
    }
  }
  console.log(summarizeOutcomes(outcomes));
  return failed ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`exercises: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
