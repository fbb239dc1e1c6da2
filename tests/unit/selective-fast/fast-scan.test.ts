/**
 * selectiveScanFast (lib/src/selective-fast/fast-scan.ts), engines wasm and js, against the float64
 * selective-scan reference of tests/helpers/selective-scan.ts within 2e-5 of max |out| (float32
 * arithmetic), over state sizes, lengths, layouts and extreme Δ; the result independent of the tile
 * size and of earlier calls; argument errors.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type SelectiveScanArgs,
  type Tensor,
  selectiveScan,
  selectiveScanFast,
  wasmSimdSupported,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";
import { referenceScan } from "../../helpers/selective-scan";

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
      const want = referenceScan(args);
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
