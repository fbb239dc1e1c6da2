/**
 * What this machine can do at best for a selective scan, measured: how many exponentials per
 * second one core evaluates (with the fast scan's own SIMD exp, on data in cache) and how many
 * bytes per second it streams from memory. A scan of size (b, d, l, n) needs b·d·l·n exps and must
 * at least read u, Δ, z and B, C and write out once; the larger of the two times is a lower bound
 * for a one-core scan.
 */
import { checkOptions, schema } from "../validate";
import { bestOfSecondsRaw } from "../timing-raw";
import { SCAN_SIZE } from "../selective/scan-checks";
import { ensureMemory, instantiateFastScanKernels } from "./fast-scan";

/**
 * Exponentials per second on one core, using the fast scan's SIMD exp over 16 KiB of inputs (in
 * L1 cache) again and again; best of `repeats` runs of about `exps` each.
 */
export function measureExpThroughput(options: { exps?: number; repeats?: number } = {}): number {
  const o = checkOptions("measureExpThroughput", "options", options, EXP_OPTIONS);
  return expThroughputRaw(o.exps ?? 2 ** 25, o.repeats ?? 5);
}

/** measureExpThroughput's measurement for checked sizes (measureMachineLimits runs it too). */
function expThroughputRaw(total: number, repeats: number): number {
  const rt = instantiateFastScanKernels(1);
  const n4 = 1024; // 4096 values
  const pX = 64;
  const pY = pX + 16 * n4;
  ensureMemory(rt, pY + 16 * n4);
  const mem = new Float32Array(rt.memory.buffer);
  for (let i = 0; i < 4 * n4; i++) mem[pX / 4 + i] = -10 * ((i * 0.618034) % 1); // Δ·A-like arguments
  const calls = Math.max(1, Math.round(total / (4 * n4)));
  rt.expLoop(n4, pX, pY); // warm up (compile tier)
  const seconds = bestOfSecondsRaw(repeats, () => {
    for (let c = 0; c < calls; c++) rt.expLoop(n4, pX, pY);
  });
  return (calls * 4 * n4) / seconds;
}

/**
 * Streaming read bandwidth of one core in bytes per second: sums a buffer of `bytes` (far larger
 * than the caches) with SIMD loads; best of `repeats`.
 */
export function measureMemoryBandwidth(options: { bytes?: number; repeats?: number } = {}): number {
  const o = checkOptions("measureMemoryBandwidth", "options", options, BANDWIDTH_OPTIONS);
  return memoryBandwidthRaw(o.bytes ?? 2 ** 27, o.repeats ?? 5);
}

/** measureMemoryBandwidth's measurement for checked sizes (measureMachineLimits runs it too). */
function memoryBandwidthRaw(bytes: number, repeats: number): number {
  const rt = instantiateFastScanKernels(1);
  const len = Math.floor(bytes / 64) * 64;
  ensureMemory(rt, 64 + len);
  const mem = new Float32Array(rt.memory.buffer);
  mem.fill(1, 16, 16 + len / 4); // touch every page
  rt.sumLoop(len / 16, 64, 0);
  const seconds = bestOfSecondsRaw(repeats, () => rt.sumLoop(len / 16, 64, 0));
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
  return {
    expsPerSecond: expThroughputRaw(2 ** 25, 5),
    bytesPerSecond: memoryBandwidthRaw(2 ** 27, 5),
  };
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
  const {
    batch: b,
    dim: d,
    length: l,
    dstate: n,
  } = checkOptions(fn, "size", size, SCAN_SIZE) as {
    batch: number;
    dim: number;
    length: number;
    dstate: number;
  };
  checkOptions(fn, "limits", limits, LIMITS);
  const exps = b * d * l * n;
  const bytes = 4 * (4 * b * d * l + 2 * b * n * l);
  const expSeconds = exps / limits.expsPerSecond;
  const memorySeconds = bytes / limits.bytesPerSecond;
  return { exps, bytes, expSeconds, memorySeconds, seconds: Math.max(expSeconds, memorySeconds) };
}

// At least one pass over 4096 exponentials (64 KiB); at most bestOfSeconds's 1000 repeats.
const EXP_OPTIONS = schema.options({
  exps: schema.optional(schema.integer({ min: 4096 })),
  repeats: schema.optional(schema.integer({ min: 1, max: 1000 })),
});

const BANDWIDTH_OPTIONS = schema.options({
  bytes: schema.optional(schema.integer({ min: 1 << 16 })),
  repeats: schema.optional(schema.integer({ min: 1, max: 1000 })),
});
