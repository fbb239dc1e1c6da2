#!/usr/bin/env node
/**
 * Maintains `datasets/manifest.json`:
 *
 *     node lib/build/datasets/cli.js verify                      # check every file against the manifest
 *     node lib/build/datasets/cli.js add <file> "<description>"  # record a file placed in datasets/
 *
 * `add` computes the file's size and SHA-256 and writes its entry (sorted by name). Describe the
 * file's source, licence and how it was made in datasets/README.md as well.
 */
import { verifyDatasets } from "../../dist/datasets/index";
import { recordDataset } from "./write";

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (command === "verify" && rest.length === 0) {
    for (const d of verifyDatasets())
      console.log(`ok  ${d.name}  ${d.bytes} bytes  sha256 ${d.sha256}`);
    return 0;
  }
  if (command === "add" && rest.length === 2) {
    const entry = recordDataset(rest[0], rest[1]);
    console.log(`recorded ${rest[0]}: ${entry.bytes} bytes, sha256 ${entry.sha256}`);
    return 0;
  }
  console.error('usage: datasets verify | datasets add <file name in datasets/> "<description>"');
  return 2;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`datasets: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
