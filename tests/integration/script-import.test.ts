import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { Rng } from "../../lib/src/rng";

const repo = path.resolve(__dirname, "..", "..");
const fixtures = path.join(repo, "tests", "integration", "fixtures");

/** What the fixture scripts must print, computed here from lib's source and from first principles. */
function expected() {
  const x = new Rng(42).randn([2, 3]);
  const raw = readFileSync(path.join(repo, "datasets", "ecg-mitbih-208.u16le"));
  return {
    shape: [2, 3],
    data: Array.from(x.data),
    nested: [
      [1, 2],
      [3, 4],
    ],
    // y_t = 0.5 y_{t-1} + 0.5 with y_{-1} = 0: 1 - 2^{-(t+1)}.
    ema: [0.5, 0.75, 0.875],
    ecg: { length: raw.length / 2, rate: 360, first: (raw.readUInt16LE(0) - 1024) / 200 },
  };
}

describe("lib from a plain node script (the built package)", () => {
  it("is built", () => {
    expect(
      existsSync(path.join(repo, "lib", "dist", "index.js")),
      "run `npm run build` first",
    ).toBe(true);
  });

  for (const script of ["import-lib.mjs", "import-lib.cjs"]) {
    it(`${script}: imports @mamba-ts/lib, computes, loads a dataset and shows a plot as text`, () => {
      // Run from outside the repository: the package and its datasets must not depend on the cwd.
      const r = spawnSync(process.execPath, [path.join(fixtures, script)], {
        cwd: tmpdir(),
        encoding: "utf8",
        env: { ...process.env, NODE_OPTIONS: "" },
      });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(JSON.parse(lines[0])).toEqual(expected());
      expect(lines[1]).toBe("[plot] Two seconds of ECG: ecg");
    });
  }
});
