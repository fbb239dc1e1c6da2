/**
 * The runner refuses an output folder that is an existing file before it runs anything: no
 * Jupyter server is started (none is needed for this test), and the message names the path.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runNotebooks } from "../../../../kernels/src/runner/runner";

const fixture = path.resolve(
  __dirname,
  "..",
  "..",
  "..",
  "integration",
  "fixtures",
  "runner",
  "ok.ipynb",
);

describe("runNotebooks outDir", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mamba-ts-out-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("rejects an --out that is an existing file, before starting a server", async () => {
    const file = path.join(dir, "report.txt");
    writeFileSync(file, "keep me");
    // A jupyter that cannot start: reaching the server start would fail differently.
    const options = { outDir: file, jupyter: path.join(dir, "no-jupyter") };
    await expect(runNotebooks([fixture], options)).rejects.toThrow(
      `runNotebooks: outDir: expected a folder for the executed copies, but ${file} is an existing file; choose another --out`,
    );
  });

  it("rejects an --out below a file", async () => {
    const file = path.join(dir, "report.txt");
    writeFileSync(file, "keep me");
    const options = { outDir: path.join(file, "sub"), jupyter: path.join(dir, "no-jupyter") };
    await expect(runNotebooks([fixture], options)).rejects.toThrow(
      `but ${file} (above it) is a file`,
    );
  });
});
