/**
 * This machine's float32 SIMD peak as the benchmarks mean it: the throughput of WebAssembly
 * f32x4 multiply and add on one core, measured with the kernels' `peak` loop (seven independent
 * multiply chains and seven add chains, enough to hide the latency, so the loop is bound by the
 * issue rate alone: 14 · 4 FLOPs per iteration). Fused multiply-add is not in WebAssembly's
 * fixed-width SIMD, so this is the ceiling any of the simd backend's kernels could reach on one core.
 */
import { SimdMemory } from "./memory";

/** Measured GFLOP/s of one core (best of `repeats` runs of about `seconds` each). */
export function measureSimdPeakGflops(seconds = 0.2, repeats = 3): number {
  const k = new SimdMemory();
  let iters = 1 << 16;
  // calibrate: grow the loop until one run takes about `seconds`
  for (;;) {
    const t0 = performance.now();
    k.peak(iters);
    const s = (performance.now() - t0) / 1000;
    if (s > seconds / 4 || iters > 1 << 30) break;
    iters *= 2;
  }
  let best = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    k.peak(iters);
    const s = (performance.now() - t0) / 1000;
    best = Math.max(best, (iters * 14 * 4) / s / 1e9);
  }
  return best;
}
