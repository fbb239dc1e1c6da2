/**
 * The file-error helpers of lib/src/checkpoint/file-errors.ts: messages that name the function, the
 * argument, what it must be and the file; createOutputFolder on real temporary folders.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createOutputFolder, fileError, inFile } from "../../../lib/src/checkpoint/file-errors";
import { checkArg, schema } from "../../../lib/src/validate";

describe("errors about a file an argument names", () => {
  it("fileError: the function, the argument, what it must be, the file quoted apart", () => {
    expect(fileError("f", "dir", "a valid folder", "/x/y.json", "not valid JSON").message).toBe(
      "f: argument 'dir' must be a valid folder: file '/x/y.json': not valid JSON",
    );
  });
  it("inFile returns f's value and re-labels a helper's argument error as the file's problem", () => {
    expect(inFile("load", "dir", "a checkpoint", "/c.json", () => 3)).toBe(3);
    expect(() =>
      inFile("load", "dir", "a checkpoint", "/c.json", () =>
        checkArg("helper", "config.size", 1.5, schema.integer({ min: 1 })),
      ),
    ).toThrow(
      /^load: argument 'dir' must be a checkpoint: file '\/c\.json': config\.size must be an integer >= 1 \(got 1\.5\)$/,
    );
  });
  it("inFile keeps the file and problem of a nested file error (the inner file wins)", () => {
    const inner = () => {
      throw fileError("readX", "path", "a valid X file", "/w.st", "header is not valid JSON");
    };
    expect(() => inFile("load", "dir", "a checkpoint", "/other", inner)).toThrow(
      "load: argument 'dir' must be a checkpoint: file '/w.st': header is not valid JSON",
    );
  });
  it("createOutputFolder makes the folder and its parents, and reports a folder it cannot make", () => {
    const root = mkdtempSync(path.join(tmpdir(), "out-folder-"));
    try {
      const nested = path.join(root, "a", "b");
      createOutputFolder("save", nested);
      expect(statSync(nested).isDirectory()).toBe(true);
      createOutputFolder("save", nested); // an existing folder is fine
      const file = path.join(root, "plain-file");
      writeFileSync(file, "x");
      const below = path.join(file, "sub");
      expect(() => createOutputFolder("save", below)).toThrow(
        new RegExp(
          `^save: argument 'dir' must be a folder path: file '${file}': is a file, so the folder '${below}' cannot be created$`,
        ),
      );
      expect(existsSync(below)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
