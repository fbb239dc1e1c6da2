import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Rng,
  type GpuBackend,
  type SyncGpuBackend,
  type GpuSelectiveScanner,
  type SelectiveScanArgs,
  type Tensor,
  bestGpuBackend,
  chunkSummaryReference,
  createGpuDecoder,
  createGpuSelectiveScan,
  gpuBackends,
  gpuScanTraffic,
  gpuSelectiveScan,
  idealFusedTraffic,
  runGpuKernel,
  trafficByKernel,
} from "../../../lib/src/index";
import { relErr } from "../../helpers/reference";

/**
 * Independent float64 reference, written from the equations of Mamba's selective_scan_ref:
 * Δ = softplus(delta + bias) (identity above 20), then x ← exp(Δ A) x + Δ B u along l,
 * y = ⟨x, C⟩ + D u, gated by silu(z).
 */
function reference(args: SelectiveScanArgs): { out: Float64Array; last: Float64Array } {
  const [Bn, Dn, L] = args.u.shape;
  const N = args.A.shape[1];
  const groups = args.B.shape.length === 4 ? args.B.shape[1] : 1;
  const at = (t: Tensor, b: number, d: number, n: number, l: number): number =>
    t.data[((b * groups + Math.floor(d / (Dn / groups))) * N + n) * L + l];
  const out = new Float64Array(Bn * Dn * L);
  const last = new Float64Array(Bn * Dn * N);
  for (let b = 0; b < Bn; b++)
    for (let d = 0; d < Dn; d++) {
      const x = new Float64Array(N);
      for (let l = 0; l < L; l++) {
        const i = (b * Dn + d) * L + l;
        let dt = args.delta.data[i] + (args.deltaBias ? args.deltaBias.data[d] : 0);
        if (args.deltaSoftplus) dt = dt > 20 ? dt : Math.log(1 + Math.exp(dt));
        let y = 0;
        for (let n = 0; n < N; n++) {
          x[n] =
            Math.exp(dt * args.A.data[d * N + n]) * x[n] +
            dt * at(args.B, b, d, n, l) * args.u.data[i];
          y += x[n] * at(args.C, b, d, n, l);
        }
        if (args.D) y += args.u.data[i] * args.D.data[d];
        if (args.z) y *= args.z.data[i] / (1 + Math.exp(-args.z.data[i]));
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
  withD?: boolean;
  withZ?: boolean;
  softplus?: boolean;
}

function makeArgs(seed: number, c: Case): SelectiveScanArgs {
  const rng = new Rng(seed);
  const T = (shape: number[], f: () => number): Tensor => {
    const n = shape.reduce((p, s) => p * s, 1);
    return { shape, data: Float32Array.from({ length: n }, f) };
  };
  const g = c.groups ?? 1;
  const bcShape = g === 1 ? [c.b, c.n, c.l] : [c.b, g, c.n, c.l];
  const softplus = c.softplus ?? true;
  return {
    u: T([c.b, c.d, c.l], () => rng.normal()),
    delta: T([c.b, c.d, c.l], () => (softplus ? rng.normal() * 0.5 - 1 : rng.uniform(0.01, 0.3))),
    A: T([c.d, c.n], () => -Math.exp(rng.normal())),
    B: T(bcShape, () => rng.normal()),
    C: T(bcShape, () => rng.normal()),
    D: c.withD === false ? undefined : T([c.d], () => rng.normal()),
    z: c.withZ === false ? undefined : T([c.b, c.d, c.l], () => rng.normal() * 2),
    deltaBias: T([c.d], () => rng.normal() * 0.2),
    deltaSoftplus: softplus,
    returnLastState: true,
  };
}

// float32 on every backend (GLSL highp on headlessgl): max |error| / max(1, max |out|)
const TOL = 5e-5;

const availability = gpuBackends();
const headless = availability.find((b) => b.backend === "headlessgl")!;
if (!headless.available) {
  console.log(`gpu/selective-scan.test: headlessgl tests skipped: ${headless.reason}`);
}
const backends: SyncGpuBackend[] = [
  "cpu",
  "webasm",
  ...(headless.available ? (["headlessgl"] as const) : []),
];

const cases: [string, Case, number][] = [
  ["b = 2, d = 3, l = 37, n = 5 (partial last chunk)", { b: 2, d: 3, l: 37, n: 5 }, 8],
  ["n = 16, l = 64 (four chunks of 16)", { b: 1, d: 4, l: 64, n: 16 }, 16],
  ["l = 1", { b: 2, d: 2, l: 1, n: 4 }, 16],
  ["chunk T = 1", { b: 1, d: 2, l: 9, n: 3 }, 1],
  ["chunk longer than the sequence", { b: 1, d: 2, l: 10, n: 3 }, 32],
  [
    "grouped B, C; no D, no z",
    { b: 2, d: 4, l: 20, n: 4, groups: 2, withD: false, withZ: false },
    4,
  ],
  ["no softplus", { b: 1, d: 3, l: 25, n: 6, softplus: false }, 5],
];

for (const backend of backends) {
  describe(`gpuSelectiveScan on ${backend}`, () => {
    const scanners: Record<string, GpuSelectiveScanner> = {};
    const scanner = (variant: "naive" | "chunked", T: number): GpuSelectiveScanner => {
      const key = `${variant}-${T}`;
      scanners[key] ??= createGpuSelectiveScan({
        mode: backend,
        variant,
        ...(variant === "chunked" ? { chunkSize: T } : {}),
      });
      return scanners[key];
    };
    afterAll(() => {
      for (const s of Object.values(scanners)) s.destroy();
    });

    for (const [label, c, T] of cases) {
      for (const variant of ["naive", "chunked"] as const) {
        it(`${variant} matches the float64 reference within ${TOL}: ${label}`, () => {
          const args = makeArgs(c.l * 31 + c.n, c);
          const want = reference(args);
          const got = scanner(variant, T).run(args);
          expect(got.backend).toBe(backend);
          expect(got.variant).toBe(variant);
          expect(got.out.shape).toEqual([c.b, c.d, c.l]);
          expect(relErr(got.out.data, want.out)).toBeLessThan(TOL);
          expect(got.lastState!.shape).toEqual([c.b, c.d, c.n]);
          expect(relErr(got.lastState!.data, want.last)).toBeLessThan(TOL);
        });
      }
    }

    it("its launches are the plan gpuScanTraffic predicts for this backend", () => {
      const args = makeArgs(9, { b: 1, d: 2, l: 20, n: 6 });
      for (const variant of ["naive", "chunked"] as const) {
        const run = gpuSelectiveScan(args, { mode: backend, variant });
        const plan = gpuScanTraffic(
          { batch: 1, dim: 2, length: 20, dstate: 6 },
          { variant, backend },
        );
        expect(run.launches).toEqual(plan.launches);
        const packs = run.launches.filter((l) => l.kernel.startsWith("pack-")).length;
        expect(packs).toBe(variant === "chunked" && backend === "headlessgl" ? 3 : 0);
      }
    });

    it("the one-shot gpuSelectiveScan gives the scanner's result and names the backend", () => {
      const args = makeArgs(3, { b: 1, d: 2, l: 12, n: 4 });
      const got = gpuSelectiveScan(args, { mode: backend, variant: "chunked", chunkSize: 4 });
      expect(got.backend).toBe(backend);
      expect(relErr(got.out.data, reference(args).out)).toBeLessThan(TOL);
    });

    it("the decoder's steps reproduce the scan's outputs and final state", () => {
      const c = { b: 2, d: 3, l: 12, n: 5 };
      const args = makeArgs(4, c);
      const want = reference(args);
      const dec = createGpuDecoder({
        A: args.A,
        D: args.D,
        deltaBias: args.deltaBias,
        deltaSoftplus: true,
        batch: c.b,
        mode: backend,
      });
      try {
        const col = (t: Tensor, rows: number, L: number, l: number): Tensor => ({
          shape: [c.b, rows],
          data: Float32Array.from({ length: c.b * rows }, (_, i) => t.data[i * L + l]),
        });
        for (let round = 0; round < 2; round++) {
          const got = new Float64Array(c.b * c.d * c.l);
          for (let l = 0; l < c.l; l++) {
            const step = dec.step({
              u: col(args.u, c.d, c.l, l),
              delta: col(args.delta, c.d, c.l, l),
              B: col(args.B, c.n, c.l, l),
              C: col(args.C, c.n, c.l, l),
              z: col(args.z!, c.d, c.l, l),
            });
            expect(step.backend).toBe(backend);
            for (let i = 0; i < c.b * c.d; i++) got[i * c.l + l] = step.out.data[i];
          }
          expect(relErr(got, want.out)).toBeLessThan(TOL);
          expect(relErr(dec.state().data, want.last)).toBeLessThan(TOL);
          dec.reset();
          expect(Math.max(...Array.from(dec.state().data, Math.abs))).toBe(0);
        }
        const first = (t: Tensor, rows: number) => col(t, rows, c.l, 0);
        const wrongRank = {
          u: args.u,
          delta: first(args.delta, c.d),
          B: first(args.B, c.n),
          C: first(args.C, c.n),
        };
        expect(() => dec.step(wrongRank)).toThrow(
          /GpuDecoder.step: argument 'u' must be a tensor with 2 axes \(b, d\)/,
        );
      } finally {
        dec.destroy();
      }
    });

    it("runGpuKernel runs a chunk-summary kernel that matches chunkSummaryReference", () => {
      const rng = new Rng(12);
      const D = 3;
      const L = 11;
      const N = 4;
      const T = 4;
      const m = (r: number, k: number, f: () => number) =>
        Array.from({ length: r }, () => Array.from({ length: k }, f));
      const u = m(D, L, () => rng.normal());
      const delta = m(D, L, () => rng.uniform(0.01, 0.5));
      const A = m(D, N, () => -rng.uniform(0.5, 3));
      const B = m(N, L, () => rng.normal());
      const { output, backend: ran } = runGpuKernel(
        function (
          this: {
            thread: { x: number; y: number; z: number };
            constants: { T: number; L: number };
          },
          u: number[][],
          delta: number[][],
          A: number[][],
          B: number[][],
        ) {
          const n = this.thread.x;
          const c = this.thread.y;
          const d = this.thread.z;
          let s = 0;
          for (let k = 0; k < this.constants.T; k++) {
            const t = c * this.constants.T + k;
            if (t < this.constants.L) {
              s = Math.exp(delta[d][t] * A[d][n]) * s + delta[d][t] * B[n][t] * u[d][t];
            }
          }
          return s;
        } as never,
        {
          output: [N, Math.ceil(L / T), D],
          constants: { T, L },
          loopMaxIterations: T,
          mode: backend,
        },
        u,
        delta,
        A,
        B,
      );
      expect(ran).toBe(backend);
      const want = chunkSummaryReference(u, delta, A, B, T);
      const got = output as Float32Array[][];
      for (let d = 0; d < D; d++)
        for (let c = 0; c < want[d].length; c++)
          for (let n = 0; n < N; n++)
            expect(Math.abs(got[d][c][n] - want[d][c][n])).toBeLessThan(
              1e-5 * (1 + Math.abs(want[d][c][n])),
            );
    });
  });
}

describe("traffic accounting", () => {
  it("counts the naive scan's writes: Δ, two expanded tensors, 2⌈log2 l⌉ - 1 passes, y, last state", () => {
    for (const [b, d, l, n] of [
      [1, 4, 64, 16],
      [2, 3, 37, 5],
    ]) {
      const { launches, traffic } = gpuScanTraffic(
        { batch: b, dim: d, length: l, dstate: n },
        { variant: "naive" },
      );
      const passes = Math.ceil(Math.log2(l));
      const bdl = b * d * l;
      expect(launches.length).toBe(1 + 2 + (2 * passes - 1) + 1 + 1);
      expect(traffic.bytesWritten).toBe(
        4 * (bdl + (2 + 2 * passes - 1) * bdl * n + bdl + b * d * n),
      );
      expect(traffic.largestIntermediateBytes).toBe(4 * bdl * n);
    }
  });

  it("the chunked scan never writes a (b, d, l, n) tensor, and writes far less", () => {
    const size = { batch: 1, dim: 256, length: 1024, dstate: 16 };
    const T = 16;
    const naive = gpuScanTraffic(size, { variant: "naive" }).traffic;
    const chunked = gpuScanTraffic(size, { variant: "chunked", chunkSize: T });
    const chunks = 1024 / T;
    expect(chunked.traffic.largestIntermediateBytes).toBe(4 * 256 * chunks * 16);
    // Δ, S and P per chunk, 2·6 - 1 passes over 64 chunks, y, last state
    const want = 4 * (256 * 1024 + (2 + 11) * 256 * chunks * 16 + 256 * 1024 + 256 * 16);
    expect(chunked.traffic.bytesWritten).toBe(want);
    expect(naive.bytesWritten / chunked.traffic.bytesWritten).toBeGreaterThan(20);
    // the output kernel's reads: position k of a chunk replays k + 1 steps
    const out = chunked.launches.find((x) => x.kernel === "chunked-output")!;
    let perChannel = 0;
    for (let c = 0; c < chunks; c++)
      for (let k = 0; k < T; k++) perChannel += (k + 1) * (16 + 2) + (c > 0 ? 16 : 0) + 2 * 16 + 3;
    expect(out.valuesRead).toBe(256 * perChannel);
  });

  it("idealFusedTraffic reads every input once and writes y once (hand count), about 0.4 GB for a Mamba layer", () => {
    // (b, d, l, n) = (2, 3, 5, 4) with z: u, Δ, z 30 values each, B and C 40 each, A 12, D and bias 3 each
    const small = idealFusedTraffic({ batch: 2, dim: 3, length: 5, dstate: 4 });
    expect(small.bytesRead).toBe(4 * (30 + 30 + 30 + 40 + 40 + 12 + 3 + 3));
    expect(small.bytesWritten).toBe(4 * (30 + 2 * 3 * 4));
    const noZ = idealFusedTraffic(
      { batch: 2, dim: 3, length: 5, dstate: 4, hasZ: false },
      { returnLastState: false },
    );
    expect(noZ.bytesRead).toBe(4 * (30 + 30 + 40 + 40 + 12 + 3 + 3));
    expect(noZ.bytesWritten).toBe(4 * 30);
    const layer = { batch: 8, dim: 1536, length: 2048, dstate: 16 };
    const ideal = idealFusedTraffic(layer);
    const total = ideal.bytesRead + ideal.bytesWritten;
    expect(total / 1e9).toBeGreaterThan(0.39);
    expect(total / 1e9).toBeLessThan(0.42);
    const naive = gpuScanTraffic(layer, { variant: "naive" }).traffic;
    const chunked = gpuScanTraffic(layer, { variant: "chunked", chunkSize: 16 }).traffic;
    // every plan reads at least the inputs and writes at least the output
    for (const plan of [naive, chunked]) {
      expect(plan.bytesRead).toBeGreaterThanOrEqual(ideal.bytesRead);
      expect(plan.bytesWritten).toBeGreaterThanOrEqual(ideal.bytesWritten);
    }
    expect((naive.bytesRead + naive.bytesWritten) / total).toBeGreaterThan(100);
    expect(() => idealFusedTraffic({ ...layer, dstate: 0 })).toThrow(
      /idealFusedTraffic: argument 'size.dstate'/,
    );
  });

  it("trafficByKernel groups the launches and keeps the totals", () => {
    const { launches, traffic } = gpuScanTraffic(
      { batch: 1, dim: 3, length: 40, dstate: 4 },
      { variant: "naive" },
    );
    const rows = trafficByKernel(launches);
    expect(rows.find((r) => r.kernel === "pass-input")!.launches).toBe(6);
    expect(rows.find((r) => r.kernel === "pass-decay")!.launches).toBe(5);
    expect(rows.reduce((s, r) => s + r.bytesWritten, 0)).toBe(traffic.bytesWritten);
    expect(rows.reduce((s, r) => s + r.bytesRead, 0)).toBe(traffic.bytesRead);
  });

  it("gpuScanTraffic agrees with the launches a run reports", () => {
    const args = makeArgs(5, { b: 1, d: 2, l: 20, n: 3 });
    const run = gpuSelectiveScan(args, { mode: "cpu", variant: "chunked", chunkSize: 4 });
    const plan = gpuScanTraffic(
      { batch: 1, dim: 2, length: 20, dstate: 3 },
      { variant: "chunked", chunkSize: 4 },
    );
    expect(run.launches).toEqual(plan.launches);
  });
});

describe("backends and bad input", () => {
  let best: GpuBackend;
  beforeAll(() => {
    best = bestGpuBackend();
  });

  it("lists every backend with a reason, and the best one is available", () => {
    expect(availability.map((b) => b.backend)).toEqual([
      "webgpu",
      "headlessgl",
      "webgl2",
      "webgl",
      "webasm",
      "cpu",
    ]);
    for (const b of availability) expect(b.reason.length).toBeGreaterThan(10);
    expect(availability.find((b) => b.backend === best)!.available).toBe(true);
    expect(availability.find((b) => b.backend === "cpu")!.available).toBe(true);
  });

  it("mode 'gpu' runs on the best backend and says so", () => {
    const args = makeArgs(6, { b: 1, d: 2, l: 8, n: 2 });
    const got = gpuSelectiveScan(args, { mode: "gpu", variant: "chunked", chunkSize: 4 });
    expect(got.backend).toBe(best);
  });

  it("rejects bad options and arguments, naming them", () => {
    const args = makeArgs(7, { b: 1, d: 2, l: 8, n: 2 });
    expect(() => gpuSelectiveScan(args, { mode: "webgpu" as never })).toThrow(/options.mode/);
    expect(() => gpuSelectiveScan(args, { mode: "tpu" as never })).toThrow(/options.mode/);
    expect(() => gpuSelectiveScan(args, { mode: "cpu", variant: "fast" as never })).toThrow(
      /options.variant/,
    );
    expect(() => gpuSelectiveScan(args, { mode: "cpu", variant: "naive", chunkSize: 4 })).toThrow(
      /chunkSize/,
    );
    expect(() => gpuSelectiveScan(args, { mode: "cpu", chunkSize: 0 })).toThrow(/chunkSize/);
    expect(() =>
      gpuSelectiveScan(
        { ...args, B: { shape: [2, 2], data: new Float32Array(4) } },
        { mode: "cpu" },
      ),
    ).toThrow(
      /gpuSelectiveScan: argument 'B' must be an input-dependent tensor \(b, n, l\) or \(b, g, n, l\) \(got \[2, 2\]: the time-invariant layout \(d, n\)/,
    );
    expect(() =>
      gpuSelectiveScan(
        { ...args, A: { shape: [3, 2], data: new Float32Array(6) } },
        { mode: "cpu" },
      ),
    ).toThrow(/gpuSelectiveScan: argument 'A'/);
    expect(() => createGpuDecoder({ A: args.A, batch: 0 })).toThrow(
      /createGpuDecoder: argument 'batch'/,
    );
    expect(() => runGpuKernel((() => 1) as never, { output: [2], loopMaxIterations: 0 })).toThrow(
      /loopMaxIterations/,
    );
    expect(() => chunkSummaryReference([[1, 2]], [[1]], [[1]], [[1, 2]], 1)).toThrow(
      /chunkSummaryReference: argument 'delta'/,
    );
  });
});
