#!/usr/bin/env node
/**
 * `npm run bench [-- name ...]`: runs the benchmarks, each in a node process of its own.
 *
 * A benchmark is one file `lib/scripts/bench/<name>.ts` (built to `lib/build/bench/<name>.js` by
 * `npm run build`) that imports lib from `../../dist/...` and prints its own table of times and
 * ratios against a baseline measured in the same run. Adding a file there adds the benchmark
 * `<name>`: nothing to register.
 */
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";

/** The built benchmarks, by name (`lib/build/bench/<name>.js`). */
export function benchmarkNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function main(wanted: string[]): Promise<number> {
  const dir = path.join(__dirname, "bench");
  if (!existsSync(dir)) {
    console.error(`bench: ${dir} is missing; run \`npm run build\` first`);
    return 1;
  }
  const available = benchmarkNames(dir);
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length > 0) {
    console.error(
      `bench: unknown benchmark ${unknown.join(", ")}; available: ${available.join(", ")}`,
    );
    return 2;
  }
  const { $ } = await import("zx");
  for (const name of wanted.length > 0 ? wanted : available) {
    console.log(`\n=== bench ${name} ===`);
    const run = await $({ stdio: "inherit", nothrow: true })`node ${path.join(dir, `${name}.js`)}`;
    if (run.exitCode !== 0) return run.exitCode ?? 1;
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      console.error(`bench: ${(err as Error).message}`);
      process.exitCode = 1;
    },
  );
}
