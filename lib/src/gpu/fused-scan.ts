/**
 * The fused gpu.js selective scan (forward and backward) with its data kept on the device: the
 * inputs are uploaded once into buffers that gpu.js kernels bind directly, the kernels (see
 * fused-kernels.ts) are chained through gpu.js pipeline results without a read-back, and the
 * results are read back only when asked. Upload, the kernels and read-back are separate calls, so
 * a benchmark can time each; on webgpu, {@link webGpuIdle} waits for the GPU to finish.
 *
 * Backends: "webgpu" keeps everything in WebGPU storage buffers (the inputs are wrapped as gpu.js
 * `WebGPUBufferResult`s, gpu.js's own pipeline type, so every kernel binds them without a copy).
 * The other gpu.js backends run the same kernel sources, for tests and lessons on machines without
 * a GPU: there "upload" builds gpu.js inputs in host memory, which gpu.js copies on every call.
 */
import type { Tensor } from "../tensor";
import { checkArg, checkOptions, schema } from "../validate";
import type { SelectiveScanArgs } from "../selective/scan";
import { type ScanDims, MAX_GPU_DSTATE, deltaKernelSource, summarizeTraffic } from "./scan-kernels";
import {
  type FusedKernelName,
  type FusedTiling,
  adjointChunkStateSource,
  checkFusedTiling,
  chunkCarrySource,
  chunkStateSource,
  fusedCounts,
  fusedLastStateSource,
  fusedLaunchPlan,
  fusedOutputSource,
  gradASource,
  gradBCSource,
  gradOutSource,
  gradsSource,
  gradZSource,
  reduceASource,
  reduceDBiasSource,
  superCarrySource,
  superStateSource,
} from "./fused-kernels";
import { type DeviceGpuMode, DEVICE_GPU_MODES, createDeviceKernels } from "./device-kernels";
import {
  type DeviceScanArgs,
  releaseDeviceScanArgs,
  uploadDeviceScanArgs,
  uploadDeviceScanGradient,
} from "./device-scan-inputs";
import { type WebGpuUpload, WEBGPU_UPLOADS, withDeviceErrorScopes } from "./webgpu";
import { releaseDeviceValue } from "./backends";

/** Options of {@link createFusedGpuScan}. */
export interface FusedGpuScanOptions {
  /** A gpu.js backend or "webgpu" (default "webgpu"). */
  mode?: DeviceGpuMode;
  /** Chunk length T, a multiple of 4 (default 16). */
  chunkSize?: number;
  /** Chunks per superchunk (default 16). */
  superChunk?: number;
  /**
   * Run each forward and backward inside WebGPU error scopes, so a device error rejects instead
   * of leaving zeros (default true; a benchmark checks one run, then times without them).
   */
  errorScopes?: boolean;
  /**
   * Wait for every kernel and record its time (webgpu: until the GPU is idle), for
   * {@link FusedGpuScanner.takeTrace}; slower, for a per-kernel breakdown only (default false).
   */
  trace?: boolean;
  /** webgpu: how inputs are uploaded (see createWebGpuBuffer; default "staged"). */
  upload?: WebGpuUpload;
}

export type { DeviceScanArgs };

/** What the forward pass leaves on the device. */
export interface DeviceScanOutput {
  readonly dims: ScanDims;
  /** y, (b, d, l): four positions per value (Array(4)). */
  readonly out: unknown;
  /** The state after the last position, (b, d, n), when asked for. */
  readonly lastState: unknown | null;
  /** Δ (b·d, l) and the state entering every chunk (b·d, chunks, n): what the backward reuses. */
  readonly delta: unknown;
  readonly chunkStates: unknown;
}

/** Gradients on the device (see {@link FusedGpuScanner.backward}). */
export interface DeviceScanGrads {
  readonly dims: ScanDims;
  /** [∂u, ∂delta, ∂z, g·u] per position (Array(4)). */
  readonly perPosition: unknown;
  readonly dA: unknown;
  /** dB then dC, each (b, g, n, l). */
  readonly dBC: unknown;
  /** dD then dδ-bias, each (d). */
  readonly dDBias: unknown;
}

/** Gradients read back, each the shape of its input (float32). */
export interface FusedScanGrads {
  du: Tensor<Float32Array>;
  ddelta: Tensor<Float32Array>;
  dA: Tensor<Float32Array>;
  dB: Tensor<Float32Array>;
  dC: Tensor<Float32Array>;
  dD?: Tensor<Float32Array>;
  dz?: Tensor<Float32Array>;
  ddeltaBias?: Tensor<Float32Array>;
}

/** A fused scan whose data stays on the device between calls. */
export interface FusedGpuScanner {
  readonly mode: DeviceGpuMode;
  readonly tiling: FusedTiling;
  /**
   * Checks the arguments (as selectiveScan does) and uploads them once; on webgpu the values of
   * u, delta and z are checked on the device, after the upload.
   */
  upload(args: SelectiveScanArgs): Promise<DeviceScanArgs>;
  /**
   * The forward kernels, chained on the device; nothing is read back. On webgpu the next forward
   * (or backward) of this scanner reuses the buffers of the last one: read or use its results
   * first.
   */
  forward(inputs: DeviceScanArgs): Promise<DeviceScanOutput>;
  /** Reads out (b, d, l) (and the last state) back to the host. */
  read(
    output: DeviceScanOutput,
  ): Promise<{ out: Tensor<Float32Array>; lastState?: Tensor<Float32Array> }>;
  /** Uploads dout = ∂loss/∂out, (b, d, l), for {@link backward}. */
  uploadGradient(inputs: DeviceScanArgs, dout: Tensor): Promise<unknown>;
  /**
   * The backward kernels, chained on the device from the forward's chunk-entry states (the
   * states inside each chunk are recomputed); nothing is read back.
   */
  backward(
    inputs: DeviceScanArgs,
    output: DeviceScanOutput,
    dout: unknown,
  ): Promise<DeviceScanGrads>;
  /** Reads the gradients back, each the shape of its input. */
  readGradients(inputs: DeviceScanArgs, grads: DeviceScanGrads): Promise<FusedScanGrads>;
  /** Frees device buffers of an upload, output or gradients (also nested). */
  free(...values: unknown[]): void;
  /** The generated kernel sources of the last size, by kernel name. */
  sources(): Partial<Record<FusedKernelName, string>>;
  /** The kernel times recorded since the last call (option `trace`), in launch order. */
  takeTrace(): { kernel: string; seconds: number }[];
  /** Frees the kernels and the gpu.js instance. */
  destroy(): void;
}

const OPTIONS = schema.options({
  mode: schema.optional(schema.oneOf(DEVICE_GPU_MODES)),
  chunkSize: schema.optional(schema.integer({ min: 4, max: 64 })),
  superChunk: schema.optional(schema.integer({ min: 1, max: 1024 })),
  errorScopes: schema.optional(schema.boolean()),
  trace: schema.optional(schema.boolean()),
  upload: schema.optional(schema.oneOf(WEBGPU_UPLOADS)),
});

/**
 * Creates a fused gpu.js scan (forward and backward, data on the device). Kernels compile on the
 * first call for each problem size. On webgpu, Node needs Dawn: {@link installWebGpu} is called
 * on the first upload.
 */
export function createFusedGpuScan(options: FusedGpuScanOptions = {}): FusedGpuScanner {
  const fn = "createFusedGpuScan";
  const o = checkOptions(fn, "options", options, OPTIONS) as FusedGpuScanOptions;
  const mode = o.mode ?? "webgpu";
  const tiling = checkFusedTiling(fn, { chunk: o.chunkSize ?? 16, superChunk: o.superChunk ?? 16 });
  const dev = createDeviceKernels<FusedKernelName>(fn, "scanner", mode, {
    trace: o.trace,
    upload: o.upload,
  });
  const { webgpu, kernel, call, checkBackend, asScalars, fetch } = dev;
  const scopes = webgpu && o.errorScopes !== false;

  const upload = (args: SelectiveScanArgs): Promise<DeviceScanArgs> =>
    uploadDeviceScanArgs("FusedGpuScanner", dev, args);

  const forward = async (inputs: DeviceScanArgs): Promise<DeviceScanOutput> => {
    const name = "FusedGpuScanner.forward";
    checkArg(name, "inputs", inputs, schema.object());
    await dev.ready();
    const { dims } = inputs;
    dev.forSize(JSON.stringify(dims));
    const { batch, dim, length: L, dstate: N } = dims;
    const BD = batch * dim;
    const T = tiling.chunk;
    const S = tiling.superChunk;
    const { C, SC } = fusedCounts(dims, tiling);
    const v = inputs.values;
    const Dt = await call(kernel("delta", deltaKernelSource(dims), [L, BD], 1), v.delta, v.bias);
    const X = await call(
      kernel("chunk-state", chunkStateSource(dims, tiling), [N + 1, C, BD], T),
      Dt,
      v.u,
      v.A,
      v.B,
    );
    const Q = await call(
      kernel("super-state", superStateSource(dims, tiling), [N + 1, SC, BD], S),
      X,
      v.A,
    );
    const QH = await call(
      kernel("super-carry", superCarrySource(dims, tiling), [N, SC, BD], SC),
      Q,
      v.A,
    );
    releaseDeviceValue(Q);
    const H = await call(
      kernel("chunk-carry", chunkCarrySource(dims, tiling), [N, C, BD], S),
      X,
      QH,
      v.A,
    );
    releaseDeviceValue(X);
    releaseDeviceValue(QH);
    const outK = kernel(
      "fused-output",
      fusedOutputSource(dims, tiling),
      [Math.ceil(L / 4), BD],
      T,
      true,
    );
    const out = dims.hasZ
      ? await call(outK, H, Dt, v.u, v.A, v.B, v.C, v.Dv, v.z)
      : await call(outK, H, Dt, v.u, v.A, v.B, v.C, v.Dv);
    let lastState: unknown = null;
    if (inputs.returnLastState) {
      lastState = await call(
        kernel("fused-last-state", fusedLastStateSource(dims, tiling), [N, BD], T),
        H,
        Dt,
        v.u,
        v.A,
        v.B,
      );
    }
    checkBackend(name);
    return { dims, out, lastState, delta: Dt, chunkStates: H };
  };

  const read = async (
    output: DeviceScanOutput,
  ): Promise<{ out: Tensor<Float32Array>; lastState?: Tensor<Float32Array> }> => {
    const { batch, dim, length: L, dstate: N } = output.dims;
    const BD = batch * dim;
    const Lq = 4 * Math.ceil(L / 4);
    const padded = await fetch(output.out, BD * Lq);
    let out = padded;
    if (Lq !== L) {
      out = new Float32Array(BD * L);
      for (let r = 0; r < BD; r++) out.set(padded.subarray(r * Lq, r * Lq + L), r * L);
    }
    const result: { out: Tensor<Float32Array>; lastState?: Tensor<Float32Array> } = {
      out: { shape: [batch, dim, L], data: out },
    };
    if (output.lastState !== null) {
      result.lastState = { shape: [batch, dim, N], data: await fetch(output.lastState, BD * N) };
    }
    return result;
  };

  const uploadGradient = (inputs: DeviceScanArgs, dout: Tensor): Promise<unknown> =>
    uploadDeviceScanGradient("FusedGpuScanner", dev, inputs, dout);

  const backward = async (
    inputs: DeviceScanArgs,
    output: DeviceScanOutput,
    dout: unknown,
  ): Promise<DeviceScanGrads> => {
    const name = "FusedGpuScanner.backward";
    if (mode === "webasm") {
      // gpu.js's WebAssembly backend fails inside its own code on the grads kernel ("memory
      // access out of bounds"); the forward runs there
      throw new Error(
        `${name}: the backward does not run on gpu.js's "webasm" backend; use "cpu", "headlessgl" or "webgpu"`,
      );
    }
    await dev.ready();
    const { dims } = inputs;
    dev.forSize(JSON.stringify(dims));
    const { batch, dim, length: L, dstate: N, groups } = dims;
    const BD = batch * dim;
    const T = tiling.chunk;
    const S = tiling.superChunk;
    const { C, SC } = fusedCounts(dims, tiling);
    const v = inputs.values;
    const Dt = output.delta;
    const H = output.chunkStates;
    const G = await call(
      kernel("grad-out", gradOutSource(dims), [L, BD], 1),
      ...(dims.hasZ ? [dout, v.z] : [dout]),
    );
    const R = await call(
      kernel("adjoint-chunk-state", adjointChunkStateSource(dims, tiling), [N + 1, C, BD], T),
      Dt,
      G,
      v.A,
      v.C,
    );
    const RQ = await call(
      kernel("adjoint-super-state", superStateSource(dims, tiling, true), [N + 1, SC, BD], S),
      R,
      v.A,
    );
    const RQH = await call(
      kernel("adjoint-super-carry", superCarrySource(dims, tiling, true), [N, SC, BD], SC),
      RQ,
      v.A,
    );
    releaseDeviceValue(RQ);
    const E = await call(
      kernel("adjoint-chunk-carry", chunkCarrySource(dims, tiling, true), [N, C, BD], S),
      R,
      RQH,
      v.A,
    );
    releaseDeviceValue(R);
    releaseDeviceValue(RQH);
    let F: unknown = null;
    if (dims.hasZ) {
      F = await call(kernel("grad-z", gradZSource(dims), [L, BD], 1), dout, v.z);
    }
    const gk = kernel("grads", gradsSource(dims, tiling), [L, BD], T, true);
    const perPosition = await call(
      gk,
      H,
      E,
      Dt,
      G,
      v.u,
      v.AD,
      v.B,
      v.C,
      ...(F === null ? [] : [F]),
    );
    releaseDeviceValue(F);
    const GA = await call(
      kernel("grad-A", gradASource(dims, tiling), [N, C, BD], 1),
      H,
      E,
      Dt,
      G,
      v.u,
      v.A,
      v.B,
      v.C,
    );
    const dA = await call(
      kernel("reduce-A", reduceASource(dims, tiling), [N, dim], Math.max(batch, C)),
      GA,
    );
    releaseDeviceValue(GA);
    const scalars = await asScalars(perPosition, L, BD);
    const dDBias = await call(
      kernel("reduce-D-bias", reduceDBiasSource(dims), [dim, 2], Math.max(batch, L)),
      scalars,
    );
    if (scalars !== perPosition) releaseDeviceValue(scalars);
    const dBC = await call(
      kernel(
        "grad-BC",
        gradBCSource(dims, tiling),
        [L, N, 2 * batch * groups],
        Math.max(T, dim / groups),
      ),
      H,
      E,
      Dt,
      G,
      v.u,
      v.A,
      v.B,
      v.C,
    );
    releaseDeviceValue(E);
    releaseDeviceValue(G);
    checkBackend(name);
    return { dims, perPosition, dA, dBC, dDBias };
  };

  const readGradients = async (
    inputs: DeviceScanArgs,
    grads: DeviceScanGrads,
  ): Promise<FusedScanGrads> => {
    const { batch, dim, length: L, dstate: N, groups, hasZ } = grads.dims;
    const BD = batch * dim;
    const per = await fetch(grads.perPosition, 4 * BD * L);
    const du = new Float32Array(BD * L);
    const ddelta = new Float32Array(BD * L);
    const dz = new Float32Array(BD * L);
    for (let i = 0; i < BD * L; i++) {
      du[i] = per[4 * i];
      ddelta[i] = per[4 * i + 1];
      dz[i] = per[4 * i + 2];
    }
    const bc = await fetch(grads.dBC, 2 * batch * groups * N * L);
    const half = batch * groups * N * L;
    const bcShape = groups === 1 ? [batch, N, L] : [batch, groups, N, L];
    const dd = await fetch(grads.dDBias, 2 * dim);
    const shape: [number, number, number] = [batch, dim, L];
    const out: FusedScanGrads = {
      du: { shape, data: du },
      ddelta: { shape, data: ddelta },
      dA: { shape: [dim, N], data: await fetch(grads.dA, dim * N) },
      dB: { shape: bcShape, data: bc.slice(0, half) },
      dC: { shape: bcShape, data: bc.slice(half) },
    };
    if (inputs.values.Dv !== undefined) out.dD = { shape: [dim], data: dd.slice(0, dim) };
    if (hasZ) out.dz = { shape, data: dz };
    out.ddeltaBias = { shape: [dim], data: dd.slice(dim) };
    return out;
  };

  const free = (...values: unknown[]): void => {
    for (const v of values) {
      if (v === null || typeof v !== "object") continue;
      const o = v as Record<string, unknown>;
      if (releaseDeviceScanArgs(o)) continue;
      if ("out" in o && "chunkStates" in o) {
        for (const k of ["out", "lastState", "delta", "chunkStates"]) releaseDeviceValue(o[k]);
      } else if ("perPosition" in o) {
        for (const k of ["perPosition", "dA", "dBC", "dDBias"]) releaseDeviceValue(o[k]);
      } else releaseDeviceValue(v);
    }
  };

  return {
    mode,
    tiling,
    upload,
    forward: async (inputs) =>
      scopes
        ? withDeviceErrorScopes("FusedGpuScanner.forward", () => forward(inputs))
        : forward(inputs),
    read,
    uploadGradient,
    backward: async (inputs, output, dout) =>
      scopes
        ? withDeviceErrorScopes("FusedGpuScanner.backward", () => backward(inputs, output, dout))
        : backward(inputs, output, dout),
    readGradients,
    free,
    sources: dev.sources,
    takeTrace: dev.takeTrace,
    destroy: dev.destroy,
  };
}

/**
 * The launches of the fused scan of this size (forward; with `backward`, the backward too) and
 * their traffic, without running them. Shapes as in gpuSelectiveScan.
 */
export function fusedScanTraffic(
  size: { batch: number; dim: number; length: number; dstate: number; hasZ?: boolean },
  options: { chunkSize?: number; superChunk?: number; backward?: boolean } = {},
) {
  const fn = "fusedScanTraffic";
  checkOptions(fn, "size", size, SIZE);
  const o = checkOptions(fn, "options", options, TRAFFIC_OPTIONS) as {
    chunkSize?: number;
    superChunk?: number;
    backward?: boolean;
  };
  const dims: ScanDims = { ...size, groups: 1, softplus: true, hasZ: size.hasZ ?? true };
  const tiling = checkFusedTiling(fn, { chunk: o.chunkSize ?? 16, superChunk: o.superChunk ?? 16 });
  const launches = fusedLaunchPlan(dims, tiling, { lastState: false, backward: o.backward });
  const asScan = launches.map((l) => ({ ...l, kernel: "delta" as const }));
  const traffic = summarizeTraffic(asScan);
  return { launches, traffic: { ...traffic, largestIntermediateBytes: largest(launches) } };
}

function largest(launches: { kernel: string; valuesWritten: number }[]): number {
  let m = 0;
  for (const l of launches) {
    if (l.kernel !== "fused-output" && l.kernel !== "grads" && l.kernel !== "grad-BC") {
      m = Math.max(m, 4 * l.valuesWritten);
    }
  }
  return m;
}

const SIZE = schema.options(
  {
    batch: schema.integer({ min: 1, max: 1 << 27 }),
    dim: schema.integer({ min: 1, max: 1 << 27 }),
    length: schema.integer({ min: 1, max: 1 << 27 }),
    dstate: schema.integer({ min: 1, max: MAX_GPU_DSTATE }),
    hasZ: schema.optional(schema.boolean()),
  },
  "a problem size",
);

const TRAFFIC_OPTIONS = schema.options({
  chunkSize: schema.optional(schema.integer({ min: 4, max: 64 })),
  superChunk: schema.optional(schema.integer({ min: 1, max: 1024 })),
  backward: schema.optional(schema.boolean()),
});
