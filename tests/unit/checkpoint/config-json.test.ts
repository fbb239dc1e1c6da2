/**
 * readConfigJson and writeConfigJson (lib/src/checkpoint/config-json.ts) on real files: fields the
 * caller does not set are kept, a file that is not a JSON object is refused naming the file;
 * float fields (and lists of floats) written with a decimal point, as Python writes floats.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readConfigJson, writeConfigJson } from "../../../lib/src/index";
import { formatConfigJson } from "../../../lib/src/checkpoint/config-json";

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

  it("write the numbers of float fields, and of lists under them, as floats", () => {
    const text = formatConfigJson(
      { eps: 1, limit: [0, 0.5, { __float__: "Infinity" }], n: 2, ids: [1, 2], nested: { eps: 3 } },
      ["eps", "limit"],
    );
    expect(text).toBe(
      `{
  "eps": 1.0,
  "limit": [
    0.0,
    0.5,
    {
      "__float__": "Infinity"
    }
  ],
  "n": 2,
  "ids": [
    1,
    2
  ],
  "nested": {
    "eps": 3.0
  }
}
`,
    );
  });

  it("read Python's bare Infinity, -Infinity and NaN (transformers 4.x) as transformers 5 writes them", () => {
    const p = path.join(dir, "python.json");
    writeFileSync(
      p,
      '{"limit": [0.0, Infinity], "low": -Infinity, "x": NaN, "text": "Infinity \\" NaN", "n": -1}',
    );
    expect(readConfigJson(p)).toEqual({
      limit: [0, { __float__: "Infinity" }],
      low: { __float__: "-Infinity" },
      x: { __float__: "NaN" },
      text: 'Infinity " NaN',
      n: -1,
    });
  });
});
