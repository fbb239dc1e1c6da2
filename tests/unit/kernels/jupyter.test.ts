/**
 * The one discovery order of kernels/src/jupyter.ts, on fake programs (shell scripts in temporary
 * folders): the course's .venv first, then jupyter-lab, jupyter-notebook and jupyter on PATH.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findJupyter, jupyterCandidates, jupyterProgramOf } from "../../../kernels/src/jupyter";
import { isExecutable } from "../../../kernels/src/process";

let dir: string;
const program = (folder: string, name: string, mode = 0o755): string => {
  mkdirSync(folder, { recursive: true });
  const file = path.join(folder, name);
  writeFileSync(file, "#!/bin/sh\nexit 0\n");
  chmodSync(file, mode);
  return file;
};

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "mamba-ts-discovery-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("jupyterCandidates and findJupyter", () => {
  it("list the places in one order and take the first jupyter found", () => {
    const root = path.join(dir, "course");
    const bin = path.join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    const env = { PATH: bin };
    const order = jupyterCandidates(root, env).map((c) => c.origin);
    expect(order).toEqual([
      ".venv/bin/jupyter-lab",
      ".venv/bin/jupyter",
      "jupyter-lab on PATH",
      "jupyter-notebook on PATH",
      "jupyter on PATH",
    ]);
    expect(jupyterCandidates(root, env).every((c) => c.program === null)).toBe(true);
    expect(() => findJupyter(root, env)).toThrow(/Jupyter not found \(looked for \.venv/);

    const pathJupyter = program(bin, "jupyter");
    expect(findJupyter(root, env)).toBe(pathJupyter);
    // A front end on PATH comes before a bare jupyter; its sibling jupyter is the one used.
    const otherBin = path.join(dir, "conda", "bin");
    program(otherBin, "jupyter-notebook");
    const condaJupyter = program(otherBin, "jupyter");
    const both = { PATH: [bin, otherBin].join(path.delimiter) };
    expect(findJupyter(root, both)).toBe(condaJupyter);
    // The course's .venv comes first of all.
    const venvLab = program(path.join(root, ".venv", "bin"), "jupyter-lab");
    const venvJupyter = program(path.join(root, ".venv", "bin"), "jupyter");
    expect(jupyterCandidates(root, both)[0].program).toBe(venvLab);
    expect(findJupyter(root, both)).toBe(venvJupyter);
    // MAMBA_TS_VENV names another venv.
    const elsewhere = program(path.join(dir, "my-venv", "bin"), "jupyter");
    expect(findJupyter(root, { ...both, MAMBA_TS_VENV: path.join(dir, "my-venv") })).toBe(
      elsewhere,
    );
  });

  it("skip files that are not executable and folders", () => {
    const bin = path.join(dir, "bin");
    program(bin, "jupyter-lab", 0o644);
    mkdirSync(path.join(bin, "jupyter"));
    expect(isExecutable(path.join(bin, "jupyter-lab"))).toBe(false);
    expect(isExecutable(path.join(bin, "jupyter"))).toBe(false);
    const candidates = jupyterCandidates(path.join(dir, "course"), { PATH: bin });
    expect(candidates.map((c) => c.program)).toEqual([null, null, null, null, null]);
  });

  it("jupyterProgramOf gives a front end's sibling jupyter, or null without one", () => {
    const bin = path.join(dir, "bin");
    const lab = program(bin, "jupyter-lab");
    const candidate = { origin: "x", kind: "lab" as const, program: lab };
    expect(jupyterProgramOf(candidate)).toBeNull();
    const sibling = program(bin, "jupyter");
    expect(jupyterProgramOf(candidate)).toBe(sibling);
  });
});
