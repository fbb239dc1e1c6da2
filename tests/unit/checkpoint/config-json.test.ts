/**
 * readConfigJson and writeConfigJson (lib/src/checkpoint/config-json.ts) on real files: fields the
 * caller does not set are kept, a file that is not a JSON object is refused naming the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readConfigJson, writeConfigJson } from "../../../lib/src/index";

const dir = mkdtempSync(path.join(os.tmpdir(), "config-json-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("config.json helpers", () => {
  it("keep fields the caller does not set", () => {
    const p = path.join(dir, "config.json");
    writeConfigJson(p, { a: 1 }, { a: 0, extra: "kept" });
    expect(readConfigJson(p)).toEqual({ a: 1, extra: "kept" });
    writeFileSync(p, "[1]");
    expect(() => readConfigJson(p)).toThrow(
      /readConfigJson: argument 'path' must be a file holding a JSON object: file '.*config\.json': not a JSON object/,
    );
  });
});
