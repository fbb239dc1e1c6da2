/**
 * The hand-written WGSL scan's planning and options, without a GPU. Its numbers (every tiling
 * against lib's float64 scan) are tested on WebGPU in headless Chromium, in
 * tests/integration/gpu-scan-async.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  type ScanDims,
  createWgslScan,
  planWgslScan,
  wgslScanSource,
} from "../../../lib/src/index";

const dims = (over: Partial<ScanDims> = {}): ScanDims => ({
  batch: 8,
  dim: 2048,
  length: 4096,
  dstate: 16,
  groups: 1,
  softplus: true,
  hasZ: true,
  ...over,
});
const asked = { channels: 32, lanes: 4, chunk: 32 };
/** Workgroup memory of a plan, counted here: Δ, Δu (channels rows), B, C (n rows), lanes' shares. */
const bytes = (ch: number, n: number, lanes: number, chunk: number) =>
  4 * (chunk + 1) * (2 * ch + 2 * n + lanes * ch);

describe("planWgslScan", () => {
  it("keeps the tiling asked for where the size and the device allow it", () => {
    const p = planWgslScan(dims(), asked, 49152);
    expect(p).toEqual({
      ...asked,
      workgroups: [(8 * 2048) / 32, 1],
      workgroupBytes: bytes(32, 16, 4, 32),
    });
  });

  it("fits channels to the channels per group of B and C, lanes to dstate", () => {
    // 24 channels per group: 32 -> 24; dstate 6: 4 lanes -> 2
    const p = planWgslScan(dims({ dim: 48, groups: 2, dstate: 6 }), asked, 49152);
    expect([p.channels, p.lanes]).toEqual([24, 2]);
    expect(48 % p.channels).toBe(0);
    // dstate 5: one lane; 3 channels in all
    const q = planWgslScan(dims({ dim: 3, dstate: 5 }), asked, 49152);
    expect([q.channels, q.lanes]).toEqual([3, 1]);
  });

  it("takes fewer channels when the workgroup memory or the invocations would exceed the limits", () => {
    // 16 KiB, WebGPU's default: 32 channels need 29,568 bytes
    const p = planWgslScan(dims(), asked, 16384);
    // 132 · (6 ch + 32) bytes fit 16 KiB up to 15 channels: the largest divisor of 2048 is 8
    expect(p.channels).toBe(8);
    expect(p.workgroupBytes).toBeLessThanOrEqual(16384);
    expect(bytes(16, 16, 4, 32)).toBeGreaterThan(16384);
    // 8 lanes of 64 channels would be 512 invocations: at most 256
    const q = planWgslScan(dims(), { channels: 64, lanes: 8, chunk: 32 }, 1 << 20);
    expect(q.channels * q.lanes).toBe(256);
  });

  it("spreads more than 65,535 workgroups over y", () => {
    const p = planWgslScan(dims({ batch: 64, dim: 32768 }), { ...asked, channels: 16 }, 49152);
    const blocks = (64 * 32768) / 16;
    expect(p.workgroups[0]).toBe(65535);
    expect(p.workgroups[0] * p.workgroups[1]).toBeGreaterThanOrEqual(blocks);
    expect(p.workgroups[0] * (p.workgroups[1] - 1)).toBeLessThan(blocks);
  });

  it("says which option to change when even one channel does not fit", () => {
    expect(() => planWgslScan(dims({ dstate: 256 }), { ...asked, chunk: 64 }, 16384)).toThrow(
      "planWgslScan: a chunk of 64 positions with dstate 256 needs",
    );
  });
});

describe("wgslScanSource", () => {
  it("writes the planned tiling into the shader: workgroup size, tiles, one state per lane line", () => {
    const small = dims({ batch: 1, dim: 2, length: 8, dstate: 4 });
    const code = wgslScanSource(small, { channels: 2, lanes: 2, chunk: 4 });
    // 2 channels × 2 lanes; Δ tile (2 channels, 4 + 1 padded positions); 2 states per lane
    expect(code).toContain("@compute @workgroup_size(4)");
    expect(code).toContain("var<workgroup> sDt: array<f32, 10>;");
    expect(code).toContain("var<workgroup> sB: array<f32, 20>;");
    expect(code.match(/h\d = exp2\(dt \* a\d\)/g)).toEqual([
      "h0 = exp2(dt * a0)",
      "h1 = exp2(dt * a1)",
    ]);
    expect(code.match(/workgroupBarrier\(\)/g)?.length).toBe(2);
    // without z there is no z binding and no gate
    const plain = wgslScanSource({ ...small, hasZ: false }, { channels: 2, lanes: 2, chunk: 4 });
    expect(plain).not.toContain("var<storage, read> z");
    expect(plain).not.toContain("exp(-cz");
  });
});

describe("createWgslScan: bad options", () => {
  it("names the function and the option", () => {
    expect(() => createWgslScan({ lanes: 3 })).toThrow(
      "createWgslScan: option 'lanes' must be 1, 2, 4 or 8 (got 3)",
    );
    expect(() => createWgslScan({ lanes: 4, chunk: 6 })).toThrow(
      "createWgslScan: option 'lanes' must divide option 'chunk' (got lanes 4, chunk 6)",
    );
    expect(() => createWgslScan({ channels: 0 })).toThrow(
      /createWgslScan: argument 'options.channels' must be/,
    );
    expect(() => createWgslScan({ chunks: 8 } as object)).toThrow(
      /createWgslScan: argument 'options' .*chunks/,
    );
  });
});
