#!/usr/bin/env node
/**
 * `npm run bench [-- name ...]`: runs the named benchmarks (all of them when none is named), each
 * in a node process of its own.
 *
 * A benchmark is one file `lib/scripts/bench/<name>.ts` (built to `lib/build/bench/<name>.js` by
 * `npm run build`) that imports lib from `../../dist/...` and prints its own table of times and
 * ratios against a baseline measured in the same run.
 */
import * as path from "node:path";
import { runMain, runNamedScripts, scriptNames } from "./run-named";

if (require.main === module) {
  runMain("bench", async () => {
    const wanted = process.argv.slice(2);
    const names = wanted.length > 0 ? wanted : scriptNames(path.join(__dirname, "bench"));
    return runNamedScripts("bench", names);
  });
}
