/**
 * A seeded random number generator. Every random thing in the course (initial weights, synthetic
 * tasks, test cases) takes an `Rng` so that a lesson prints the same numbers on every machine and
 * a failing check can be replayed. There is no global generator on purpose.
 */
import { MAX_ARRAY_LENGTH, argumentError, checkArg, schema } from "./validate";
import { type DType, type Tensor, allocate, numel } from "./tensor";

/** A deterministic generator (xoshiro128**, 128-bit state, seeded through splitmix32). */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  /** @param seed any integer; equal seeds give equal streams. */
  constructor(seed: number) {
    checkArg("Rng", "seed", seed, INTEGER);
    let x = seed >>> 0;
    const next = (): number => {
      // splitmix32: spreads a small seed over the 128-bit state.
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    checkBounds("Rng.uniform", lo, hi);
    return lo + (hi - lo) * this.random();
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    checkArg("Rng.int", "n", n, POSITIVE_INTEGER);
    return Math.floor(this.random() * n);
  }

  /** A standard normal sample (Box-Muller, caching the second value). */
  normal(mean = 0, std = 1): number {
    checkArg("Rng.normal", "mean", mean, FINITE);
    checkArg("Rng.normal", "std", std, NON_NEGATIVE);
    return mean + std * this.standardNormal();
  }

  private standardNormal(): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A tensor of i.i.d. N(0, std²) samples. */
  randn(shape: readonly number[], std = 1, dtype: DType = "float64"): Tensor {
    checkArg("Rng.randn", "shape", shape, SHAPE);
    checkArg("Rng.randn", "std", std, NON_NEGATIVE);
    checkArg("Rng.randn", "dtype", dtype, DTYPE);
    const data = allocate(dtype, numel(shape));
    for (let i = 0; i < data.length; i++) data[i] = 0 + std * this.standardNormal();
    return { shape: [...shape], data };
  }

  /** A tensor of i.i.d. samples uniform in [lo, hi). */
  rand(shape: readonly number[], lo = 0, hi = 1, dtype: DType = "float64"): Tensor {
    checkArg("Rng.rand", "shape", shape, SHAPE);
    checkBounds("Rng.rand", lo, hi);
    checkArg("Rng.rand", "dtype", dtype, DTYPE);
    const data = allocate(dtype, numel(shape));
    for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * this.random();
    return { shape: [...shape], data };
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    checkArg("Rng.permutation", "n", n, ARRAY_LENGTH);
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }

  /**
   * The generator's full state (the four 32-bit words and a cached normal deviate, or null), so a
   * training run can be saved and resumed with the same random stream ({@link Rng.fromState}).
   */
  getState(): { words: [number, number, number, number]; spareNormal: number | null } {
    return { words: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spareNormal };
  }

  /** A generator continuing exactly where the one whose {@link Rng.getState} gave `state` was. */
  static fromState(state: { words: number[]; spareNormal: number | null }): Rng {
    const w = state?.words;
    if (
      !Array.isArray(w) ||
      w.length !== 4 ||
      !w.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)
    ) {
      throw argumentError(
        "Rng.fromState",
        "state.words",
        `four unsigned 32-bit integers (got ${JSON.stringify(w)})`,
      );
    }
    if (w.every((v) => v === 0))
      throw argumentError(
        "Rng.fromState",
        "state.words",
        "a valid xoshiro state, not all zero (got [0, 0, 0, 0])",
      );
    const sp = state.spareNormal;
    if (sp !== null && !Number.isFinite(sp)) {
      throw argumentError(
        "Rng.fromState",
        "state.spareNormal",
        `null or a finite number (got ${sp})`,
      );
    }
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = w as [number, number, number, number];
    r.spareNormal = sp;
    return r;
  }

  /** A new generator whose stream is independent of this one's remaining stream. */
  fork(): Rng {
    return new Rng(this.nextUint32() | 0);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// Argument schemas of the sampling methods (the class reads first; these guard it).
const FINITE = schema.number();
const INTEGER = schema.integer();
const POSITIVE_INTEGER = schema.integer({ min: 1 });
const ARRAY_LENGTH = schema.integer({ min: 0, max: MAX_ARRAY_LENGTH });
const NON_NEGATIVE = schema.number({ min: 0 });
const SHAPE = schema.shape();
const DTYPE = schema.oneOf(["float32", "float64"] as const);

function checkBounds(fn: string, lo: unknown, hi: unknown): void {
  checkArg(fn, "lo", lo, FINITE);
  checkArg(fn, "hi", hi, FINITE);
  if ((hi as number) < (lo as number)) {
    throw argumentError(fn, "hi", `a number >= lo = ${lo as number} (got ${hi as number})`);
  }
}
