#!/usr/bin/env node
/**
 * `REF_PYTHON=<python with transformers 5> REF_PYTHON4=<python with transformers 4> npm run
 * fixtures`: rebuilds the golden fixtures in tests/fixtures/hf (see its README.md), in order:
 *
 *   1. make_hf_fixtures.py write-4   (REF_PYTHON4) checkpoints as transformers 4 writes them
 *   2. make_hf_fixtures.py write-5   (REF_PYTHON)  the transformers 5 checkpoints
 *   3. fixtures/save-lib-checkpoints  checkpoints saved by lib (needs steps 1-2: it re-saves some)
 *   4. make_hf_fixtures.py read-ours (REF_PYTHON)  transformers 5 loads step 3's checkpoints
 *   5. make_hf_fixtures.py readme    (REF_PYTHON)  tests/fixtures/hf/README.md from index.json
 *
 * The Python interpreters are maintainers' tools (PyTorch and transformers), never a dependency
 * of the course or of CI: the unit tests only read the files written here.
 */
import * as path from "node:path";
import { runMain } from "./run-named";

if (require.main === module) {
  runMain("fixtures", async () => {
    const py5 = process.env.REF_PYTHON;
    const py4 = process.env.REF_PYTHON4;
    if (!py5 || !py4) {
      console.error(
        "fixtures: set REF_PYTHON (a python with torch and transformers 5) and REF_PYTHON4 (one with transformers 4); see tests/fixtures/hf/README.md",
      );
      return 2;
    }
    const script = path.resolve(__dirname, "../scripts/fixtures/make_hf_fixtures.py");
    const steps = [
      [py4, script, "write-4"],
      [py5, script, "write-5"],
      [process.execPath, path.join(__dirname, "fixtures", "save-lib-checkpoints.js")],
      [py5, script, "read-ours"],
      [py5, script, "readme"],
    ];
    const { $ } = await import("zx");
    for (const [command, ...args] of steps) {
      console.log(
        `\n=== ${path.basename(command)} ${args.map((a) => path.basename(a)).join(" ")} ===`,
      );
      const run = await $({ stdio: "inherit", nothrow: true })`${command} ${args}`;
      if (run.exitCode !== 0) return run.exitCode ?? 1;
    }
    return 0;
  });
}
