import { describe, expect, it } from "vitest";
import {
  Rng,
  type SelectiveScanArgs,
  type Tensor,
  measureExpThroughput,
  measureMemoryBandwidth,
  randomSelectiveScanArgs,
  selectiveScan,
  selectiveScanFast,
  selectiveScanLowerBound,
  wasmSimdSupported,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";
import {
  ensureMemory,
  instantiateFastScanKernels,
} from "../../../lib/src/selective-fast/fast-scan";

/**
 * Independent float64 reference, written from the equations of Mamba's selective_scan_ref:
 * Δ = softplus(delta + bias) (PyTorch's softplus: identity above 20), deltaA = exp(Δ A) and
 * deltaB_u = Δ B u materialised for all (b, d, l, n), then the loop over l and the contraction.
 */
function reference(args: SelectiveScanArgs): { out: Float64Array; last: Float64Array } {
  const [Bn, Dn, L] = args.u.shape;
  const N = args.A.shape[1];
  const groups = args.B.shape.length === 4 ? args.B.shape[1] : 1;
  const bc = (t: Tensor, b: number, d: number, n: number, l: number): number =>
    t.data[((b * groups + Math.floor(d / (Dn / groups))) * N + n) * L + l];
  const dA = new Float64Array(Bn * Dn * L * N);
  const dBu = new Float64Array(Bn * Dn * L * N);
  for (let b = 0; b < Bn; b++)
    for (let d = 0; d < Dn; d++)
      for (let l = 0; l < L; l++) {
        const i = (b * Dn + d) * L + l;
        let dt = args.delta.data[i] + (args.deltaBias ? args.deltaBias.data[d] : 0);
        if (args.deltaSoftplus) dt = dt > 20 ? dt : Math.log(1 + Math.exp(dt));
        for (let n = 0; n < N; n++) {
          dA[i * N + n] = Math.exp(dt * args.A.data[d * N + n]);
          dBu[i * N + n] = dt * bc(args.B, b, d, n, l) * args.u.data[i];
        }
      }
  const out = new Float64Array(Bn * Dn * L);
  const last = new Float64Array(Bn * Dn * N);
  for (let b = 0; b < Bn; b++)
    for (let d = 0; d < Dn; d++) {
      const x = new Float64Array(N);
      for (let l = 0; l < L; l++) {
        const i = (b * Dn + d) * L + l;
        let y = 0;
        for (let n = 0; n < N; n++) {
          x[n] = dA[i * N + n] * x[n] + dBu[i * N + n];
          y += x[n] * bc(args.C, b, d, n, l);
        }
        if (args.D) y += args.u.data[i] * args.D.data[d];
        if (args.z) {
          const zz = args.z.data[i];
          y *= zz / (1 + Math.exp(-zz));
        }
        out[i] = y;
      }
      last.set(x, (b * Dn + d) * N);
    }
  return { out, last };
}

interface Case {
  b: number;
  d: number;
  l: number;
  n: number;
  groups?: number;
  dtype?: "float32" | "float64";
  withD?: boolean;
  withZ?: boolean;
  withBias?: boolean;
  softplus?: boolean;
  deltaScale?: number;
  deltaShift?: number;
  aScale?: number;
}

function makeArgs(rng: Rng, c: Case): SelectiveScanArgs {
  const dtype = c.dtype ?? "float32";
  const T = (shape: number[], f: () => number): Tensor => {
    const n = shape.reduce((p, s) => p * s, 1);
    const data = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) data[i] = f();
    return { shape, data };
  };
  const g = c.groups ?? 1;
  const bcShape = g === 1 ? [c.b, c.n, c.l] : [c.b, g, c.n, c.l];
  return {
    u: T([c.b, c.d, c.l], () => rng.normal()),
    delta: T([c.b, c.d, c.l], () => rng.normal() * (c.deltaScale ?? 0.5) + (c.deltaShift ?? -1)),
    A: T([c.d, c.n], () => -Math.exp(rng.normal()) * (c.aScale ?? 1)),
    B: T(bcShape, () => rng.normal()),
    C: T(bcShape, () => rng.normal()),
    D: c.withD === false ? undefined : T([c.d], () => rng.normal()),
    z: c.withZ === false ? undefined : T([c.b, c.d, c.l], () => rng.normal() * 2),
    deltaBias: c.withBias === false ? undefined : T([c.d], () => rng.normal() * 0.2),
    deltaSoftplus: c.softplus ?? true,
    returnLastState: true,
  };
}

// float32 arithmetic, over at most a few hundred steps of a contracting recurrence
const TOL = 2e-5;

const cases: [string, Case][] = [
  ["n = 16, the Mamba default", { b: 2, d: 8, l: 100, n: 16 }],
  ["n = 1", { b: 1, d: 3, l: 40, n: 1 }],
  ["n = 5 (state vectors padded to 8)", { b: 2, d: 5, l: 37, n: 5 }],
  ["n = 17 (five vector groups)", { b: 1, d: 4, l: 64, n: 17 }],
  ["l = 1", { b: 2, d: 3, l: 1, n: 4 }],
  ["l = 3 (not a multiple of four)", { b: 1, d: 2, l: 3, n: 4 }],
  ["long sequence, l = 3000", { b: 1, d: 3, l: 3000, n: 16 }],
  ["float64 inputs", { b: 2, d: 4, l: 50, n: 8, dtype: "float64" }],
  ["no D, no z, no bias", { b: 2, d: 4, l: 30, n: 4, withD: false, withZ: false, withBias: false }],
  [
    "without softplus (positive delta)",
    { b: 1, d: 4, l: 30, n: 4, softplus: false, deltaShift: 1, deltaScale: 0.2 },
  ],
  ["grouped B, C (2 groups)", { b: 2, d: 6, l: 20, n: 8, groups: 2 }],
  [
    "large delta (softplus is the identity above 20)",
    { b: 1, d: 4, l: 20, n: 4, deltaShift: 19, deltaScale: 3, aScale: 0.01 },
  ],
  ["tiny delta (softplus of -25)", { b: 1, d: 4, l: 20, n: 4, deltaShift: -25, deltaScale: 2 }],
  ["strong decay (exp underflows)", { b: 1, d: 4, l: 20, n: 8, aScale: 200 }],
];

describe.each(["wasm", "js"] as const)("selectiveScanFast, engine %s", (engine) => {
  it("has WebAssembly SIMD available on this engine", () => {
    expect(wasmSimdSupported()).toBe(true);
  });

  for (const [label, c] of cases) {
    it(`matches the float64 reference within ${TOL} (relative to max |out|): ${label}`, () => {
      const args = makeArgs(new Rng(1000 + c.l + c.n), c);
      const want = reference(args);
      const got = selectiveScanFast(args, { engine });
      expect(got.engine).toBe(engine === "wasm" ? "wasm-simd" : "js");
      expect(got.out.shape).toEqual([c.b, c.d, c.l]);
      expect(got.out.data).toBeInstanceOf(Float32Array);
      expect(relErr(got.out.data, want.out)).toBeLessThan(TOL);
      expect(got.lastState!.shape).toEqual([c.b, c.d, c.n]);
      expect(relErr(got.lastState!.data, want.last)).toBeLessThan(TOL);
    });
  }

  it("agrees with lib's selectiveScan", () => {
    const args = makeArgs(new Rng(5), { b: 2, d: 6, l: 77, n: 16 });
    const lib = selectiveScan(args);
    const got = selectiveScanFast(args, { engine });
    expect(relErr(got.out.data, lib.out.data)).toBeLessThan(TOL);
    expect(relErr(got.lastState!.data, lib.lastState!.data)).toBeLessThan(TOL);
  });
});

describe("selectiveScanFast details", () => {
  it("gives the same result for every tile size (the tiling only reorders memory traffic)", () => {
    const args = makeArgs(new Rng(6), { b: 1, d: 5, l: 130, n: 8 });
    const base = selectiveScanFast(args).out.data;
    for (const tile of [1, 7, 64, 1000]) {
      expect(Array.from(selectiveScanFast(args, { tile }).out.data)).toEqual(Array.from(base));
    }
  });

  it("does not depend on what an earlier call left in the kernels' memory", () => {
    const big = makeArgs(new Rng(7), { b: 2, d: 9, l: 200, n: 16 });
    const small = makeArgs(new Rng(8), { b: 1, d: 2, l: 5, n: 16 });
    const first = selectiveScanFast(small).out.data.slice();
    selectiveScanFast(big);
    expect(Array.from(selectiveScanFast(small).out.data)).toEqual(Array.from(first));
  });

  it("returns no lastState unless asked", () => {
    const args = { ...makeArgs(new Rng(9), { b: 1, d: 2, l: 5, n: 4 }), returnLastState: false };
    expect(selectiveScanFast(args).lastState).toBeUndefined();
  });

  it("rejects bad input with errors that name the argument", () => {
    const args = makeArgs(new Rng(10), { b: 1, d: 2, l: 5, n: 4 });
    expect(() =>
      selectiveScanFast({ ...args, u: { shape: [1, 3, 5], data: new Float32Array(15) } }),
    ).toThrow(/selectiveScanFast: argument 'delta'/);
    expect(() =>
      selectiveScanFast({ ...args, B: { shape: [2, 4], data: new Float32Array(8) } }),
    ).toThrow(
      /selectiveScanFast: argument 'B' must be an input-dependent tensor \(b, n, l\) or \(b, g, n, l\) \(got \[2, 4\]: the time-invariant layout \(d, n\)/,
    );
    const bad = { ...args, z: { shape: [1, 2, 5], data: new Float32Array(10).fill(NaN) } };
    expect(() => selectiveScanFast(bad)).toThrow(/z/);
    expect(() => selectiveScanFast(args, { engine: "gpu" as never })).toThrow(/engine/);
    expect(() => selectiveScanFast(args, { tile: 0 })).toThrow(/tile/);
    expect(() => selectiveScanFast(args, { threads: 2 } as never)).toThrow(
      /selectiveScanFast: argument 'options' must be an options object \{ engine\?, tile\? \} \(got an unknown key "threads"/,
    );
  });
});

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

describe("randomSelectiveScanArgs", () => {
  it("makes Mamba-like float32 inputs of the requested size that both scans accept", () => {
    const args = randomSelectiveScanArgs(new Rng(3), { batch: 2, dim: 5, length: 7, dstate: 4 });
    expect(args.u.shape).toEqual([2, 5, 7]);
    expect(args.B.shape).toEqual([2, 4, 7]);
    expect(args.A.shape).toEqual([5, 4]);
    expect(Array.from(args.A.data.subarray(0, 4))).toEqual([-1, -2, -3, -4]);
    expect(args.u.data).toBeInstanceOf(Float32Array);
    // softplus(bias) is the initial step size, log-uniform in [0.001, 0.1]
    for (const b of args.deltaBias!.data) {
      const dt = Math.log1p(Math.exp(b));
      expect(dt).toBeGreaterThan(0.001 * (1 - 1e-5));
      expect(dt).toBeLessThan(0.1 * (1 + 1e-5));
    }
    const want = reference(args);
    expect(relErr(selectiveScanFast(args).out.data, want.out)).toBeLessThan(TOL);
    expect(() =>
      randomSelectiveScanArgs(new Rng(1), { batch: 1, dim: 0, length: 1, dstate: 1 }),
    ).toThrow(/size.dim/);
    expect(() =>
      randomSelectiveScanArgs({} as Rng, { batch: 1, dim: 1, length: 1, dstate: 1 }),
    ).toThrow(/rng/);
  });
});
