/**
 * Kernel sources of the gpu.js selective scans, generated for one problem size, and the plan of
 * kernel launches each variant makes, with the bytes every launch writes and reads.
 *
 * Why generate source: a gpu.js kernel returns one value per thread and its local variables are
 * scalars or arrays of at most 4 values, so a thread that needs the n = 16 states of a channel in
 * registers must name them h0 ... h15. The generator writes those lines; it also writes the problem
 * sizes in as literals, so every loop has a compile-time bound (GLSL requires it).
 *
 * Layouts (gpu.js output sizes are [x, y, z], x fastest):
 * - inputs: u, delta, z as [l, d, b] (u[b][d][t]); A as [n, d] (A[d][n]); B, C as [l, n, b·g]
 *   (B[bg][n][t], bg = b·g + group of d); D, deltaBias as [d].
 * - Δ: [l, b·d] (Dt[bd][t]); expanded (b, d, l, n) tensors: [n, l, b·d] (P[bd][t][n]);
 *   chunk summaries: [n, chunks, b·d]; out: [l, b·d]; last state: [n, b·d].
 */

import { MAX_ELEMENTS, argumentError, checkArg, checkOptions, describe, schema } from "../validate";

/** Problem sizes and flags a set of kernels is generated for. */
export interface ScanDims {
  batch: number;
  dim: number;
  length: number;
  dstate: number;
  /** Groups of B and C (1: the (b, n, l) layout). */
  groups: number;
  softplus: boolean;
  hasZ: boolean;
}

/** The kernels of both variants. */
export type ScanKernelName =
  | "delta"
  | "expand-decay"
  | "expand-input"
  | "pass-input"
  | "pass-decay"
  | "naive-output"
  | "chunk-input"
  | "chunk-decay"
  | "chunked-output"
  | "pack-a"
  | "pack-b"
  | "pack-c"
  | "last-state";

/** One kernel launch of a plan: what runs, over how many threads, and the traffic it makes. */
export interface KernelLaunch {
  kernel: ScanKernelName;
  /** Hillis-Steele offset of a pass, else null. */
  offset: number | null;
  /** Output values = threads. */
  threads: number;
  /** float32 values written (= threads). */
  valuesWritten: number;
  /** float32 values loaded by all threads (every load counts, also of values shared by threads). */
  valuesRead: number;
}

const f = (n: number): string => `${n}.0`;

/** The lines that name the batch element, channel and B/C row of thread `bd`. */
function channelPreamble(dims: ScanDims, bdExpr: string): string {
  const perGroup = dims.dim / dims.groups;
  const bg =
    dims.groups === 1
      ? "const bg = b;"
      : `const bg = b * ${dims.groups} + Math.floor((d + 0.5) / ${f(perGroup)});`;
  return [
    `const bd = ${bdExpr};`,
    `const b = Math.floor((bd + 0.5) / ${f(dims.dim)});`,
    `const d = bd - b * ${dims.dim};`,
    bg,
  ].join("\n  ");
}

/** Δ = softplus(delta + deltaBias) (softplus optional): output [l, b·d]. */
export function deltaKernelSource(dims: ScanDims): string {
  checkScanDims("deltaKernelSource", dims);
  return `function (delta, bias) {
  const t = this.thread.x;
  ${channelPreamble(dims, "this.thread.y")}
  let x = delta[b][d][t] + bias[d];
  ${dims.softplus ? "if (x <= 20.0) { x = Math.log(1.0 + Math.exp(x)); }" : ""}
  return x;
}`;
}

/** Naive: exp(Δ A) for every (b, d, l, n): output [n, l, b·d]. */
export function expandDecaySource(dims: ScanDims): string {
  checkScanDims("expandDecaySource", dims);
  return `function (Dt, A) {
  const n = this.thread.x;
  const t = this.thread.y;
  ${channelPreamble(dims, "this.thread.z")}
  return Math.exp(Dt[bd][t] * A[d][n]);
}`;
}

/** Naive: Δ B u for every (b, d, l, n): output [n, l, b·d]. */
export function expandInputSource(dims: ScanDims): string {
  checkScanDims("expandInputSource", dims);
  return `function (Dt, u, B) {
  const n = this.thread.x;
  const t = this.thread.y;
  ${channelPreamble(dims, "this.thread.z")}
  return Dt[bd][t] * B[bg][n][t] * u[b][d][t];
}`;
}

/**
 * One Hillis-Steele round on the b part of the pairs: S'_i = P_i · S_{i-s} + S_i for i >= s (the b
 * of (P_{i-s}, S_{i-s}) ∘ (P_i, S_i)); output [n, len, b·d].
 */
export function passInputSource(): string {
  return `function (P, S, s) {
  const n = this.thread.x;
  const i = this.thread.y;
  const bd = this.thread.z;
  if (i >= s) {
    return P[bd][i][n] * S[bd][i - s][n] + S[bd][i][n];
  }
  return S[bd][i][n];
}`;
}

/** The a part of the same round: P'_i = P_{i-s} · P_i for i >= s. */
export function passDecaySource(): string {
  return `function (P, s) {
  const n = this.thread.x;
  const i = this.thread.y;
  const bd = this.thread.z;
  if (i >= s) {
    return P[bd][i - s][n] * P[bd][i][n];
  }
  return P[bd][i][n];
}`;
}

function gateLines(dims: ScanDims): string {
  return dims.hasZ ? `const zz = z[b][d][t];\n  y = y * zz / (1.0 + Math.exp(-zz));` : "";
}

/** Naive output: y = Σ_n H[b,d,t,n] C[b,n,t] + D u, gated; output [l, b·d]. */
export function naiveOutputSource(dims: ScanDims): string {
  checkScanDims("naiveOutputSource", dims);
  const terms = Array.from({ length: dims.dstate }, (_, n) => `H[bd][t][${n}] * C[bg][${n}][t]`);
  return `function (H, u, C, Dv${dims.hasZ ? ", z" : ""}) {
  const t = this.thread.x;
  ${channelPreamble(dims, "this.thread.y")}
  let y = ${terms.join("\n    + ")};
  y = y + Dv[d] * u[b][d][t];
  ${gateLines(dims)}
  return y;
}`;
}

/**
 * Chunked: the chunk's contribution to the state, starting from zero,
 * S_c = Σ_{t in chunk} exp(A (Δ_{t+1} + ... + Δ_end)) Δ_t B_t u_t, by running the recurrence
 * over the chunk's T positions in one thread; output [n, chunks, b·d].
 */
export function chunkInputSource(dims: ScanDims, T: number): string {
  checkScanDims("chunkInputSource", dims);
  checkChunkSize("chunkInputSource", T);
  return `function (Dt, u, A, B) {
  const n = this.thread.x;
  const c = this.thread.y;
  ${channelPreamble(dims, "this.thread.z")}
  const a = A[d][n];
  let s = 0.0;
  for (let k = 0; k < ${T}; k++) {
    const t = c * ${T} + k;
    if (t >= ${dims.length}) { break; }
    const x = Dt[bd][t];
    s = Math.exp(x * a) * s + x * B[bg][n][t] * u[b][d][t];
  }
  return s;
}`;
}

/** Chunked: the chunk's decay P_c = exp(A · Σ_{t in chunk} Δ_t); output [n, chunks, b·d]. */
export function chunkDecaySource(dims: ScanDims, T: number): string {
  checkScanDims("chunkDecaySource", dims);
  checkChunkSize("chunkDecaySource", T);
  return `function (Dt, A) {
  const n = this.thread.x;
  const c = this.thread.y;
  ${channelPreamble(dims, "this.thread.z")}
  let sum = 0.0;
  for (let k = 0; k < ${T}; k++) {
    const t = c * ${T} + k;
    if (t >= ${dims.length}) { break; }
    sum += Dt[bd][t];
  }
  return Math.exp(sum * A[d][n]);
}`;
}

/**
 * Chunked output by replay: thread (b, d, t) loads the state carried into its chunk
 * (H of the previous chunk, scanned), replays the chunk's positions up to t with all n states in
 * registers h0..h{n-1}, and contracts with C_t; output [l, b·d]. Nothing of size (b, d, l, n) is
 * ever written.
 */
export function chunkedOutputSource(dims: ScanDims, T: number, packed = false): string {
  checkScanDims("chunkedOutputSource", dims);
  checkChunkSize("chunkedOutputSource", T);
  checkArg("chunkedOutputSource", "packed", packed, schema.boolean());
  const N = dims.dstate;
  const G = Math.ceil(N / 4);
  const lines = (fn: (n: number) => string, sep = "\n    "): string =>
    Array.from({ length: N }, (_, n) => fn(n)).join(sep);
  const groups = (fn: (g: number) => string, sep = "\n    "): string =>
    Array.from({ length: G }, (_, g) => fn(g)).join(sep);
  // packed: A, B and C arrive four states per texel (see packSource), one fetch per four states
  const aLine = packed
    ? `${groups((g) => `const av${g} = A[d][${g}];`, "\n  ")}\n  ${lines((n) => `const a${n} = av${n >> 2}[${n & 3}];`, "\n  ")}`
    : lines((n) => `const a${n} = A[d][${n}];`, "\n  ");
  const bStep = packed
    ? `${groups((g) => `const bv${g} = B[bg][s][${g}];`)}\n    ${lines((n) => `h${n} = Math.exp(x * a${n}) * h${n} + xu * bv${n >> 2}[${n & 3}];`)}`
    : lines((n) => `h${n} = Math.exp(x * a${n}) * h${n} + xu * B[bg][${n}][s];`);
  const yLine = packed
    ? `${groups((g) => `const cv${g} = C[bg][t][${g}];`, "\n  ")}\n  let y = ${lines((n) => `h${n} * cv${n >> 2}[${n & 3}]`, "\n    + ")};`
    : `let y = ${lines((n) => `h${n} * C[bg][${n}][t]`, "\n    + ")};`;
  return `function (H, Dt, u, A, B, C, Dv${dims.hasZ ? ", z" : ""}) {
  const t = this.thread.x;
  ${channelPreamble(dims, "this.thread.y")}
  const c = Math.floor((t + 0.5) / ${f(T)});
  ${lines((n) => `let h${n} = 0.0;`, "\n  ")}
  if (c > 0) {
    ${lines((n) => `h${n} = H[bd][c - 1][${n}];`)}
  }
  ${aLine}
  for (let k = 0; k < ${T}; k++) {
    const s = c * ${T} + k;
    if (s > t) { break; }
    const x = Dt[bd][s];
    const xu = x * u[b][d][s];
    ${bStep}
  }
  ${yLine}
  y = y + Dv[d] * u[b][d][t];
  ${gateLines(dims)}
  return y;
}`;
}

/**
 * Packs four states per value (an Array(4) kernel, one RGBA texel on the GL backends), so that
 * the output kernel fetches A, B and C a texel at a time: for "A" (d, n) the output is
 * [⌈n/4⌉, d] (A4[d][g] = A[d][4g..4g+3]); for "B"/"C" (b·g, n, l) it is [⌈n/4⌉, l, b·g]
 * (B4[bg][t][g] = B[bg][4g..4g+3][t]); states past n are 0.
 */
export function packSource(dims: ScanDims, which: "A" | "BC"): string {
  checkScanDims("packSource", dims);
  checkArg("packSource", "which", which, schema.oneOf(["A", "BC"] as const));
  const N = dims.dstate;
  const lane = (j: number, fetch: (n: string) => string): string =>
    `(4 * g + ${j} < ${N} ? ${fetch(`4 * g + ${j}`)} : 0.0)`;
  const lanes = (fetch: (n: string) => string): string =>
    [0, 1, 2, 3].map((j) => lane(j, fetch)).join(",\n    ");
  if (which === "A") {
    return `function (A) {
  const g = this.thread.x;
  const d = this.thread.y;
  return [
    ${lanes((n) => `A[d][${n}]`)}
  ];
}`;
  }
  return `function (M) {
  const g = this.thread.x;
  const t = this.thread.y;
  const bg = this.thread.z;
  return [
    ${lanes((n) => `M[bg][${n}][t]`)}
  ];
}`;
}

/** The state at sequence position `index` of an expanded or chunk-summary tensor: [n, b·d]. */
export function lastStateSource(index: number): string {
  checkArg("lastStateSource", "index", index, schema.integer({ min: 0, max: MAX_ELEMENTS }));
  return `function (H) {
  return H[this.thread.y][${index}][this.thread.x];
}`;
}

/**
 * The launches of one scan, in order, with their traffic (see {@link KernelLaunch}):
 * - naive: Δ; exp(ΔA) and ΔBu for all (b, d, l, n); ⌈log2 l⌉ Hillis-Steele rounds over l
 *   (two kernels each, the last needs only the b part); output; last state.
 * - chunked (chunk T): Δ; chunk summaries (S_c, P_c) for (b, d, l/T, n); Hillis-Steele over the
 *   l/T chunks; with `packed` (the GL backends), A, B and C packed four states per texel; the
 *   output kernel, which replays each chunk's prefix; last state.
 */
export function scanLaunchPlan(
  dims: ScanDims,
  variant: "naive" | "chunked",
  T: number,
  packed = false,
): KernelLaunch[] {
  const fn = "scanLaunchPlan";
  checkScanDims(fn, dims);
  checkArg(fn, "variant", variant, schema.oneOf(["naive", "chunked"] as const));
  if (variant === "chunked") checkChunkSize(fn, T);
  checkArg(fn, "packed", packed, schema.boolean());
  const { batch, dim, length: L, dstate: N } = dims;
  const BD = batch * dim;
  const launches: KernelLaunch[] = [];
  const add = (
    kernel: ScanKernelName,
    threads: number,
    valuesRead: number,
    offset: number | null = null,
  ) => launches.push({ kernel, offset, threads, valuesWritten: threads, valuesRead });
  add("delta", BD * L, 2 * BD * L);
  const passes = (len: number): void => {
    for (let s = 1; s < len; s *= 2) {
      // threads with i >= s load three values, the others one
      add("pass-input", BD * N * len, BD * N * (3 * (len - s) + s), s);
      if (2 * s < len) add("pass-decay", BD * N * len, BD * N * (2 * (len - s) + s), s);
    }
  };
  const outputExtra = 1 + 1 + (dims.hasZ ? 1 : 0); // u, D, z
  if (variant === "naive") {
    add("expand-decay", BD * L * N, 2 * BD * L * N);
    add("expand-input", BD * L * N, 3 * BD * L * N);
    passes(L);
    add("naive-output", BD * L, BD * L * (2 * N + outputExtra));
  } else {
    const C = Math.ceil(L / T);
    add("chunk-input", BD * C * N, BD * N * (3 * L + C));
    add("chunk-decay", BD * C * N, BD * N * (L + C));
    passes(C);
    // thread at position k of chunk c replays k + 1 steps (Δ, u and n values of B each), loads
    // the n carried states (c > 0), n values of A and of C, and u, D, z.
    let reads = 0;
    for (let c = 0; c < C; c++) {
      const len = Math.min(T, L - c * T);
      const replay = (len * (len + 1)) / 2;
      reads += replay * (N + 2) + len * ((c > 0 ? N : 0) + 2 * N + outputExtra);
    }
    if (packed) {
      const G = Math.ceil(N / 4);
      const BGL = batch * dims.groups * L;
      add("pack-a", dim * G * 4, dim * G * 4);
      add("pack-b", BGL * G * 4, BGL * G * 4);
      add("pack-c", BGL * G * 4, BGL * G * 4);
    }
    // (packed or not, the output kernel loads the same values; packed, four per fetch)
    add("chunked-output", BD * L, BD * reads);
  }
  add("last-state", BD * N, BD * N);
  return launches;
}

/** Totals of a plan, in bytes (float32 = 4 bytes). */
export interface ScanTraffic {
  launches: number;
  bytesWritten: number;
  bytesRead: number;
  /** The largest tensor the variant writes to (GPU) memory. */
  largestIntermediateBytes: number;
}

/** Sums a plan's traffic. */
export function summarizeTraffic(plan: KernelLaunch[]): ScanTraffic {
  checkPlan("summarizeTraffic", plan);
  let w = 0;
  let r = 0;
  let largest = 0;
  for (const l of plan) {
    w += l.valuesWritten;
    r += l.valuesRead;
    if (l.kernel !== "naive-output" && l.kernel !== "chunked-output" && l.kernel !== "last-state") {
      largest = Math.max(largest, l.valuesWritten);
    }
  }
  return {
    launches: plan.length,
    bytesWritten: 4 * w,
    bytesRead: 4 * r,
    largestIntermediateBytes: 4 * largest,
  };
}

/** A plan's launches grouped by kernel: how often each runs and its total bytes. */
export function trafficByKernel(
  plan: KernelLaunch[],
): { kernel: ScanKernelName; launches: number; bytesWritten: number; bytesRead: number }[] {
  checkPlan("trafficByKernel", plan);
  const rows = new Map<
    ScanKernelName,
    { kernel: ScanKernelName; launches: number; bytesWritten: number; bytesRead: number }
  >();
  for (const l of plan) {
    const row = rows.get(l.kernel) ?? {
      kernel: l.kernel,
      launches: 0,
      bytesWritten: 0,
      bytesRead: 0,
    };
    row.launches++;
    row.bytesWritten += 4 * l.valuesWritten;
    row.bytesRead += 4 * l.valuesRead;
    rows.set(l.kernel, row);
  }
  return [...rows.values()];
}

// Checks of the generators' arguments. The sources unroll the n states into lines and write the
// sizes in as literals, so every size is capped: a stray 1e9 must not build a gigabyte string.

/** Largest state size n the gpu.js kernels are generated for (Mamba uses 16). */
export const MAX_GPU_DSTATE = 256;

/** Largest chunk T of the chunked gpu.js scan (a thread replays up to T positions). */
export const MAX_GPU_CHUNK = 4096;

/** The scan variants, as the gpu.js scans' `options.variant` takes them. */
export const GPU_SCAN_VARIANT = schema.oneOf(["naive", "chunked"] as const);

/** The chunked scan's `options.chunkSize`. */
export const GPU_CHUNK_SIZE = schema.integer({ min: 1, max: MAX_GPU_CHUNK });

const SIZE = schema.integer({ min: 1, max: MAX_ELEMENTS });

const SCAN_DIMS = schema.options(
  {
    batch: SIZE,
    dim: SIZE,
    length: SIZE,
    dstate: schema.integer({ min: 1, max: MAX_GPU_DSTATE }),
    groups: SIZE,
    softplus: schema.boolean(),
    hasZ: schema.boolean(),
  },
  "scan sizes",
);

/** Checks a {@link ScanDims}: positive integer sizes (n <= {@link MAX_GPU_DSTATE}), flags. */
export function checkScanDims(fn: string, dims: unknown): ScanDims {
  const d = checkOptions(fn, "dims", dims, SCAN_DIMS) as ScanDims;
  if (d.dim % d.groups !== 0) {
    throw argumentError(fn, "dims.groups", `a divisor of dims.dim = ${d.dim} (got ${d.groups})`);
  }
  return d;
}

function checkChunkSize(fn: string, T: unknown): void {
  checkArg(fn, "T", T, schema.integer({ min: 1, max: MAX_GPU_CHUNK }));
}

const KERNEL_NAMES: readonly ScanKernelName[] = [
  "delta",
  "expand-decay",
  "expand-input",
  "pass-input",
  "pass-decay",
  "naive-output",
  "chunk-input",
  "chunk-decay",
  "chunked-output",
  "pack-a",
  "pack-b",
  "pack-c",
  "last-state",
];

const COUNT = schema.number({ min: 0 });

const LAUNCH = schema.options(
  {
    kernel: schema.oneOf(KERNEL_NAMES),
    offset: schema.optional(schema.integer({ min: 1 })),
    threads: COUNT,
    valuesWritten: COUNT,
    valuesRead: COUNT,
  },
  "a kernel launch",
);

function checkPlan(fn: string, plan: unknown): void {
  if (!Array.isArray(plan)) {
    throw argumentError(
      fn,
      "plan",
      `an array of kernel launches from scanLaunchPlan (got ${describe(plan)})`,
    );
  }
  plan.forEach((launch, i) => checkOptions(fn, `plan[${i}]`, launch, LAUNCH));
}
