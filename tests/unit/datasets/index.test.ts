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
import { ECG_FILE, loadEcg } from "../../../lib/src/datasets/ecg";
import { readNpyUint16, readZipMember } from "../../../lib/scripts/datasets/make-ecg";
import { readRStrings } from "../../../lib/scripts/datasets/make-austen";

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

describe("the ECG", () => {
  it("loads as millivolts with SciPy's documented statistics", () => {
    const ecg = loadEcg();
    expect(ecg.sampleRateHz).toBe(360);
    expect(ecg.signal.shape).toEqual([108000]);
    // SciPy's docs for electrocardiogram(): first values -0.245, -0.215, -0.185; last -0.385;
    // mean -0.16510875, std 0.5992473991177294.
    expect(Array.from(ecg.signal.data.slice(0, 3))).toEqual([-0.245, -0.215, -0.185]);
    expect(ecg.signal.data[107999]).toBeCloseTo(-0.385, 12);
    let mean = 0;
    for (const v of ecg.signal.data) mean += v;
    mean /= 108000;
    let variance = 0;
    for (const v of ecg.signal.data) variance += (v - mean) ** 2;
    expect(mean).toBeCloseTo(-0.16510875, 9);
    expect(Math.sqrt(variance / 108000)).toBeCloseTo(0.5992473991177294, 9);
  });

  it("matches an independent decoding of the raw bytes", () => {
    const raw = readFileSync(path.join(repoDatasets, ECG_FILE));
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const ecg = loadEcg();
    for (const i of [0, 1, 12345, 54000, 107999]) {
      expect(ecg.signal.data[i]).toBe((view.getUint16(2 * i, true) - 1024) / 200);
    }
  });
});

describe("conversion helpers of the make scripts", () => {
  it("readZipMember + readNpyUint16 decode a stored (uncompressed) archive built here", () => {
    // A one-member ZIP with method 0, written byte by byte from the ZIP specification.
    const values = [1, 2, 65535, 1024];
    const header = "{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }";
    const padded = header.padEnd(118, " ") + "\n";
    const npy = Buffer.concat([
      Buffer.from([0x93]),
      Buffer.from("NUMPY\x01\x00", "latin1"),
      Buffer.from([padded.length & 0xff, padded.length >> 8]),
      Buffer.from(padded, "latin1"),
      Buffer.from(new Uint16Array(values).buffer),
    ]);
    const name = Buffer.from("ecg.npy");
    const crc = crc32Reference(npy);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(npy.length, 18);
    local.writeUInt32LE(npy.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(npy.length, 20);
    central.writeUInt32LE(npy.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(0, 42);
    const cdOffset = local.length + name.length + npy.length;
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(1, 8);
    eocd.writeUInt16LE(1, 10);
    eocd.writeUInt32LE(central.length + name.length, 12);
    eocd.writeUInt32LE(cdOffset, 16);
    const zip = Buffer.concat([local, name, npy, central, name, eocd]);
    expect(Array.from(readNpyUint16(readZipMember(zip, "ecg.npy")))).toEqual(values);
    expect(() => readZipMember(zip, "other.npy")).toThrow(
      /no "other.npy" in the archive; it holds ecg.npy/,
    );
    const damaged = Buffer.from(zip);
    damaged[local.length + name.length + npy.length - 1] ^= 1;
    expect(() => readZipMember(damaged, "ecg.npy")).toThrow(/CRC-32 mismatch/);
  });

  it("readRStrings decodes R's XDR serialization of a character vector", () => {
    // serialize(c("Persuasion", "", "by"), NULL, xdr = TRUE, version = 3), written from R's format.
    const int = (v: number): Buffer => {
      const b = Buffer.alloc(4);
      b.writeInt32BE(v);
      return b;
    };
    const str = (s: string): Buffer =>
      Buffer.concat([int(0x00040009), int(s.length), Buffer.from(s)]);
    const obj = Buffer.concat([
      Buffer.from("X\n"),
      int(3),
      int(0x040201),
      int(0x030500),
      int(5),
      Buffer.from("UTF-8"),
      int(16),
      int(3),
      str("Persuasion"),
      str(""),
      str("by"),
    ]);
    expect(readRStrings(obj)).toEqual(["Persuasion", "", "by"]);
    expect(() => readRStrings(Buffer.concat([obj, int(0)]))).toThrow(/trailing bytes/);
    expect(() => readRStrings(Buffer.concat([obj.subarray(0, 23), int(14), int(0)]))).toThrow(
      /expected a character vector/,
    );
  });

  it("the novel is the Persuasion text, plain ASCII", () => {
    const text = loadDatasetText("austen-persuasion.txt");
    expect(text.startsWith("Persuasion\n")).toBe(true);
    expect(text).toContain("Sir Walter Elliot, of Kellynch Hall, in Somersetshire");
    expect(text.trimEnd().endsWith("Finis")).toBe(true);
    expect(/^[\x20-\x7e\n]*$/.test(text)).toBe(true);
  });
});

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit by bit: an independent reference. */
function crc32Reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
