/**
 * The fast scan's SIMD exp against Math.exp on [-87, 88] (2.5e-7 relative), and the machine limits
 * of lib/src/selective-fast/limits.ts: positive measured throughputs and the lower bound's
 * arithmetic.
 */
import { describe, expect, it } from "vitest";
import {
  measureExpThroughput,
  measureMemoryBandwidth,
  selectiveScanLowerBound,
} from "../../../lib/src/index";
import {
  ensureMemory,
  instantiateFastScanKernels,
} from "../../../lib/src/selective-fast/fast-scan";

describe("the SIMD exp and the machine limits", () => {
  it("exp is within 2.5e-7 relative of Math.exp on [-87, 88]", () => {
    const rt = instantiateFastScanKernels(1);
    const n = 4096;
    ensureMemory(rt, 64 + 32 * n);
    const mem = new Float32Array(rt.memory.buffer);
    for (let i = 0; i < n; i++) mem[16 + i] = -87 + (175 * i) / (n - 1);
    rt.expLoop(n / 4, 64, 64 + 4 * n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const x = mem[16 + i];
      worst = Math.max(worst, Math.abs(mem[16 + n + i] / Math.exp(x) - 1));
    }
    expect(worst).toBeLessThan(2.5e-7);
  });

  it("measures positive exp throughput and bandwidth, and a consistent lower bound", () => {
    const exps = measureExpThroughput({ exps: 1 << 16, repeats: 1 });
    const bw = measureMemoryBandwidth({ bytes: 1 << 20, repeats: 1 });
    expect(exps).toBeGreaterThan(0);
    expect(bw).toBeGreaterThan(0);
    const bound = selectiveScanLowerBound(
      { batch: 1, dim: 2, length: 3, dstate: 4 },
      { expsPerSecond: 24, bytesPerSecond: 1 },
    );
    expect(bound.exps).toBe(24);
    expect(bound.expSeconds).toBe(1);
    expect(bound.bytes).toBe(4 * (4 * 6 + 2 * 12));
    expect(bound.seconds).toBe(bound.bytes);
    expect(() =>
      selectiveScanLowerBound(
        { batch: 0, dim: 1, length: 1, dstate: 1 },
        { expsPerSecond: 1, bytesPerSecond: 1 },
      ),
    ).toThrow(/size.batch/);
  });
});
