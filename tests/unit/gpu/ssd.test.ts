/**
 * Mamba-2's chunked SSD on gpu.js (createGpuSsd, gpuSsdChunked), float32, on gpu.js's `cpu` and
 * `webasm` backends and on `headlessgl` where `gl` and an X display exist (`xvfb-run -a`): y and
 * the final state against lib's float64 recurrence `ssdRecurrence` (one position at a time, a
 * different algorithm from the chunked one; itself tested against a recurrence written from the
 * equations in tests/unit/mamba2/ssd.test.ts). WebGPU is covered in
 * tests/integration/gpu-scan-async.test.ts (headless Chromium). The launch plan's load counts
 * are checked against an enumeration of every thread's loop.
 */
import { describe, expect, it } from "vitest";
import {
  type DeviceGpuMode,
  Rng,
  type SsdInputs,
  createGpuSsd,
  gpuBackends,
  gpuSsdChunked,
  gpuSsdTraffic,
  ssdRecurrence,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";

// float32 on the device against float64: max |error| / max(1, max |reference|)
const TOL = 2e-5;

interface Case {
  label: string;
  /** b, l, h, p, g, n */
  size: [number, number, number, number, number, number];
  chunk: number;
  /** The log-decays a = Δ·A are drawn uniform in (−decay, 0]. */
  decay?: number;
}

const cases: Case[] = [
  {
    label: "(2, 37, 4, 5, 2, 6), Q = 8: l not a multiple of Q, two groups, p and n not of 4",
    size: [2, 37, 4, 5, 2, 6],
    chunk: 8,
  },
  { label: "(1, 64, 3, 7, 1, 3), Q = 16: four full chunks", size: [1, 64, 3, 7, 1, 3], chunk: 16 },
  {
    label: "(2, 50, 6, 4, 3, 17), Q = 64: one chunk shorter than Q, three groups",
    size: [2, 50, 6, 4, 3, 17],
    chunk: 64,
  },
  {
    label: "(1, 9, 2, 3, 2, 5), Q = 1: every position a chunk",
    size: [1, 9, 2, 3, 2, 5],
    chunk: 1,
  },
  {
    label: "(1, 100, 3, 2, 3, 4), Q = 32: a group per head, decays up to e^-3 a step",
    size: [1, 100, 3, 2, 3, 4],
    chunk: 32,
    decay: 3,
  },
];

/** Seeded inputs of a size: X, B, C normal, a uniform in (−decay, 0]. */
function caseInputs(c: Case, seed = 0): SsdInputs {
  const [b, l, h, p, g, n] = c.size;
  const rng = new Rng(1000 * seed + l * 31 + n);
  const A = rng.randn([b, l, h]);
  A.data.forEach((_, i) => (A.data[i] = -(c.decay ?? 0.5) * rng.uniform(0, 1)));
  return { X: rng.randn([b, l, h, p]), A, B: rng.randn([b, l, g, n]), C: rng.randn([b, l, g, n]) };
}

const headless = gpuBackends().find((b) => b.backend === "headlessgl")!;
const modes: DeviceGpuMode[] = [
  "cpu",
  "webasm",
  ...(headless.available ? ["headlessgl" as const] : []),
];

describe.each(modes)("gpuSsdChunked on %s", (mode) => {
  it.each(cases)("y and the final state match the float64 recurrence: $label", async (c) => {
    const inputs = caseInputs(c);
    const got = await gpuSsdChunked(inputs, { mode, chunkSize: c.chunk });
    const want = ssdRecurrence(inputs);
    expect(got.backend).toBe(mode);
    expect(got.y.shape).toEqual(want.y.shape);
    expect(got.finalState.shape).toEqual(want.finalState.shape);
    expect(relErr(got.y.data, want.y.data)).toBeLessThan(TOL);
    expect(relErr(got.finalState.data, want.finalState.data)).toBeLessThan(TOL);
  });
});

describe("createGpuSsd: data on the device", () => {
  it("keeps inputs on the device across forwards and recompiles for a new size", async () => {
    const ssd = createGpuSsd({ mode: "cpu", chunkSize: 8 });
    const kept = await ssd.upload(caseInputs(cases[0]));
    try {
      for (const [c, seed] of [
        [cases[0], 1],
        [cases[4], 2],
        [cases[0], 3],
      ] as const) {
        const inputs = caseInputs(c, seed);
        const up = await ssd.upload(inputs);
        const first = await ssd.read(await ssd.forward(up));
        expect(first.finalState).toBeUndefined();
        const second = await ssd.read(await ssd.forward(up, { finalState: true }));
        const want = ssdRecurrence(inputs);
        expect(relErr(first.y.data, want.y.data)).toBeLessThan(TOL);
        expect(relErr(second.y.data, want.y.data)).toBeLessThan(TOL);
        expect(relErr(second.finalState!.data, want.finalState.data)).toBeLessThan(TOL);
        ssd.free(up);
      }
      expect(Object.keys(ssd.sources()).sort()).toEqual([
        "ssd-chunk-carry",
        "ssd-chunk-states",
        "ssd-decays",
        "ssd-final-state",
        "ssd-output",
        "ssd-scores",
      ]);
    } finally {
      ssd.destroy();
    }
    await expect(ssd.forward(kept)).rejects.toThrow(/createGpuSsd: the GpuSsd was destroyed/);
  });

  it("traces every kernel in launch order", async () => {
    const ssd = createGpuSsd({ mode: "cpu", chunkSize: 8, trace: true });
    try {
      const up = await ssd.upload(caseInputs(cases[0]));
      await ssd.forward(up, { finalState: true });
      expect(ssd.takeTrace().map((k) => k.kernel)).toEqual([
        "ssd-decays",
        "ssd-scores",
        "ssd-chunk-states",
        "ssd-chunk-carry",
        "ssd-output",
        "ssd-final-state",
      ]);
      expect(ssd.takeTrace()).toEqual([]);
    } finally {
      ssd.destroy();
    }
  });
});

describe.each(modes)("gpuSsdChunked on %s: segment sums", (mode) => {
  it("sums each decay over its own segment: no cancellation of two large cumulative sums", async () => {
    // one chunk of 256 positions: a = −6 for the first 200, then −0.01. A cumulative sum reaches
    // about −1200 there, where float32 keeps steps of 1.2e-4, so exp(cum_t − cum_s) for the late
    // positions carries errors of about 1e-4 (lesson 13's segsum point): an output kernel written
    // that way failed this check with 2.1e-4 on webasm and headlessgl (float32 arithmetic; gpu.js's
    // cpu backend computes in float64 between its float32 arrays, so there it cannot tell)
    const c: Case = { label: "", size: [1, 256, 2, 3, 1, 4], chunk: 256 };
    const inputs = caseInputs(c);
    const [, l, h] = c.size;
    for (let t = 0; t < l; t++)
      for (let hd = 0; hd < h; hd++) inputs.A.data[t * h + hd] = t < 200 ? -6 : -0.01;
    const got = await gpuSsdChunked(inputs, { mode, chunkSize: c.chunk });
    const want = ssdRecurrence(inputs);
    expect(relErr(got.y.data, want.y.data)).toBeLessThan(TOL);
    expect(relErr(got.finalState.data, want.finalState.data)).toBeLessThan(TOL);
  });
});

describe("createGpuSsd and gpuSsdChunked: bad input", () => {
  const inputs = caseInputs(cases[0]);

  it("rejects bad options with the function and the option named", async () => {
    expect(() => createGpuSsd({ mode: "gpu" as never })).toThrow(
      /^createGpuSsd: argument 'options\.mode' must be one of/,
    );
    expect(() => createGpuSsd({ chunkSize: 0 })).toThrow(
      /^createGpuSsd: argument 'options\.chunkSize' must be an integer in \[1, 256\]/,
    );
    expect(() => createGpuSsd({ chunkSize: 257 })).toThrow(/options\.chunkSize/);
    expect(() => createGpuSsd({ speed: 1 } as never)).toThrow(
      /^createGpuSsd: argument 'options' must be an options object .*unknown key "speed"/,
    );
    await expect(gpuSsdChunked(inputs, { mode: "cpu" } as never)).rejects.toThrow(
      /^gpuSsdChunked: argument 'options\.chunkSize'/,
    );
    const ssd = createGpuSsd({ mode: "cpu" });
    const up = await ssd.upload(inputs);
    await expect(ssd.forward(up, { last: true } as never)).rejects.toThrow(
      /^GpuSsd\.forward: argument 'options'/,
    );
    ssd.destroy();
  });

  it("rejects bad inputs naming the function called and the input", async () => {
    const [b, l, h] = [2, 37, 4];
    const ssd = createGpuSsd({ mode: "cpu" });
    await expect(
      ssd.upload({
        ...inputs,
        A: { shape: [b, l, h + 1], data: new Float64Array(b * l * (h + 1)) },
      }),
    ).rejects.toThrow(
      /^GpuSsd\.upload: argument 'inputs\.A' must be a tensor of shape \[2, 37, 4\]/,
    );
    ssd.destroy();
    const threeGroups = {
      ...inputs,
      B: { shape: [b, l, 3, 6], data: new Float64Array(b * l * 18) },
      C: { shape: [b, l, 3, 6], data: new Float64Array(b * l * 18) },
    };
    await expect(gpuSsdChunked(threeGroups, { mode: "cpu", chunkSize: 8 })).rejects.toThrow(
      /^gpuSsdChunked: argument 'inputs\.B' must be a number of groups g \(axis 2\) that divides the heads h = 4/,
    );
    const nan = { ...inputs, X: { shape: inputs.X.shape, data: inputs.X.data.map(() => NaN) } };
    await expect(gpuSsdChunked(nan, { mode: "cpu", chunkSize: 8 })).rejects.toThrow(
      /^gpuSsdChunked: argument 'inputs\.X'/,
    );
  });
});

describe("gpuSsdTraffic", () => {
  /**
   * The loads of every thread, enumerated from the kernels' loops (one thread at a time, the
   * conditions under which each kernel loads), for sizes small enough to walk.
   */
  function enumerate(size: Case["size"], Q: number): Record<string, [number, number]> {
    const [b, l, H, P, G, N] = size;
    const C = Math.ceil(l / Q);
    const count: Record<string, [number, number]> = {};
    const add = (k: string, loads: number) => {
      const c = (count[k] ??= [0, 0]);
      c[0]++;
      c[1] += loads;
    };
    for (let bi = 0; bi < b; bi++)
      for (let t = 0; t < l; t++)
        for (let hd = 0; hd < H; hd++)
          for (let k = 0; k < 2; k++) {
            const t0 = Math.floor(t / Q) * Q;
            const end = Math.min(t0 + Q, l);
            let loads = 0;
            for (let i = t0; i < t0 + Q; i++) if (k === 0 ? i <= t : i > t && i < end) loads++;
            add("ssd-decays", loads);
          }
    for (let z = 0; z < b * C * G; z++)
      for (let i = 0; i < Q; i++)
        for (let s = 0; s < Q; s++) {
          const c = Math.floor(z / G) % C;
          add("ssd-scores", s <= i && c * Q + i < l ? 2 * N : 0);
        }
    for (let z = 0; z < b * C * H; z++)
      for (let p = 0; p < P * N; p++) {
        const c = Math.floor(z / H) % C;
        add("ssd-chunk-states", 3 * (Math.min(c * Q + Q, l) - c * Q));
      }
    for (let z = 0; z < b * H * C; z++)
      for (let p = 0; p < P * N; p++) add("ssd-chunk-carry", 2 * (z % C));
    for (let row = 0; row < b * l; row++)
      for (let x = 0; x < H * P; x++) {
        const t = row % l;
        add("ssd-output", 3 * (t - Math.floor(t / Q) * Q + 1) + 2 * N + 1);
      }
    for (let x = 0; x < b * H * P * N; x++) add("ssd-final-state", 3);
    return count;
  }

  it("counts every kernel's threads and loads as its loops run", () => {
    for (const [size, Q] of [
      [[2, 37, 4, 5, 2, 6], 8],
      [[1, 64, 3, 7, 1, 3], 16],
      [[1, 9, 2, 3, 2, 5], 1],
    ] as const) {
      const [batch, length, heads, headDim, groups, dstate] = size;
      const { launches } = gpuSsdTraffic(
        { batch, length, heads, headDim, groups, dstate },
        { chunkSize: Q },
      );
      const want = enumerate([...size], Q);
      expect(launches.map((l) => l.kernel).sort()).toEqual(Object.keys(want).sort());
      for (const l of launches) {
        expect([l.threads, l.valuesRead], `${l.kernel} (${size.join(", ")}), Q = ${Q}`).toEqual(
          want[l.kernel],
        );
        expect(l.valuesWritten).toBe(l.threads);
      }
    }
  });

  it("the ideal kernel reads X, A, B, C once and writes y once; nothing of size b·l·h·p·n is written", () => {
    // the benchmark's large size: b = 8, l = 4096, 32 heads of 64, one group, n = 128, Q = 64
    const size = { batch: 8, length: 4096, heads: 32, headDim: 64, dstate: 128 };
    const { traffic, ideal, launches } = gpuSsdTraffic(size, { chunkSize: 64 });
    const x = 8 * 4096 * 32 * 64;
    expect(ideal.bytesWritten).toBe(4 * x);
    expect(ideal.bytesRead).toBe(4 * (x + 8 * 4096 * 32 + 2 * 8 * 4096 * 128));
    expect(launches.find((l) => l.kernel === "ssd-output")!.valuesWritten).toBe(x);
    // the largest intermediate: the chunk states (or entry states), b·h·p·n·l/Q values
    expect(traffic.largestIntermediateBytes).toBe((4 * 8 * 32 * 64 * 128 * 4096) / 64);
    expect(() => gpuSsdTraffic({ ...size, groups: 3 }, { chunkSize: 64 })).toThrow(
      /^gpuSsdTraffic: argument 'size\.groups' must be a number of groups that divides heads = 32/,
    );
  });
});
