/**
 * readSafetensors and writeSafetensors (lib/src/checkpoint/safetensors.ts) against the format's
 * specification (u64 little-endian header length, JSON header, raw little-endian data): files built
 * here byte by byte are read (F32, F16, BF16, float16's special values), written files decode with
 * a reader written here, and malformed files are refused naming the file and the tensor.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { float16ToNumber } from "../../../lib/src/checkpoint/safetensors";
import {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
} from "../../../lib/src/index";

const dir = mkdtempSync(path.join(os.tmpdir(), "safetensors-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A safetensors file built by hand from the format's specification (not by our writer):
 * u64 little-endian header length, the JSON header, then the raw little-endian data.
 */
function handBuilt(header: object, data: number[], pad = ""): Uint8Array {
  const json = Buffer.from(JSON.stringify(header) + pad, "utf8");
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return new Uint8Array(out);
}

function f32Bytes(values: number[]): number[] {
  const b = Buffer.alloc(4 * values.length);
  values.forEach((v, i) => b.writeFloatLE(v, 4 * i));
  return [...b];
}

describe("readSafetensors on hand-built files", () => {
  it("reads F32, F16 and BF16 with their shapes and metadata", () => {
    // F16: 0x3c00 = 1, 0xc000 = -2, 0x3555 ≈ 0.33325, 0x0001 = 2^-24 (subnormal)
    const f16 = [0x00, 0x3c, 0x00, 0xc0, 0x55, 0x35, 0x01, 0x00];
    // BF16: top halves of float32 1.5 (0x3fc00000) and -0.15625 (0xbe200000)
    const bf16 = [0xc0, 0x3f, 0x20, 0xbe];
    const a = f32Bytes([1, 2, 3, 4, 5, 6]);
    const header = {
      __metadata__: { format: "pt" },
      a: { dtype: "F32", shape: [2, 3], data_offsets: [0, 24] },
      h: { dtype: "F16", shape: [4], data_offsets: [24, 32] },
      g: { dtype: "BF16", shape: [1, 2], data_offsets: [32, 36] },
    };
    const parsed = parseSafetensors(
      handBuilt(header, [...a, ...f16, ...bf16], "    "),
      "x.safetensors",
    );
    expect(parsed.metadata).toEqual({ format: "pt" });
    expect(parsed.tensors.get("a")).toEqual({
      dtype: "F32",
      shape: [2, 3],
      data: new Float32Array([1, 2, 3, 4, 5, 6]),
    });
    const h = parsed.tensors.get("h")!;
    expect(Array.from(h.data)).toEqual([1, -2, Math.fround(0.333251953125), Math.fround(2 ** -24)]);
    expect(Array.from(parsed.tensors.get("g")!.data)).toEqual([1.5, -0.15625]);
  });
  it("decodes float16 special values", () => {
    expect(float16ToNumber(0x7c00)).toBe(Infinity);
    expect(float16ToNumber(0xfc00)).toBe(-Infinity);
    expect(float16ToNumber(0x7e00)).toBeNaN();
    expect(float16ToNumber(0x7bff)).toBe(65504);
  });
  it("writes bytes a hand-built reader decodes: header length, aligned JSON, F32 data in name order", () => {
    const p = path.join(dir, "w.safetensors");
    writeSafetensors(
      p,
      new Map([
        ["z", { shape: [2], data: new Float64Array([0.5, -1]) }],
        ["a", { shape: [1, 1], data: new Float32Array([7]) }],
      ]),
      { k: "v" },
    );
    const buf = readFileSync(p);
    const n = Number(buf.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
    expect(header).toEqual({
      __metadata__: { k: "v" },
      a: { dtype: "F32", shape: [1, 1], data_offsets: [0, 4] },
      z: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    });
    const data = buf.subarray(8 + n);
    expect(data.length).toBe(12);
    expect([data.readFloatLE(0), data.readFloatLE(4), data.readFloatLE(8)]).toEqual([7, 0.5, -1]);
    // and our reader reads it back
    const back = readSafetensors(p);
    expect(Array.from(back.get("z")!.data)).toEqual([0.5, -1]);
  });
});

describe("readSafetensors refuses bad files, naming the file and the tensor", () => {
  const ok = { t: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const data = f32Bytes([1, 2]);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(5), /bad\.st': file is 5 bytes/],
    [
      "header past end",
      (() => {
        const b = handBuilt(ok, data);
        b[0] = 0xff;
        return b;
      })(),
      /bad\.st': header length 255 runs past the end/,
    ],
    [
      "not JSON",
      handBuilt({}, []).fill(0x20, 8).fill(0x7b, 8, 9),
      /bad\.st': header is not valid JSON/,
    ],
    [
      "truncated data",
      handBuilt(ok, data).slice(0, -3),
      /bad\.st': tensor "t": data_offsets \[0, 8\] run past the data buffer/,
    ],
    [
      "unknown dtype",
      handBuilt({ t: { dtype: "Q4", shape: [2], data_offsets: [0, 8] } }, data),
      /bad\.st': tensor "t": unknown dtype "Q4"/,
    ],
    [
      "unsupported dtype",
      handBuilt({ t: { dtype: "I32", shape: [2], data_offsets: [0, 8] } }, data),
      /bad\.st': tensor "t": dtype I32 is not supported/,
    ],
    [
      "size mismatch",
      handBuilt({ t: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data),
      /bad\.st': tensor "t": data_offsets \[0, 8\] hold 8 bytes but F32 shape \[3\] needs 12/,
    ],
    [
      "overlap",
      handBuilt(
        {
          t: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
          u: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
        },
        data,
      ),
      /bad\.st': tensor "u": .*overlap/,
    ],
    [
      "gap",
      handBuilt({ t: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, data),
      /bad\.st': tensor "t": .*gap of 4 bytes/,
    ],
    [
      "trailing bytes",
      handBuilt({ t: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, data),
      /bad\.st': the data buffer holds 8 bytes but the tensors cover 4/,
    ],
    [
      "bad shape",
      handBuilt({ t: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data),
      /bad\.st': tensor "t": shape must be/,
    ],
    [
      "bad offsets",
      handBuilt({ t: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, data),
      /bad\.st': tensor "t": data_offsets must be/,
    ],
    [
      "bad metadata",
      handBuilt({ __metadata__: { a: 1 }, ...ok }, data),
      /bad\.st': __metadata__\.a must be a string/,
    ],
  ];
  for (const [what, bytes, message] of cases) {
    it(what, () => {
      const p = path.join(dir, "bad.st");
      writeFileSync(p, bytes);
      expect(() => readSafetensors(p)).toThrow(message);
    });
  }
  it("a missing file", () => {
    expect(() => readSafetensors(path.join(dir, "nope.st"))).toThrow(
      /readSafetensors: argument 'path' must be a valid safetensors file: file '.*nope\.st': cannot be read/,
    );
  });
  it("the writer refuses a tensor whose data does not fit its shape", () => {
    expect(() =>
      serializeSafetensors({ t: { shape: [3], data: new Float32Array(2) } }, undefined, "o.st"),
    ).toThrow(
      /serializeSafetensors: argument 'tensors' must be tensors whose data fills their shape \(got "t" with 2 elements for shape \[3\], which needs 3 for file 'o\.st'\)/,
    );
  });
});
