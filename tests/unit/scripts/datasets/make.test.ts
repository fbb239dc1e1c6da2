/**
 * The conversion helpers of the dataset make scripts (lib/scripts/datasets/make-ecg.ts,
 * make-austen.ts): a ZIP holding a .npy built here byte by byte from their specifications (CRC-32
 * written bit by bit), R's XDR serialization of a character vector, and the Persuasion text they
 * produced.
 */
import { describe, expect, it } from "vitest";
import { loadDatasetText } from "../../../../lib/src/datasets/index";
import { readNpyUint16, readZipMember } from "../../../../lib/scripts/datasets/make-ecg";
import { readRStrings } from "../../../../lib/scripts/datasets/make-austen";

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
