/**
 * Scanning the linear recurrence h_t = a_t · h_{t-1} + b_t (h_{-1} = 0) four ways.
 *
 * Every algorithm combines the pairs (a_t, b_t) with the associative operator of `./combine`
 * ((a_1, b_1) ∘ (a_2, b_2) = (a_1 a_2, a_2 b_1 + b_2)); they differ in the ORDER of the combines,
 * which sets how much work they do and how many dependent rounds (the depth) they need when every
 * combine of a round runs in parallel:
 *
 * | algorithm       | combines (work)     | rounds (depth)   |
 * |-----------------|---------------------|------------------|
 * | sequential      | L - 1               | L - 1            |
 * | hillis-steele   | L·⌈log2 L⌉ - (2^⌈log2 L⌉ - 1) | ⌈log2 L⌉ |
 * | blelloch        | 2·(P - 1), P = 2^⌈log2 L⌉   | 2·log2 P |
 * | chunked (T)     | 2L - T - ⌈L/T⌉      | T + ⌈L/T⌉ - 1    |
 *
 * In exact arithmetic all four give the same h; in floating point they round differently (the
 * products are formed in a different order), by a few units in the last place.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, checkOptions, describe, isAbsent, schema } from "../validate";

/** The scan algorithms of {@link linearScan}. */
export type ScanAlgorithm = "sequential" | "hillis-steele" | "blelloch" | "chunked";

/** All values of {@link ScanAlgorithm}, in the order the lesson introduces them. */
export const SCAN_ALGORITHMS: readonly ScanAlgorithm[] = [
  "sequential",
  "hillis-steele",
  "blelloch",
  "chunked",
];

/** Counts filled in by {@link linearScan} when passed as `options.stats`. */
export interface ScanStats {
  /** Number of ∘ applications, summed over all sequences (the work). */
  combines: number;
  /** Number of dependent rounds of one sequence (the depth); sequences run side by side. */
  depth: number;
}

/** Options of {@link linearScan}. */
export interface LinearScanOptions {
  /** Default "sequential". */
  algorithm?: ScanAlgorithm;
  /** Chunk length T of the "chunked" algorithm; default ⌈√L⌉ (which minimises the depth). */
  chunkSize?: number;
  /** When given, receives the work and depth of the run (its fields are overwritten). */
  stats?: ScanStats;
  /**
   * Scan from the end instead: h_t = a_t · h_{t+1} + b_t, h_L = 0 (default false). This is the
   * adjoint recurrence of backpropagation through a scan: for h_t = a_t h_{t-1} + b_t and a loss
   * with ∂loss/∂h_t = g_t, the gradients ∂loss/∂b_t = λ_t solve λ_t = a_{t+1} λ_{t+1} + g_t: the
   * reverse scan of (a shifted left by one, 0 at the end; g). Then ∂loss/∂a_t = λ_t h_{t-1}.
   */
  reverse?: boolean;
}

/** An array a scan can work on in place. */
export type MutableNumbers = number[] | Float64Array | Float32Array;

/**
 * Solves h_t = a_t · h_{t-1} + b_t, h_{-1} = 0, along the last axis of a and b (each sequence of
 * the leading axes independently), with the chosen parallel-scan algorithm.
 *
 * With `reverse: true` it solves h_t = a_t · h_{t+1} + b_t, h_L = 0, from the last position to the
 * first, with the same algorithm run on the time-reversed sequence (same work and depth).
 *
 * Shapes: a, b (..., l), same shape; returns h (..., l). The arithmetic is float64; h is float32
 * when both inputs are float32, float64 otherwise.
 *
 * @param a decay factors a_t (..., l)
 * @param b inputs b_t (..., l)
 * @param options algorithm, chunk size, direction, and an optional stats object for work and depth
 */
export function linearScan(a: Tensor, b: Tensor, options: LinearScanOptions = {}): Tensor {
  const fn = "linearScan";
  const ta = checkArg(fn, "a", a, schema.tensor({ dtype: ["float32", "float64"] }));
  if (ta.shape.length < 1) {
    throw argumentError(fn, "a", "a tensor with at least one axis (..., l) (got shape [])");
  }
  const tb = checkArg(
    fn,
    "b",
    b,
    schema.tensor({ shape: ta.shape, dtype: ["float32", "float64"] }),
  );
  const opts = parseOptions(fn, options);
  const algorithm = opts.algorithm ?? "sequential";
  const reverse = opts.reverse === true;
  const L = ta.shape[ta.shape.length - 1];
  const rows = L === 0 ? 0 : ta.data.length / L;
  const dtype = dtypeOf(ta) === "float32" && dtypeOf(tb) === "float32" ? "float32" : "float64";
  const out = allocate(dtype, ta.data.length);
  let T = 0;
  if (algorithm === "chunked") {
    T = opts.chunkSize ?? Math.max(1, Math.ceil(Math.sqrt(L)));
  }
  const scratch = new RowScratch(algorithm === "blelloch" ? pow2AtLeast(L) : L);
  const counts: ScanStats = { combines: 0, depth: 0 };
  for (let r = 0; r < rows; r++) {
    const off = r * L;
    // the reverse scan is the forward scan of the time-reversed row, read back reversed
    for (let t = 0; t < L; t++) {
      const src = reverse ? off + L - 1 - t : off + t;
      scratch.a[t] = ta.data[src];
      scratch.b[t] = tb.data[src];
    }
    let h: Float64Array;
    if (algorithm === "sequential") h = sequentialRow(scratch, L, counts);
    else if (algorithm === "hillis-steele") h = hillisSteeleRow(scratch, L, counts);
    else if (algorithm === "blelloch") h = blellochRow(scratch, L, counts);
    else h = chunkedRow(scratch, L, T, counts);
    for (let t = 0; t < L; t++) out[reverse ? off + L - 1 - t : off + t] = h[t];
  }
  if (opts.stats) {
    opts.stats.combines = counts.combines;
    opts.stats.depth = rows === 0 ? 0 : counts.depth;
  }
  return { shape: [...ta.shape], data: out };
}

/** Checks linearScan's argument options. */
function parseOptions(fn: string, options: unknown): LinearScanOptions {
  const o = checkOptions(fn, "options", options, LINEAR_SCAN_OPTIONS);
  if (!isAbsent(o.chunkSize) && o.algorithm !== "chunked") {
    throw argumentError(
      fn,
      "options.chunkSize",
      `absent unless algorithm is "chunked", the only one that takes a chunk size (got ${o.chunkSize} with algorithm ${describe(o.algorithm ?? "sequential")})`,
    );
  }
  return o as LinearScanOptions;
}

const LINEAR_SCAN_OPTIONS = schema.options({
  algorithm: schema.optional(schema.oneOf(SCAN_ALGORITHMS)),
  chunkSize: schema.optional(schema.integer({ min: 1 })),
  stats: schema.optional(schema.object<{ combines: number; depth: number }>()),
  reverse: schema.optional(schema.boolean()),
});

/** The smallest power of two >= n (1 for n <= 1). */
function pow2AtLeast(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Working arrays for one sequence, reused across the rows of a call. */
class RowScratch {
  a: Float64Array;
  b: Float64Array;
  a2: Float64Array;
  b2: Float64Array;
  constructor(padded: number) {
    this.a = new Float64Array(padded);
    this.b = new Float64Array(padded);
    this.a2 = new Float64Array(padded);
    this.b2 = new Float64Array(padded);
  }
}

/** h_t = a_t h_{t-1} + b_t, one step after another. */
function sequentialRow(s: RowScratch, L: number, counts: ScanStats): Float64Array {
  const { a, b } = s;
  for (let t = 1; t < L; t++) b[t] = a[t] * b[t - 1] + b[t];
  counts.combines += Math.max(0, L - 1);
  counts.depth = Math.max(0, L - 1);
  return b;
}

/**
 * Hillis-Steele: in round k (offset s = 2^k) every position t >= s takes x_t ← x_{t-s} ∘ x_t, all
 * positions at once (reading the previous round's values). After ⌈log2 L⌉ rounds x_t covers 0..t.
 */
function hillisSteeleRow(s: RowScratch, L: number, counts: ScanStats): Float64Array {
  let a = s.a;
  let b = s.b;
  let na = s.a2;
  let nb = s.b2;
  let rounds = 0;
  for (let off = 1; off < L; off *= 2) {
    for (let t = 0; t < off; t++) {
      na[t] = a[t];
      nb[t] = b[t];
    }
    for (let t = off; t < L; t++) {
      na[t] = a[t - off] * a[t];
      nb[t] = a[t] * b[t - off] + b[t];
    }
    counts.combines += L - off;
    rounds++;
    [a, na] = [na, a];
    [b, nb] = [nb, b];
  }
  counts.depth = rounds;
  return b;
}

/**
 * Blelloch: pad to P = 2^⌈log2 L⌉ with the identity (1, 0), up-sweep (a reduction tree), clear the
 * root, down-sweep (which leaves the exclusive scan), then read the inclusive scan off the
 * exclusive one shifted by one, with the root's total at the end.
 */
function blellochRow(s: RowScratch, L: number, counts: ScanStats): Float64Array {
  const P = s.a.length;
  const { a, b } = s;
  for (let t = L; t < P; t++) {
    a[t] = 1;
    b[t] = 0;
  }
  counts.combines += upSweepInPlace(a, b);
  const totalB = b[P - 1];
  counts.combines += downSweepInPlace(a, b);
  // inclusive h_t = exclusive_{t+1}.b; the last one is the total.
  const h = s.b2;
  for (let t = 0; t + 1 < L; t++) h[t] = b[t + 1];
  if (L > 0) h[L - 1] = L === P ? totalB : b[L];
  counts.depth = 2 * Math.log2(P);
  return h;
}

/**
 * Chunked: split into chunks of T; scan inside every chunk sequentially (all chunks in parallel);
 * scan the chunk totals sequentially (the carry h at each chunk's end); then fix up the other
 * positions of chunk c >= 1 with the carry of chunk c - 1: h_t = A_t · carry + B_t, where
 * (A_t, B_t) is the in-chunk prefix. Work: (L - C) + (C - 1) + (L - T - (C - 1)) ≈ 2L combines.
 */
function chunkedRow(s: RowScratch, L: number, T: number, counts: ScanStats): Float64Array {
  const { a, b } = s;
  const C = Math.ceil(L / T);
  // 1. local inclusive scans: (a_t, b_t) becomes the pair of chunk start .. t
  for (let c = 0; c < C; c++) {
    const end = Math.min(L, (c + 1) * T);
    for (let t = c * T + 1; t < end; t++) {
      b[t] = a[t] * b[t - 1] + b[t];
      a[t] = a[t - 1] * a[t];
    }
    counts.combines += end - c * T - 1;
  }
  // 2. carry across chunks: h at the end of chunk c = A_end · h_end(c-1) + B_end
  const carry = s.b2;
  for (let c = 0; c < C; c++) {
    const end = Math.min(L, (c + 1) * T) - 1;
    carry[c] = c === 0 ? b[end] : a[end] * carry[c - 1] + b[end];
  }
  counts.combines += Math.max(0, C - 1);
  // 3. fix-up: every other position of chunk c >= 1 applies its prefix pair to carry[c - 1]
  //    (the chunk's last position already holds its carry)
  for (let c = 0; c < C; c++) b[Math.min(L, (c + 1) * T) - 1] = carry[c];
  for (let c = 1; c < C; c++) {
    const last = Math.min(L, (c + 1) * T) - 1;
    const h = carry[c - 1];
    for (let t = c * T; t < last; t++) b[t] = a[t] * h + b[t];
    counts.combines += last - c * T;
  }
  counts.depth = L === 0 ? 0 : Math.min(T, L) - 1 + (C - 1) + (C > 1 ? 1 : 0);
  return b;
}

function upSweepInPlace(a: MutableNumbers, b: MutableNumbers): number {
  const P = a.length;
  let combines = 0;
  for (let stride = 2; stride <= P; stride *= 2) {
    const half = stride / 2;
    for (let i = stride - 1; i < P; i += stride) {
      // x_i ← x_{i-half} ∘ x_i: the left subtree first
      const l = i - half;
      b[i] = a[i] * b[l] + b[i];
      a[i] = a[l] * a[i];
      combines++;
    }
  }
  return combines;
}

function downSweepInPlace(a: MutableNumbers, b: MutableNumbers): number {
  const P = a.length;
  let combines = 0;
  a[P - 1] = 1;
  b[P - 1] = 0;
  for (let stride = P; stride >= 2; stride /= 2) {
    const half = stride / 2;
    for (let i = stride - 1; i < P; i += stride) {
      const l = i - half;
      // the left child inherits the prefix before this subtree; the right child gets
      // prefix ∘ (left subtree's total)
      const la = a[l];
      const lb = b[l];
      a[l] = a[i];
      b[l] = b[i];
      b[i] = la * b[i] + lb;
      a[i] = a[i] * la;
      combines++;
    }
  }
  return combines;
}

/** Checks the arguments a, b of the Blelloch sweeps: pairs of finite numbers, P a power of two. */
function checkTreeArrays(fn: string, a: unknown, b: unknown): void {
  const isArr = (v: unknown): v is MutableNumbers =>
    Array.isArray(v) || v instanceof Float64Array || v instanceof Float32Array;
  if (!isArr(a)) throw argumentError(fn, "a", `an array of numbers (got ${describe(a)})`);
  if (!isArr(b)) throw argumentError(fn, "b", `an array of numbers (got ${describe(b)})`);
  if (a.length !== b.length) {
    throw argumentError(fn, "b", `an array of the length of a (${a.length}) (got ${b.length})`);
  }
  const P = a.length;
  if (P < 1 || (P & (P - 1)) !== 0) {
    throw argumentError(
      fn,
      "a",
      `an array whose length is a power of two (pad with (1, 0)) (got ${P})`,
    );
  }
  checkArg(fn, "a", a, TREE_VALUES);
  checkArg(fn, "b", b, TREE_VALUES);
}

const TREE_VALUES = schema.numbers();

/**
 * Blelloch's up-sweep, in place: builds a reduction tree over the pairs (a_i, b_i). For
 * stride = 2, 4, ..., P every i = stride-1, 2·stride-1, ... takes x_i ← x_{i-stride/2} ∘ x_i, so
 * afterwards x_{P-1} is the pair of the whole sequence and every x_i with i = k·stride - 1 holds
 * the pair of its subtree.
 *
 * @param a, b the pairs, length P a power of two (pad with (1, 0)); modified in place
 */
export function blellochUpSweep(a: MutableNumbers, b: MutableNumbers): void {
  checkTreeArrays("blellochUpSweep", a, b);
  upSweepInPlace(a, b);
}

/**
 * Blelloch's down-sweep, in place: turns up-swept arrays (see {@link blellochUpSweep}) into the
 * EXCLUSIVE scan, x_i = x_0 ∘ ... ∘ x_{i-1} (the identity (1, 0) at i = 0). The root is set to
 * the identity; then for stride = P, P/2, ..., 2 and every i = stride-1, 2·stride-1, ... with
 * left child l = i - stride/2:
 *
 *   (x_l, x_i) ← (x_i, x_i ∘ x_l)     (reading the old x_l and x_i)
 *
 * x_i arrives holding the prefix of everything left of its subtree; the left child inherits it,
 * the right child needs it followed by the left subtree's total.
 *
 * @param a, b up-swept pairs, length P a power of two; modified in place
 */
export function blellochDownSweep(a: MutableNumbers, b: MutableNumbers): void {
  checkTreeArrays("blellochDownSweep", a, b);
  downSweepInPlace(a, b);
}

/**
 * The tempting shortcut that divides by the cumulative product, and why nobody uses it:
 *
 *   h_t = Σ_{s<=t} (a_{s+1} ··· a_t) b_s = P_t · Σ_{s<=t} b_s / P_s,   P_t = a_0 a_1 ··· a_t.
 *
 * Two cumulative operations (a product and a sum) replace the recurrence, but with |a| < 1 the
 * product P_t underflows to 0 after a few hundred (float32) or thousand (float64) steps, b_s / P_s
 * overflows to ∞, and h_t becomes 0 · ∞ = NaN. Kept for lesson 07's demonstration.
 *
 * Shapes: a, b (l); returns h (l). With `dtype: "float32"` every operation is rounded to float32
 * (as on a GPU).
 */
export function linearScanByCumprod(
  a: Tensor,
  b: Tensor,
  options: { dtype?: "float32" | "float64" } = {},
): Tensor {
  const fn = "linearScanByCumprod";
  const ta = checkArg(fn, "a", a, schema.tensor({ rank: 1, axes: ["l"] }));
  const tb = checkArg(fn, "b", b, schema.tensor({ shape: ta.shape, axes: ["l"] }));
  const dtype = checkOptions(fn, "options", options, CUMPROD_OPTIONS).dtype ?? "float64";
  const r = dtype === "float32" ? Math.fround : (x: number) => x;
  const L = ta.shape[0];
  const h = allocate(dtype, L);
  let P = 1;
  let S = 0;
  for (let t = 0; t < L; t++) {
    P = r(P * ta.data[t]);
    S = r(S + r(tb.data[t] / P));
    h[t] = r(P * S);
  }
  return { shape: [L], data: h };
}

const CUMPROD_OPTIONS = schema.options({
  dtype: schema.optional(schema.oneOf(["float32", "float64"] as const)),
});
