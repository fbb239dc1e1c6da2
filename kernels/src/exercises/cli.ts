#!/usr/bin/env node
/**
 * `npm run exercises [-- --check] [notebooks-dir]`: regenerates the learner notebooks from
 * `notebooks/solutions/` (see release.ts). `--check` writes nothing and fails when a learner
 * notebook differs from what its solutions notebook produces.
 */
import * as path from "node:path";
import { releaseAll } from "./release";

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const unknown = argv.filter((a) => a.startsWith("-") && a !== "--check");
  if (unknown.length > 0) {
    console.error(
      `exercises: unknown option ${unknown[0]}; usage: exercises [--check] [notebooks-dir]`,
    );
    return 2;
  }
  const dir = path.resolve(argv.find((a) => !a.startsWith("-")) ?? "notebooks");
  let failed = false;
  for (const r of releaseAll(dir, { check })) {
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
  return failed ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  console.error(`exercises: ${(err as Error).message}`);
  process.exitCode = 1;
}
