/**
 * What this machine can do at best for a selective scan, measured: how many exponentials per
 * second one core evaluates (with the fast scan's own SIMD exp, on data in cache) and how many
 * bytes per second it streams from memory. A scan of size (b, d, l, n) needs b·d·l·n exps and must
 * at least read u, Δ, z and B, C and write out once; the larger of the two times is a lower bound
 * for a one-core scan.
 */
import { assertInteger, assertPositive, checkArg, checkOptions, schema } from "../validate";
import { bestOfSeconds as bestOf } from "../timing";
import { ensureMemory, instantiateFastScanKernels } from "./fast-scan";

/**
 * Exponentials per second on one core, using the fast scan's SIMD exp over 16 KiB of inputs (in
 * L1 cache) again and again; best of `repeats` runs of about `exps` each.
 */
export function measureExpThroughput(options: { exps?: number; repeats?: number } = {}): number {
  const fn = "measureExpThroughput";
  const total = assertInteger(`${fn}: options.exps`, options.exps ?? 2 ** 25, 4096);
  const repeats = assertInteger(`${fn}: options.repeats`, options.repeats ?? 5, 1);
  const rt = instantiateFastScanKernels(1);
  const n4 = 1024; // 4096 values
  const pX = 64;
  const pY = pX + 16 * n4;
  ensureMemory(rt, pY + 16 * n4);
  const mem = new Float32Array(rt.memory.buffer);
  for (let i = 0; i < 4 * n4; i++) mem[pX / 4 + i] = -10 * ((i * 0.618034) % 1); // Δ·A-like arguments
  const calls = Math.max(1, Math.round(total / (4 * n4)));
  rt.expLoop(n4, pX, pY); // warm up (compile tier)
  const seconds = bestOf(repeats, () => {
    for (let c = 0; c < calls; c++) rt.expLoop(n4, pX, pY);
  });
  return (calls * 4 * n4) / seconds;
}

/**
 * Streaming read bandwidth of one core in bytes per second: sums a buffer of `bytes` (far larger
 * than the caches) with SIMD loads; best of `repeats`.
 */
export function measureMemoryBandwidth(options: { bytes?: number; repeats?: number } = {}): number {
  const fn = "measureMemoryBandwidth";
  const bytes = assertInteger(`${fn}: options.bytes`, options.bytes ?? 2 ** 27, 1 << 16);
  const repeats = assertInteger(`${fn}: options.repeats`, options.repeats ?? 5, 1);
  const rt = instantiateFastScanKernels(1);
  const len = Math.floor(bytes / 64) * 64;
  ensureMemory(rt, 64 + len);
  const mem = new Float32Array(rt.memory.buffer);
  mem.fill(1, 16, 16 + len / 4); // touch every page
  rt.sumLoop(len / 16, 64, 0);
  const seconds = bestOf(repeats, () => rt.sumLoop(len / 16, 64, 0));
  return len / seconds;
}

/** The measured limits of this machine (see the module comment). */
export interface MachineLimits {
  /** Exponentials per second (one core, SIMD). */
  expsPerSecond: number;
  /** Streaming read bytes per second (one core). */
  bytesPerSecond: number;
}

/** Measures both limits (takes about a second). */
export function measureMachineLimits(): MachineLimits {
  return { expsPerSecond: measureExpThroughput(), bytesPerSecond: measureMemoryBandwidth() };
}

/**
 * The lower bound of a one-core selective scan of size (b, d, l, n) with a gate z: b·d·l·n exps,
 * and 4 bytes for each value of u, Δ, z, B, C read and of out written.
 */
const LIMITS = schema.options(
  { expsPerSecond: schema.positive(), bytesPerSecond: schema.positive() },
  "MachineLimits",
);

export function selectiveScanLowerBound(
  size: { batch: number; dim: number; length: number; dstate: number },
  limits: MachineLimits,
): { exps: number; bytes: number; expSeconds: number; memorySeconds: number; seconds: number } {
  const fn = "selectiveScanLowerBound";
  checkArg(fn, "size", size, schema.object());
  checkOptions(fn, "limits", limits, LIMITS);
  const b = assertInteger(`${fn}: size.batch`, size.batch, 1);
  const d = assertInteger(`${fn}: size.dim`, size.dim, 1);
  const l = assertInteger(`${fn}: size.length`, size.length, 1);
  const n = assertInteger(`${fn}: size.dstate`, size.dstate, 1);
  assertPositive(`${fn}: limits.expsPerSecond`, limits.expsPerSecond);
  assertPositive(`${fn}: limits.bytesPerSecond`, limits.bytesPerSecond);
  const exps = b * d * l * n;
  const bytes = 4 * (4 * b * d * l + 2 * b * n * l);
  const expSeconds = exps / limits.expsPerSecond;
  const memorySeconds = bytes / limits.bytesPerSecond;
  return { exps, bytes, expSeconds, memorySeconds, seconds: Math.max(expSeconds, memorySeconds) };
}
