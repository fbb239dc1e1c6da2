/**
 * The safetensors file format (Hugging Face), read and written without dependencies.
 *
 * Layout: an unsigned little-endian 64-bit integer N, then N bytes of UTF-8 JSON (the header),
 * then the data buffer. The header maps each tensor name to
 * `{ "dtype": "F32" | "F16" | "BF16" | ..., "shape": [...], "data_offsets": [begin, end] }`
 * with offsets relative to the start of the data buffer, and may hold `"__metadata__"`, a map of
 * strings. Tensors are row-major, little-endian, and tile the buffer with no gaps or overlaps.
 *
 * We read F32, F16, BF16 and F64 (converted to float32, the precision models compute in) and write
 * F32. Every problem is refused with an error naming the file and the tensor.
 */
import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { type Tensor, numel } from "../tensor";
import { float16ToNumber } from "../half";
import { argumentError, checkArg, checkOptions, describe, schema } from "../validate";
import { checkFileToRead, fileError, inFile } from "./file-errors";
import { saveFilesAtomically } from "./write-files";

// The float16 decoder lives with the 16-bit formats (`../half.ts`); importable from here too.
export { float16ToNumber };

/** A tensor read from a safetensors file: its stored dtype and its values as float32. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

/** Bytes per element of every dtype the format defines (those we cannot convert are refused). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};
const READABLE = new Set(["F32", "F16", "BF16", "F64"]);
/** Headers larger than this are refused (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
/**
 * Files larger than this are refused before reading: the most one `readFileSync` reads in Node
 * (2^31 − 1 bytes), which is 5e8 float32 parameters.
 */
const MAX_SAFETENSORS_BYTES = 2 ** 31 - 1;

/**
 * The most float32 parameters a model lib makes may have: what one safetensors file holds
 * ({@link MAX_SAFETENSORS_BYTES} less a header of up to 1 MiB, over 4 bytes each), so that every
 * model `initMamba` or `initTransformer` makes can also be saved and loaded again. A typo in a
 * config (a width of 40960) fails at once instead of allocating gigabytes.
 */
export const MAX_MODEL_PARAMETERS = Math.floor((MAX_SAFETENSORS_BYTES - 2 ** 20) / 4);

/** The error of a config over {@link MAX_MODEL_PARAMETERS}, for the function `fn`. */
export function modelTooLarge(fn: string, parameters: number): Error {
  return new Error(
    `${fn}: argument 'config' must describe at most ${MAX_MODEL_PARAMETERS} parameters (2 GiB of float32, what one safetensors file holds) (got ${parameters}, ${((4 * parameters) / 2 ** 30).toFixed(1)} GiB)`,
  );
}

/**
 * The most bytes a safetensors file of `parameters` numbers can plausibly hold, for a loader that
 * knows them from its config: 8 bytes (F64) per number plus the largest header, capped at
 * {@link MAX_SAFETENSORS_BYTES}. A larger file is refused before it is read.
 */
export function plausibleSafetensorsBytes(parameters: number): number {
  return Math.min(MAX_SAFETENSORS_BYTES, 8 + MAX_HEADER_BYTES + 8 * parameters);
}

const FILE_FN = "readSafetensors";
const READ_OPTIONS = schema.options({
  maxBytes: schema.optional(schema.integer({ min: 8, max: MAX_SAFETENSORS_BYTES })),
});
/** The tensors of a file to write: a Map or a plain object from name to tensor. */
const TENSORS = schema.object<Record<string, Tensor>>();
const FILE_WHAT = "a valid safetensors file";

/**
 * Reads a safetensors file: tensor name -> { dtype, shape, data (float32) }, in header order.
 * The file must be a regular file (a link is followed) of at most `maxBytes` (default and most
 * {@link MAX_SAFETENSORS_BYTES}); a loader that knows how many parameters to expect passes a
 * tighter bound.
 */
export function readSafetensors(
  path: string,
  options: { maxBytes?: number } = {},
): Map<string, SafetensorsEntry> {
  checkArg(FILE_FN, "path", path, schema.string());
  checkOptions(FILE_FN, "options", options, READ_OPTIONS);
  return readChecked(path, options?.maxBytes ?? MAX_SAFETENSORS_BYTES, null) as Map<
    string,
    SafetensorsEntry
  >;
}

/** A 16-bit tensor left as stored: see {@link readSafetensorsKeeping16}. */
export interface Safetensors16Entry {
  dtype: "F16" | "BF16";
  shape: number[];
  /** The stored bit patterns, row-major. */
  bits: Uint16Array;
}

/**
 * {@link readSafetensors} for a loader that keeps some 16-bit tensors as they are stored: the F16
 * and BF16 tensors whose names `keep16` accepts come back as their bits (a
 * {@link Safetensors16Entry}), the rest as float32. Arguments checked by the caller.
 */
export function readSafetensorsKeeping16(
  path: string,
  maxBytes: number,
  keep16: (name: string) => boolean,
): Map<string, SafetensorsEntry | Safetensors16Entry> {
  return readChecked(path, maxBytes, keep16);
}

function readChecked(
  path: string,
  maxBytes: number,
  keep16: ((name: string) => boolean) | null,
): Map<string, SafetensorsEntry | Safetensors16Entry> {
  checkFileToRead(FILE_FN, "path", FILE_WHAT, path, maxBytes);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw fileError(FILE_FN, "path", FILE_WHAT, path, `cannot be read (${(e as Error).message})`);
  }
  return inFile(FILE_FN, "path", FILE_WHAT, path, () => parseBytes(bytes, path, keep16).tensors);
}

/**
 * Parses the bytes of a safetensors file. `label` names the file in errors. Returns the tensors
 * (float32) and the `__metadata__` strings.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  label = "<bytes>",
): { tensors: Map<string, SafetensorsEntry>; metadata: Record<string, string> } {
  const fn = "parseSafetensors";
  if (!(bytes instanceof Uint8Array)) {
    throw argumentError(fn, "bytes", `a Uint8Array (got ${describe(bytes)})`);
  }
  checkArg(fn, "label", label, schema.string({ allowEmpty: true }));
  const r = parseBytes(bytes, label, null);
  return { tensors: r.tensors as Map<string, SafetensorsEntry>, metadata: r.metadata };
}

/** {@link parseSafetensors} for checked arguments, keeping the 16-bit tensors `keep16` names. */
function parseBytes(
  bytes: Uint8Array,
  label: string,
  keep16: ((name: string) => boolean) | null,
): {
  tensors: Map<string, SafetensorsEntry | Safetensors16Entry>;
  metadata: Record<string, string>;
} {
  const fn = "parseSafetensors";
  const fail = (msg: string): never => {
    throw fileError(fn, "bytes", FILE_WHAT, label, msg);
  };
  if (bytes.length < 8)
    fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES)
    fail(`header length ${headerLen} exceeds ${MAX_HEADER_BYTES} bytes`);
  if (8 + headerLen > bytes.length) {
    fail(
      `header length ${headerLen} runs past the end of the file (${bytes.length} bytes): truncated or not safetensors`,
    );
  }
  const headerText = new TextDecoder("utf-8", { fatal: false }).decode(
    bytes.subarray(8, 8 + headerLen),
  );
  if (!headerText.startsWith("{")) fail(`header does not start with "{": not a safetensors file`);
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail(`header must be a JSON object, got ${describe(header)}`);
  }
  // JSON.parse keeps the last of two equal keys: a tensor listed twice would load silently.
  const repeated = repeatedTopLevelKey(headerText);
  if (repeated !== null) fail(`tensor "${repeated}" is listed twice in the header`);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors = new Map<string, SafetensorsEntry | Safetensors16Entry>();
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
        fail(`__metadata__ must be an object of strings`);
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} must be a string, got ${describe(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (raw === null || typeof raw !== "object")
      fail(`${where}: expected { dtype, shape, data_offsets }`);
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info.dtype;
    if (typeof dtype !== "string" || !(dtype in DTYPE_BYTES)) {
      fail(
        `${where}: unknown dtype ${describe(dtype)}; the format defines ${Object.keys(DTYPE_BYTES).join(", ")}`,
      );
    }
    const dt = dtype as string;
    if (!READABLE.has(dt))
      fail(`${where}: dtype ${dt} is not supported; expected F32, F16, BF16 or F64`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) {
      fail(
        `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    }
    const offsets = info.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      fail(
        `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
      );
    }
    const [begin, end] = offsets as number[];
    const count = numel(shape as number[]);
    const want = count * DTYPE_BYTES[dt];
    if (end - begin !== want) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dt} shape [${(shape as number[]).join(", ")}] needs ${want}`,
      );
    }
    if (end > dataLen) {
      fail(
        `${where}: data_offsets [${begin}, ${end}] run past the data buffer (${dataLen} bytes): the file is truncated`,
      );
    }
    spans.push({ name, begin, end });
    if ((dt === "F16" || dt === "BF16") && keep16?.(name)) {
      const at = dataStart + begin;
      tensors.set(name, {
        dtype: dt,
        shape: [...(shape as number[])],
        bits: littleEndianHost
          ? new Uint16Array(new Uint8Array(bytes.subarray(at, at + 2 * count)).buffer)
          : Uint16Array.from({ length: count }, (_, i) =>
              new DataView(bytes.buffer, bytes.byteOffset + at).getUint16(2 * i, true),
            ),
      });
      continue;
    }
    tensors.set(name, {
      dtype: dt,
      shape: [...(shape as number[])],
      data: decode(dt, bytes, dataStart + begin, count),
    });
  }
  // The tensors must tile the buffer exactly: no overlaps, no holes, nothing after the last one.
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const s of sorted) {
    if (s.begin !== cursor) {
      fail(
        s.begin < cursor
          ? `tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] overlap the previous tensor`
          : `tensor "${s.name}": data_offsets [${s.begin}, ${s.end}] leave a gap of ${s.begin - cursor} bytes before it`,
      );
    }
    cursor = s.end;
  }
  if (cursor !== dataLen) {
    fail(
      `the data buffer holds ${dataLen} bytes but the tensors cover ${cursor}: corrupt header or trailing bytes`,
    );
  }
  return { tensors, metadata };
}

/**
 * The first key that appears twice at the top level of a JSON object's text (already known to
 * be valid JSON), or null. One pass over the text, tracking strings and nesting depth.
 */
function repeatedTopLevelKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1 && c === "{";
    } else if (c === "}" || c === "]") {
      depth--;
    } else if (c === "," && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}

const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function decode(dtype: string, bytes: Uint8Array, offset: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, DTYPE_BYTES[dtype] * count);
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      if (littleEndianHost) {
        // One copy into an aligned buffer instead of a DataView call per element.
        // (new Uint8Array(view) copies; Buffer.slice would not.)
        out.set(
          new Float32Array(new Uint8Array(bytes.subarray(offset, offset + 4 * count)).buffer),
        );
      } else {
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      }
      break;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = float16ToNumber(view.getUint16(2 * i, true));
      break;
    case "BF16": {
      // bfloat16 is the top half of a float32: shift it back into place.
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        word.setUint32(0, view.getUint16(2 * i, true) << 16, true);
        out[i] = word.getFloat32(0, true);
      }
      break;
    }
  }
  return out;
}

/**
 * Writes tensors as an F32 safetensors file, atomically (a temporary file in the same folder,
 * renamed into place: a failed write leaves an old file as it was). Tensors are stored in name
 * order (so equal inputs give equal bytes), the header is padded with spaces to a multiple of 8
 * bytes (as the reference writer does, so the data is aligned), and `metadata` goes to
 * `__metadata__`.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  checkArg("writeSafetensors", "path", path, schema.string());
  const bytes = serialize("writeSafetensors", tensors, metadata, path);
  saveFilesAtomically("writeSafetensors", "path", dirname(path), [{ name: basename(path), bytes }]);
}

/** The bytes {@link writeSafetensors} writes. `label` names the file in errors. */
export function serializeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata?: Record<string, string>,
  label = "<bytes>",
): Uint8Array {
  return serialize("serializeSafetensors", tensors, metadata, label);
}

/** {@link serializeSafetensors} for the function `fn` the user called (errors name `fn`). */
export function serialize(
  fn: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> | undefined,
  label: string,
): Uint8Array {
  if (!(tensors instanceof Map)) checkArg(fn, "tensors", tensors, TENSORS);
  checkArg(fn, "metadata", metadata, schema.optional(schema.object()));
  const where = label === "<bytes>" ? "" : ` for file '${label}'`;
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") {
        throw new Error(
          `${fn}: argument 'metadata' must be an object of strings (got ${describe(v)} as "${k}"${where})`,
        );
      }
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__")
      throw new Error(
        `${fn}: argument 'tensors' must be tensors named other than "__metadata__", a reserved name (got a tensor "__metadata__"${where})`,
      );
    if (
      !t ||
      !Array.isArray(t.shape) ||
      !(t.data instanceof Float32Array || t.data instanceof Float64Array)
    ) {
      throw new Error(
        `${fn}: argument 'tensors' must be tensors { shape, data: Float32Array | Float64Array } (got ${describe(t)} as "${name}"${where})`,
      );
    }
    if (numel(t.shape) !== t.data.length) {
      throw new Error(
        `${fn}: argument 'tensors' must be tensors whose data fills their shape (got "${name}" with ${t.data.length} elements for shape [${t.shape.join(", ")}], which needs ${numel(t.shape)}${where})`,
      );
    }
    const size = 4 * t.data.length;
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  json += " ".repeat((8 - (raw.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const [, t] of entries) {
    if (littleEndianHost) {
      out.set(new Uint8Array(Float32Array.from(t.data).buffer), p);
      p += 4 * t.data.length;
    } else {
      for (let i = 0; i < t.data.length; i++, p += 4) view.setFloat32(p, t.data[i], true);
    }
  }
  return out;
}
