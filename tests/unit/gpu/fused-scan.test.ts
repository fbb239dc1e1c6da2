/**
 * The fused gpu.js selective scan (createFusedGpuScan), forward and backward, on gpu.js's CPU
 * backends: against lib's float64 `selectiveScan` (itself tested against an independent
 * reference in tests/helpers/selective-scan.ts) and lib's float64 CPU backward (`selectiveScanBackward`,
 * tested against finite differences in scan-backward.test.ts). headlessgl runs where `gl` and an
 * X display exist (`xvfb-run -a`); WebGPU is covered in tests/integration/gpu-scan-async.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  Rng,
  type SelectiveScanArgs,
  type Tensor,
  createFusedGpuScan,
  fusedScanTraffic,
  gpuBackends,
  idealFusedTraffic,
  randomSelectiveScanArgs,
  selectiveScan,
} from "../../../lib/src/index";
import {
  selectiveScanBackward,
  selectiveScanForwardTrain,
} from "../../../lib/src/selective/scan-backward";
import { relErr } from "../../helpers/reference";

// float32 on the device against float64: max |error| / max(1, max |reference|)
const TOL = 5e-5;

interface Case {
  label: string;
  size: [number, number, number, number];
  chunk: number;
  superChunk: number;
  groups?: boolean;
  plain?: boolean;
}

const cases: Case[] = [
  {
    label: "(2, 3, 37, 5): l not a multiple of T or 4",
    size: [2, 3, 37, 5],
    chunk: 8,
    superChunk: 2,
  },
  {
    label: "(1, 4, 64, 16): three superchunk levels",
    size: [1, 4, 64, 16],
    chunk: 4,
    superChunk: 4,
  },
  { label: "(2, 2, 50, 4): one superchunk", size: [2, 2, 50, 4], chunk: 16, superChunk: 16 },
  {
    label: "(2, 4, 21, 3): grouped B, C",
    size: [2, 4, 21, 3],
    chunk: 4,
    superChunk: 2,
    groups: true,
  },
  {
    label: "(1, 3, 30, 6): no z, no D, no softplus",
    size: [1, 3, 30, 6],
    chunk: 8,
    superChunk: 3,
    plain: true,
  },
];

function caseArgs(c: Case): SelectiveScanArgs {
  const [batch, dim, length, dstate] = c.size;
  const a = randomSelectiveScanArgs(new Rng(length * 13 + dstate), { batch, dim, length, dstate });
  let args: SelectiveScanArgs = { ...a, returnLastState: true };
  if (c.groups) {
    // (b, n, l) -> (b, 2, n, l): group 1 is group 0 times -0.5
    const two = (t: Tensor): Tensor => {
      const per = dstate * length;
      const data = new Float32Array(2 * batch * per);
      for (let b = 0; b < batch; b++)
        for (let j = 0; j < per; j++) {
          data[2 * b * per + j] = t.data[b * per + j];
          data[(2 * b + 1) * per + j] = -0.5 * t.data[b * per + j];
        }
      return { shape: [batch, 2, dstate, length], data };
    };
    args = { ...args, B: two(a.B), C: two(a.C) };
  }
  if (c.plain) {
    args = {
      u: a.u,
      delta: { shape: a.delta.shape, data: a.delta.data.map((x) => 0.02 + 0.1 * Math.abs(x)) },
      A: a.A,
      B: a.B,
      C: a.C,
      returnLastState: true,
    };
  }
  return args;
}

const headless = gpuBackends().find((b) => b.backend === "headlessgl")!;
const modes: ("cpu" | "headlessgl")[] = [
  "cpu",
  ...(headless.available ? (["headlessgl"] as const) : []),
];

describe.each(modes)("createFusedGpuScan on %s", (mode) => {
  it.each(cases)("forward and backward match lib's float64 scans: $label", async (c) => {
    const args = caseArgs(c);
    const [b, d, l] = c.size;
    const scanner = createFusedGpuScan({ mode, chunkSize: c.chunk, superChunk: c.superChunk });
    try {
      const up = await scanner.upload(args);
      const o = await scanner.forward(up);
      const r = await scanner.read(o);
      const want = selectiveScan(args);
      expect(relErr(r.out.data, want.out.data)).toBeLessThan(TOL);
      expect(relErr(r.lastState!.data, want.lastState!.data)).toBeLessThan(TOL);
      const rng = new Rng(99);
      const dout: Tensor = {
        shape: [b, d, l],
        data: Float32Array.from({ length: b * d * l }, () => rng.normal()),
      };
      const g = await scanner.uploadGradient(up, dout);
      const grads = await scanner.readGradients(up, await scanner.backward(up, o, g));
      const ref = selectiveScanBackward(
        selectiveScanForwardTrain({ ...args, returnLastState: false }).cache,
        dout,
      );
      for (const k of ["du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddeltaBias"] as const) {
        if (ref[k] === undefined) continue;
        expect(grads[k]!.shape, k).toEqual(ref[k]!.shape);
        expect(relErr(grads[k]!.data, ref[k]!.data), `${k} ${c.label}`).toBeLessThan(TOL);
      }
      scanner.free(up, o, g);
    } finally {
      scanner.destroy();
    }
  });
});

describe("createFusedGpuScan: bad input and traffic", () => {
  it("rejects bad options and arguments with the function and argument named", async () => {
    expect(() => createFusedGpuScan({ mode: "cpu", chunkSize: 6 })).toThrow(
      /createFusedGpuScan: argument 'tiling.chunk' must be a multiple of 4/,
    );
    expect(() => createFusedGpuScan({ mode: "gpu" as never })).toThrow(
      /createFusedGpuScan: argument 'options.mode'/,
    );
    expect(() => createFusedGpuScan({ mode: "cpu", bogus: 1 } as never)).toThrow(
      /createFusedGpuScan/,
    );
    const scanner = createFusedGpuScan({ mode: "cpu" });
    const args = randomSelectiveScanArgs(new Rng(1), { batch: 1, dim: 2, length: 8, dstate: 2 });
    await expect(
      scanner.upload({ ...args, u: { shape: [1, 3, 8], data: new Float32Array(24) } }),
    ).rejects.toThrow(/FusedGpuScanner.upload: argument/);
    const up = await scanner.upload(args);
    await expect(
      scanner.uploadGradient(up, { shape: [1, 2, 7], data: new Float32Array(14) }),
    ).rejects.toThrow(
      /FusedGpuScanner.uploadGradient: argument 'dout' must be a float tensor of shape \(1, 2, 8\)/,
    );
    scanner.destroy();
    const webasm = createFusedGpuScan({ mode: "webasm" });
    const up2 = await webasm.upload(args);
    const o2 = await webasm.forward(up2);
    await expect(webasm.backward(up2, o2, null)).rejects.toThrow(
      /does not run on gpu.js's "webasm"/,
    );
    webasm.destroy();
  });

  it("counts traffic: nothing of size (b, d, l, n) is written, and the output is written once", () => {
    const size = { batch: 8, dim: 1536, length: 2048, dstate: 16 };
    const { launches, traffic } = fusedScanTraffic(size, { chunkSize: 16 });
    const bdl = size.batch * size.dim * size.length;
    // the largest intermediate: chunk states (b·d, l/16, n + 1) = bdl · 17/16 values
    expect(traffic.largestIntermediateBytes).toBe(4 * (bdl / 16) * 17);
    expect(launches.find((l) => l.kernel === "fused-output")!.valuesWritten).toBe(bdl);
    // it writes Δ, the chunk states and carries, and y: about 4.2 (b, d, l) tensors, against the
    // ideal kernel's one
    const ideal = idealFusedTraffic(size, { returnLastState: false });
    expect(traffic.bytesWritten / ideal.bytesWritten).toBeGreaterThan(3);
    expect(traffic.bytesWritten / ideal.bytesWritten).toBeLessThan(5);
    expect(() => fusedScanTraffic({ ...size, dstate: 0 })).toThrow(
      /fusedScanTraffic: argument 'size/,
    );
  });
});

describe("randomSelectiveScanArgs", () => {
  it("caps the largest tensor it makes, not b·d·l·n", () => {
    // b·d·l·n = 2^28 is over the cap of 2^27 elements, but no tensor is: u is 2^20 values
    const a = randomSelectiveScanArgs(new Rng(2), {
      batch: 1,
      dim: 1024,
      length: 1024,
      dstate: 256,
    });
    expect(a.u.data.length).toBe(1 << 20);
    expect(() =>
      randomSelectiveScanArgs(new Rng(2), { batch: 3, dim: 8192, length: 8192, dstate: 1 }),
    ).toThrow(
      /randomSelectiveScanArgs: argument 'size' must be a request for at most 134217728 elements per tensor \(got 201326592 in the largest of/,
    );
  });
});
