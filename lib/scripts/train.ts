#!/usr/bin/env node
/**
 * `npm run train -- <name> [options]`: runs the training script `lib/scripts/train/<name>.ts`
 * (built to `lib/build/train/<name>.js`) with the options after the name. These scripts make the
 * checkpoints the lessons load (under `datasets/checkpoints/`); each records its command, its
 * settings and its results next to the checkpoints it writes, and its log is committed with them.
 */
import { runMain, runNamedScripts } from "./run-named";

if (require.main === module) {
  runMain("train", async () => {
    const [name, ...args] = process.argv.slice(2);
    return runNamedScripts("train", name === undefined ? [] : [name], args);
  });
}
