#!/usr/bin/env node
/**
 * Regenerates `datasets/ecg-mitbih-208.u16le` from SciPy's copy of the ECG (Debian package
 * `python3-scipy` 1.10.1-2, file `scipy/misc/ecg.dat`):
 *
 *     apt-get install python3-scipy
 *     npm run build && node lib/build/datasets/make-ecg.js [path/to/ecg.dat]
 *
 * `ecg.dat` is a NumPy `.npz` archive (a ZIP file) holding one array `ecg.npy`: 108000 raw ADC
 * samples as little-endian uint16. This script checks the input's SHA-256 against the one SciPy
 * 1.10.1 records for the file, unpacks the array (ZIP central directory, raw deflate, CRC-32, NPY
 * header), and writes the samples unchanged as a bare little-endian uint16 file, then updates
 * datasets/manifest.json. The output is a pure function of the input: no seed is involved.
 */
import { readFileSync } from "node:fs";
import { crc32, inflateRawSync } from "node:zlib";
import { sha256Hex } from "../../dist/datasets/index";
import { writeDataset } from "./write";
import { ECG_FILE } from "../../dist/datasets/ecg";

/** Where Debian's python3-scipy installs the file. */
export const SCIPY_ECG_PATH = "/usr/lib/python3/dist-packages/scipy/misc/ecg.dat";
/** SHA-256 of scipy/misc/ecg.dat as listed in scipy-1.10.1.dist-info/RECORD. */
export const SCIPY_ECG_SHA256 = "f20ad3365fb9b7f845d0e5c48b6fe67081377ee466c3a220b7f69f35c8958baf";

/** One member of a ZIP archive, uncompressed and CRC-checked. */
export function readZipMember(zip: Buffer, member: string): Buffer {
  // End of central directory: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0)
    throw new Error("readZipMember: zip: no end-of-central-directory record (not a ZIP file)");
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const names: string[] = [];
  for (let k = 0; k < count; k++) {
    if (zip.readUInt32LE(p) !== 0x02014b50)
      throw new Error("readZipMember: zip: bad central directory entry");
    const method = zip.readUInt16LE(p + 10);
    const crc = zip.readUInt32LE(p + 16);
    const compressed = zip.readUInt32LE(p + 20);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const extraLen = zip.readUInt16LE(p + 30);
    const commentLen = zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString("utf8", p + 46, p + 46 + nameLen);
    names.push(name);
    p += 46 + nameLen + extraLen + commentLen;
    if (name !== member) continue;
    if (compressed === 0xffffffff || size === 0xffffffff || local === 0xffffffff) {
      throw new Error(`readZipMember: ${member}: ZIP64 members are not supported`);
    }
    if (zip.readUInt32LE(local) !== 0x04034b50)
      throw new Error(`readZipMember: ${member}: bad local header`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, start + compressed);
    const data = method === 0 ? Buffer.from(raw) : method === 8 ? inflateRawSync(raw) : null;
    if (data === null)
      throw new Error(`readZipMember: ${member}: unsupported compression method ${method}`);
    if (data.length !== size)
      throw new Error(`readZipMember: ${member}: expected ${size} bytes, got ${data.length}`);
    if (crc32(data) >>> 0 !== crc) throw new Error(`readZipMember: ${member}: CRC-32 mismatch`);
    return data;
  }
  throw new Error(
    `readZipMember: member: no ${JSON.stringify(member)} in the archive; it holds ${names.join(", ")}`,
  );
}

/** The payload of a version-1 NPY file holding a 1-D little-endian uint16 array. */
export function readNpyUint16(npy: Buffer): Uint16Array {
  if (npy.toString("latin1", 0, 6) !== "\x93NUMPY")
    throw new Error("readNpyUint16: npy: not an NPY file");
  const major = npy[6];
  const headerLen = major === 1 ? npy.readUInt16LE(8) : npy.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = npy.toString("latin1", major === 1 ? 10 : 12, start);
  const shape = /'shape':\s*\((\d+),\)/.exec(header);
  if (
    !/'descr':\s*'<u2'/.test(header) ||
    !/'fortran_order':\s*False/.test(header) ||
    shape === null
  ) {
    throw new Error(
      `readNpyUint16: npy: expected a 1-D '<u2' C-order array, header is ${header.trim()}`,
    );
  }
  const n = Number(shape[1]);
  if (npy.length - start !== 2 * n) {
    throw new Error(
      `readNpyUint16: npy: header says ${n} samples but ${npy.length - start} bytes follow`,
    );
  }
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = npy.readUInt16LE(start + 2 * i);
  return out;
}

function main(argv: string[]): void {
  const input = argv[0] ?? SCIPY_ECG_PATH;
  const archive = readFileSync(input);
  const digest = sha256Hex(archive);
  if (digest !== SCIPY_ECG_SHA256) {
    throw new Error(
      `${input}: expected SciPy 1.10.1's ecg.dat (sha256 ${SCIPY_ECG_SHA256}), got sha256 ${digest}`,
    );
  }
  const samples = readNpyUint16(readZipMember(archive, "ecg.npy"));
  const out = Buffer.alloc(2 * samples.length);
  for (let i = 0; i < samples.length; i++) out.writeUInt16LE(samples[i], 2 * i);
  const entry = writeDataset(
    ECG_FILE,
    out,
    "ECG, MIT-BIH Arrhythmia Database record 208 (lead MLII), 300 s at 360 Hz: 108000 raw ADC samples, uint16 little-endian; mV = (adc - 1024) / 200",
  );
  console.log(
    `datasets/${ECG_FILE}: ${samples.length} samples, ${entry.bytes} bytes, sha256 ${entry.sha256}`,
  );
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`make-ecg: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
