/**
 * Loading datasets checked against their manifest (lib/src/datasets/index.ts, and writeDataset of
 * lib/scripts/datasets/write.ts): in a temporary folder, with checksums computed here by
 * node:crypto (missing, corrupt, unknown and path-like names refused, saying how to restore the
 * file), and on the course's datasets/ folder (every file verified, in the manifest and described
 * in its README).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DATASET_META_FILES,
  datasetPath,
  datasetsDir,
  loadDatasetBytes,
  loadDatasetJSON,
  loadDatasetText,
  readManifest,
  verifyDatasets,
} from "../../../lib/src/datasets/index";
import { recordDataset, writeDataset } from "../../../lib/scripts/datasets/write";

const repoDatasets = path.resolve(__dirname, "..", "..", "..", "datasets");

/** SHA-256 computed independently of lib (same primitive, written out here). */
const sha = (b: Uint8Array | string): string => createHash("sha256").update(b).digest("hex");

describe("datasets in a temporary folder", () => {
  let dir: string;
  const text = "hello, datasets\n";
  const json = { a: [1, 2, 3], b: "x" };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "mamba-ts-datasets-"));
    writeFileSync(path.join(dir, "hello.txt"), text);
    writeFileSync(path.join(dir, "data.json"), JSON.stringify(json));
    const files = {
      "hello.txt": { sha256: sha(text), bytes: Buffer.byteLength(text), description: "greeting" },
      "data.json": {
        sha256: sha(JSON.stringify(json)),
        bytes: JSON.stringify(json).length,
        description: "numbers",
      },
    };
    writeFileSync(path.join(dir, "manifest.json"), JSON.stringify({ files }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("loads verified text, JSON, bytes and paths", () => {
    expect(loadDatasetText("hello.txt", dir)).toBe(text);
    expect(loadDatasetJSON<typeof json>("data.json", dir)).toEqual(json);
    expect(loadDatasetBytes("hello.txt", dir).equals(Buffer.from(text))).toBe(true);
    expect(datasetPath("hello.txt", dir)).toBe(path.join(dir, "hello.txt"));
    const all = verifyDatasets(dir);
    expect(all.map((d) => d.name)).toEqual(["data.json", "hello.txt"]);
    expect(all.find((d) => d.name === "hello.txt")?.bytes).toBe(Buffer.byteLength(text));
  });

  it("names a missing file and says how to restore it", () => {
    rmSync(path.join(dir, "hello.txt"));
    const msg = "datasets/hello.txt is missing: restore it with `git checkout datasets/hello.txt`";
    expect(() => loadDatasetText("hello.txt", dir)).toThrow(msg);
    expect(() => datasetPath("hello.txt", dir)).toThrow(/^datasetPath: /);
    expect(() => verifyDatasets(dir)).toThrow(msg);
  });

  it("detects a corrupt file with both checksums", () => {
    const bad = "hello, datasetS\n";
    writeFileSync(path.join(dir, "hello.txt"), bad);
    expect(() => loadDatasetText("hello.txt", dir)).toThrow(
      `datasets/hello.txt is corrupt: expected sha256 ${sha(text)}, got ${sha(bad)}`,
    );
    expect(() => verifyDatasets(dir)).toThrow(/1 of 2 files failed[\s\S]*hello\.txt is corrupt/);
  });

  it("rejects unknown names, listing the known ones", () => {
    expect(() => loadDatasetText("nope.txt", dir)).toThrow(
      'loadDatasetText: unknown dataset "nope.txt"; known datasets: data.json, hello.txt',
    );
    // Files that are present but not in the manifest are unknown too.
    expect(() => loadDatasetText("manifest.json", dir)).toThrow(/unknown dataset "manifest.json"/);
  });

  it("rejects names with path separators or that are not names", () => {
    for (const name of ["../hello.txt", "sub/hello.txt", "sub\\hello.txt", "..", "."]) {
      expect(() => loadDatasetText(name, dir)).toThrow(
        /loadDatasetText: argument 'name'.*no path separators/,
      );
    }
    expect(() => datasetPath("", dir)).toThrow(
      /datasetPath: argument 'name' must be a dataset file name/,
    );
    expect(() => datasetPath(42 as unknown as string, dir)).toThrow(
      /datasetPath: argument 'name'.*got 42/,
    );
  });

  it("rejects an invalid manifest and invalid JSON data", () => {
    writeFileSync(path.join(dir, "hello.json"), "{not json");
    recordDataset("hello.json", "broken on purpose", dir);
    expect(() => loadDatasetJSON("hello.json", dir)).toThrow(
      /loadDatasetJSON: datasets\/hello.json is not valid JSON/,
    );
    writeFileSync(
      path.join(dir, "manifest.json"),
      JSON.stringify({ files: { "x.txt": { sha256: "abc", bytes: 1 } } }),
    );
    expect(() => readManifest(dir)).toThrow(/entry "x.txt": expected \{ sha256: 64 hex digits/);
    writeFileSync(path.join(dir, "manifest.json"), "[]");
    expect(() => readManifest(dir)).toThrow(/expected \{ "files"/);
  });

  it("writeDataset writes the file and a sorted manifest entry", () => {
    const bytes = Buffer.from([0, 1, 2, 250]);
    const entry = writeDataset("b.bin", bytes, "four bytes", dir);
    expect(entry).toEqual({ sha256: sha(bytes), bytes: 4, description: "four bytes" });
    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    expect(Object.keys(manifest.files)).toEqual(["b.bin", "data.json", "hello.txt"]);
    expect(loadDatasetBytes("b.bin", dir).equals(bytes)).toBe(true);
    expect(() => writeDataset("README.md", bytes, "x", dir)).toThrow(
      /writeDataset: argument 'name': README.md is reserved/,
    );
    expect(() => writeDataset("c.bin", bytes, " ", dir)).toThrow(
      /writeDataset: argument 'description'/,
    );
  });
});

describe("the course's datasets folder", () => {
  it("is found from lib's own location", () => {
    expect(datasetsDir()).toBe(repoDatasets);
  });

  it("verifies every manifest entry", () => {
    const manifest = JSON.parse(readFileSync(path.join(repoDatasets, "manifest.json"), "utf8"));
    const verified = verifyDatasets();
    expect(verified.map((d) => d.name).sort()).toEqual(Object.keys(manifest.files).sort());
    for (const d of verified) {
      const bytes = readFileSync(path.join(repoDatasets, d.name));
      expect(sha(bytes)).toBe(manifest.files[d.name].sha256);
      expect(bytes.length).toBe(manifest.files[d.name].bytes);
    }
  });

  it("lists every file in the manifest and describes it in README.md", () => {
    const manifest = readManifest(repoDatasets);
    const readme = readFileSync(path.join(repoDatasets, "README.md"), "utf8");
    // Plain files only: folders (checkpoints/) are described and tested by their own owners.
    const files = readdirSync(repoDatasets, { withFileTypes: true })
      .filter((e) => e.isFile() && !DATASET_META_FILES.includes(e.name))
      .map((e) => e.name);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      expect(manifest.files, `${f} is not in datasets/manifest.json`).toHaveProperty([f]);
      const headings = readme.split("\n").filter((line) => /^#{2,} /.test(line));
      const described = headings.some((h) => h.includes(`\`${f}\``));
      expect(
        described,
        `${f} has no section in datasets/README.md (a heading naming it in backticks)`,
      ).toBe(true);
    }
  });
});
