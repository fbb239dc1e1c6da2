#!/usr/bin/env zx
// `npm run bench [-- name ...]`: runs the benchmark scripts built from lib/src/bench/<name>.ts.
// Each prints its own table of times and ratios against a baseline measured in the same run.
import { readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as path from "node:path";

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist", "bench");
if (!existsSync(dir)) {
  console.error(`bench: ${dir} is missing; run \`npm run build\` first`);
  process.exit(1);
}
const available = readdirSync(dir)
  .filter((f) => f.endsWith(".js"))
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = argv._.map(String);
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  console.error(
    `bench: unknown benchmark ${unknown.join(", ")}; available: ${available.join(", ")}`,
  );
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : available) {
  console.log(`\n=== bench ${name} ===`);
  await $({ stdio: "inherit" })`node ${path.join(dir, `${name}.js`)}`;
}
