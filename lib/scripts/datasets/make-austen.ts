#!/usr/bin/env node
/**
 * Regenerates `datasets/austen-persuasion.txt`, the full text of Jane Austen's "Persuasion"
 * (1818, public domain), from the Debian package `r-cran-janeaustenr` 1.0.0-1 (MIT licence),
 * without installing R:
 *
 *     apt-get download r-cran-janeaustenr && dpkg-deb -x r-cran-janeaustenr_1.0.0-1_all.deb pkg
 *     npm run build
 *     node lib/build/datasets/make-austen.js pkg/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb
 *
 * `Rdata.rdb` is R's lazy-load database: a sequence of records, each a 4-byte big-endian length
 * followed by a zlib stream holding one object in R's XDR serialization format. Each of the six
 * novels is one character vector (one element per line of text). This script checks the input's
 * SHA-256, decodes every record, picks the one whose first line is the title "Persuasion", and
 * writes its lines joined by "\n" (with a final newline). The output is a pure function of the
 * input: no seed is involved.
 */
import { readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";
import { sha256Hex } from "../../dist/datasets/index";
import { writeDataset } from "./write";

/** The output file in datasets/. */
export const AUSTEN_FILE = "austen-persuasion.txt";
/** SHA-256 of janeaustenr/data/Rdata.rdb in Debian's r-cran-janeaustenr 1.0.0-1. */
export const JANEAUSTENR_RDB_SHA256 =
  "8fb5198960d0da724b1562f96e4221e5c1b41ff455000280b02c55980c3d8f21";

/** A big-endian reader over one serialized R object. */
class XdrReader {
  private p = 0;
  constructor(private readonly buf: Buffer) {}
  int(): number {
    const v = this.buf.readInt32BE(this.p);
    this.p += 4;
    return v;
  }
  bytes(n: number): Buffer {
    if (this.p + n > this.buf.length) throw new Error("readRStrings: truncated object");
    const b = this.buf.subarray(this.p, this.p + n);
    this.p += n;
    return b;
  }
  get done(): boolean {
    return this.p === this.buf.length;
  }
}

/**
 * Decodes one object in R's XDR serialization format (versions 2 and 3) that must be a plain
 * character vector without attributes; NA elements are rejected.
 */
export function readRStrings(serialized: Buffer): string[] {
  const r = new XdrReader(serialized);
  if (r.bytes(2).toString("latin1") !== "X\n")
    throw new Error("readRStrings: not R's XDR serialization format");
  const version = r.int();
  r.int(); // the R version that wrote it
  r.int(); // the oldest R version that can read it
  if (version === 3)
    r.bytes(r.int()); // native encoding name
  else if (version !== 2)
    throw new Error(`readRStrings: unsupported serialization version ${version}`);
  const flags = r.int();
  if ((flags & 0xff) !== 16 || (flags & (1 << 9)) !== 0) {
    throw new Error(
      `readRStrings: expected a character vector without attributes, got flags 0x${flags.toString(16)}`,
    );
  }
  const n = r.int();
  if (n < 0) throw new Error("readRStrings: long vectors are not supported");
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = r.int();
    if ((f & 0xff) !== 9)
      throw new Error(`readRStrings: element ${i}: expected a string, got type ${f & 0xff}`);
    const len = r.int();
    if (len < 0) throw new Error(`readRStrings: element ${i} is NA`);
    out.push(r.bytes(len).toString((f >> 12) & 4 ? "latin1" : "utf8"));
  }
  if (!r.done) throw new Error("readRStrings: trailing bytes after the character vector");
  return out;
}

/** Every record of an R lazy-load database (zlib-compressed records only). */
export function readLazyLoadRecords(rdb: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let p = 0;
  while (p < rdb.length) {
    const size = rdb.readUInt32BE(p);
    // A record stores only its uncompressed size; `info` reports how much input the zlib stream
    // used, which is where the next record starts.
    const { buffer, engine } = inflateSync(rdb.subarray(p + 4), { info: true }) as unknown as {
      buffer: Buffer;
      engine: { bytesWritten: number };
    };
    if (buffer.length !== size)
      throw new Error(
        `readLazyLoadRecords: record at ${p}: expected ${size} bytes, got ${buffer.length}`,
      );
    out.push(buffer);
    p += 4 + engine.bytesWritten;
  }
  return out;
}

function main(argv: string[]): void {
  const input = argv[0];
  if (input === undefined) {
    throw new Error(
      "usage: node lib/build/datasets/make-austen.js <path to janeaustenr/data/Rdata.rdb>",
    );
  }
  const rdb = readFileSync(input);
  const digest = sha256Hex(rdb);
  if (digest !== JANEAUSTENR_RDB_SHA256) {
    throw new Error(
      `${input}: expected Rdata.rdb of r-cran-janeaustenr 1.0.0-1 (sha256 ${JANEAUSTENR_RDB_SHA256}), got sha256 ${digest}`,
    );
  }
  const books = readLazyLoadRecords(rdb).map(readRStrings);
  const matches = books.filter((lines) => lines[0] === "Persuasion");
  if (matches.length !== 1)
    throw new Error(`${input}: expected one novel titled "Persuasion", found ${matches.length}`);
  const text = matches[0].join("\n") + "\n";
  const entry = writeDataset(
    AUSTEN_FILE,
    Buffer.from(text, "utf8"),
    'Jane Austen, "Persuasion" (1818), full text, plain ASCII, one line of the printed text per line (public domain)',
  );
  console.log(
    `datasets/${AUSTEN_FILE}: ${matches[0].length} lines, ${entry.bytes} bytes, sha256 ${entry.sha256}`,
  );
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`make-austen: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
