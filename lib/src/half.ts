/**
 * 16-bit floats: the storage of weights kept as a checkpoint stored them
 * (`loadMambaCheckpoint(dir, { keep: "bf16" })`), half the bytes of float32, widened to float32
 * (exactly: every bfloat16 and float16 is a float32) wherever they are read.
 */
import type { Tensor } from "./tensor";

/** The 16-bit formats: "bf16" (bfloat16, float32's top 16 bits) and "f16" (IEEE binary16). */
export type HalfFormat = "bf16" | "f16";

/** A weight matrix kept in 16-bit floats: its shape, format and bit patterns, row-major. */
export interface HalfTensor {
  shape: number[];
  format: HalfFormat;
  data: Uint16Array;
}

/** Whether t is a {@link HalfTensor} (rather than a float32/float64 tensor). */
export function isHalfTensor(t: { data: unknown }): t is HalfTensor {
  return t.data instanceof Uint16Array;
}

/** IEEE 754 binary16 bits -> number (subnormals, infinities and NaN included). */
export function float16ToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The index of the first ±∞ or NaN (exponent field all ones) in 16-bit patterns, or −1. */
export function firstNonFiniteHalf(bits: Uint16Array, format: HalfFormat): number {
  const exponent = format === "bf16" ? 0x7f80 : 0x7c00;
  for (let i = 0; i < bits.length; i++) if ((bits[i] & exponent) === exponent) return i;
  return -1;
}

/** Widens `count` values of `src` from index `from` into `out` at index `at` (float32, exact). */
export function widenInto(
  src: Uint16Array,
  format: HalfFormat,
  from: number,
  count: number,
  out: Float32Array,
  at: number,
): void {
  if (format === "bf16") {
    // a bfloat16 is the top half of a float32: write the bits shifted into place
    const bits = new Uint32Array(out.buffer, out.byteOffset + 4 * at, count);
    for (let i = 0; i < count; i++) bits[i] = src[from + i] << 16;
  } else {
    for (let i = 0; i < count; i++) out[at + i] = float16ToNumber(src[from + i]);
  }
}

/** The float32 tensor of a {@link HalfTensor}'s values (a copy; exact). */
export function widenHalf(t: HalfTensor): Tensor<Float32Array> {
  const out = new Float32Array(t.data.length);
  widenInto(t.data, t.format, 0, t.data.length, out, 0);
  return { shape: [...t.shape], data: out };
}
