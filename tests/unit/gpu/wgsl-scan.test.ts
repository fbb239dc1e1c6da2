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
import {
  planBackward,
  wgslBackwardSource,
  wgslGradientLayout,
  wgslSumsSource,
} from "../../../lib/src/gpu/wgsl-scan-kernels";

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
    expect(() => createWgslScan({ shuffles: 1 } as object)).toThrow(
      /createWgslScan: argument 'options.shuffles' must be/,
    );
    expect(() => createWgslScan({ chunks: 8 } as object)).toThrow(
      /createWgslScan: argument 'options' .*chunks/,
    );
  });
});

describe("the WGSL backward's plan, layout and shader (wgsl-scan-kernels.ts)", () => {
  /**
   * Workgroup memory of a backward plan, counted here: Δ, u, g_o (channel rows); B, C (n rows);
   * the lanes' shares of o, ∂u, ∂Δ; ∂B and ∂C (2 n rows) for each subgroup's shuffled channels.
   */
  const bwdBytes = (ch: number, n: number, lanes: number, chunk: number, shuffled: number) =>
    4 * (chunk + 1) * (3 * ch + 2 * n + 3 * lanes * ch + (ch / shuffled) * 2 * n);

  it("keeps the chunk, fits channels to the memory, and shuffles over the channels a subgroup holds", () => {
    // subgroups of 32 invocations: 8 channels × 4 lanes, so 32 channels leave 4 rows of ∂B, ∂C
    const asked = { channels: 32, lanes: 4, chunk: 16 };
    const p = planBackward("f", dims(), asked, 49152, 32);
    expect(p).toMatchObject({ channels: 32, lanes: 4, chunk: 16, subgroupSize: 32, shuffled: 8 });
    expect(p.workgroupBytes).toBe(bwdBytes(32, 16, 4, 16, 8));
    expect(p.workgroups).toEqual([(8 * 2048) / 32, 1]);
    // without subgroups (or without shuffles asked for), a row per channel: 32 and 16 channels
    // need more than 48 KiB, 8 fit
    expect(bwdBytes(16, 16, 4, 16, 1)).toBeGreaterThan(49152);
    const q = planBackward("f", dims(), asked, 49152, 0);
    expect(q).toMatchObject({ channels: 8, subgroupSize: 0, shuffled: 1 });
    expect(q.workgroupBytes).toBe(bwdBytes(8, 16, 4, 16, 1));
    expect(planBackward("f", dims(), { ...asked, shuffles: false }, 49152, 32)).toEqual(q);
    // the shuffled channels: the largest power of two dividing the channels within a subgroup
    const shuffled = (channels: number, lanes: number, subgroup: number) =>
      planBackward("f", dims({ dim: 48 * 64 }), { channels, lanes, chunk: 8 }, 1 << 20, subgroup)
        .shuffled;
    expect(shuffled(24, 4, 32)).toBe(8);
    expect(shuffled(12, 4, 32)).toBe(4);
    expect(shuffled(3, 4, 32)).toBe(1);
    expect(shuffled(64, 1, 32)).toBe(32);
    expect(shuffled(16, 8, 4)).toBe(1);
    expect(shuffled(16, 2, 4)).toBe(2);
    expect(() =>
      planBackward("f", dims({ dstate: 64 }), { channels: 32, lanes: 1, chunk: 64 }, 16384, 0),
    ).toThrow("f: the backward's chunk of 64 positions with dstate 64 needs");
  });

  it("lays out the gradients and the workgroups' sums one after another, read-back first", () => {
    const d = dims({ batch: 2, dim: 12, length: 7, dstate: 3, groups: 2 });
    const at = wgslGradientLayout(d, 3);
    const bdl = 2 * 12 * 7;
    // regions in order, each its gradient's size
    const sizes: [keyof typeof at, number][] = [
      ["du", bdl],
      ["ddelta", bdl],
      ["dz", bdl],
      ["dBC", 2 * 2 * 2 * 3 * 7],
      ["dA", 12 * 3],
      ["dDB", 2 * 12],
      ["sumBC", 2 * 2 * (12 / 3) * 3 * 7],
      ["sumA", 2 * 12 * 3],
      ["sumDB", 2 * 2 * 12],
    ];
    let next = 0;
    for (const [k, size] of sizes) {
      expect(at[k], k).toBe(next);
      next += size;
    }
    expect(at.total).toBe(next);
    expect(at.results).toBe(at.sumBC);
    // without z, no ∂z region
    expect(wgslGradientLayout({ ...d, hasZ: false }, 3).dBC).toBe(2 * bdl);
  });

  it("binds at most 10 storage buffers and walks every chunk in reverse, its sums without a barrier", () => {
    const small = dims({ batch: 1, dim: 4, length: 8, dstate: 4 });
    // subgroups of 4: the 2 channels × 2 lanes of a workgroup share one
    const p = planBackward("f", small, { channels: 2, lanes: 2, chunk: 4 }, 1 << 20, 4);
    expect(p.shuffled).toBe(2);
    const code = wgslBackwardSource(small, p);
    expect(code.match(/var<storage/g)?.length).toBe(10);
    expect(wgslBackwardSource({ ...small, hasZ: false }, p).match(/var<storage/g)?.length).toBe(9);
    // the chunks from last to first, two states a lane recomputed at each of the 4 positions
    expect(code).toContain("let c = 1u - cc;");
    expect(code.match(/x\d_\d = exp2\(dt \* a\d\)/g)?.length).toBe(4 * 2);
    // barriers: chunk loaded, walk done, chunk written, and the final sums; none in the walk
    expect(code.match(/workgroupBarrier\(\)/g)?.length).toBe(4);
    // a lane's ∂B, ∂C (4 values) halved in one step: 2 shuffles a position, two values written
    expect(code).toContain("enable subgroups;");
    expect(code.match(/subgroupShuffleXor\(/g)?.length).toBe(4 * 2);
    expect(code.match(/sR\[at\d \+ \du\] =/g)?.length).toBe(4 * 2);
    // 16 channels × 4 lanes in subgroups of 32 (n = 16): 8 values, halved 3 times (4 + 2 + 1)
    const wide = dims({ batch: 1, dim: 16, length: 8, dstate: 16 });
    const w = planBackward("f", wide, { channels: 16, lanes: 4, chunk: 8 }, 1 << 20, 32);
    expect(wgslBackwardSource(wide, w).match(/subgroupShuffleXor\(/g)?.length).toBe(8 * 7);
    // without subgroups: no shuffles, the 4 values of each lane written
    const none = wgslBackwardSource(small, planBackward("f", small, p, 1 << 20, 0));
    expect(none).not.toMatch(/enable subgroups|subgroupShuffleXor/);
    expect(none.match(/sR\[at\d \+ \du\] =/g)?.length).toBe(4 * 4);
    // the sums kernel adds 2 channel blocks a group for ∂B, ∂C and the batch for the rest
    expect(wgslSumsSource(small, 2)).toContain("for (var k = 0u; k < 2u; k++)");
  });
});
