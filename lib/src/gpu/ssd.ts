/**
 * Mamba-2's chunked SSD (lesson 13, the paper's Listing 1) on gpu.js, with its data kept on the
 * device: the inputs are uploaded once, the kernels of ssd-kernels.ts are chained through gpu.js
 * pipeline results without a read-back, and y (and the final state) are read back only when
 * asked. Upload, the kernels and read-back are separate calls, so a benchmark can time each (on
 * webgpu, {@link webGpuIdle} waits for the GPU to finish), as {@link createFusedGpuScan} does for
 * Mamba-1's scan, with the same device machinery (device-kernels.ts).
 *
 * The inputs are `ssdChunked`'s (mamba2/ssd.ts), already discretised: X (b, l, h, p), A (b, l, h)
 * the log-decays Δ·A ≤ 0, B and C (b, l, g, n); outputs y (b, l, h, p) and the final state
 * (b, h, p, n), float32, from a zero initial state. On webgpu their values are checked for NaN
 * and ±∞ on the device after the upload, as the fused scan checks u, Δ and z; the other backends
 * read them on the host first.
 */
import type { Tensor } from "../tensor";
import { type SsdInputs, checkSsdInputs } from "../mamba2/ssd";
import type { SsdDims } from "../ops/reference/ssd";
import { type ScanTraffic } from "./scan-kernels";
import { MAX_ELEMENTS, argumentError, checkArg, checkOptions, schema } from "../validate";
import {
  type DeviceGpuMode,
  DEVICE_GPU_MODES,
  createDeviceKernels,
  float32Data,
  refuseNonFiniteOnDevice,
} from "./device-kernels";
import {
  type SsdKernelLaunch,
  type SsdKernelName,
  MAX_GPU_SSD_CHUNK,
  ssdChunkCarrySource,
  ssdChunkCount,
  ssdChunkStatesSource,
  ssdDecaysSource,
  ssdFinalStateSource,
  ssdLaunchPlan,
  ssdOutputSource,
  ssdScoresSource,
} from "./ssd-kernels";
import { type WebGpuUpload, WEBGPU_UPLOADS, withDeviceErrorScopes } from "./webgpu";
import { releaseDeviceValue } from "./backends";

/** Options of {@link createGpuSsd}. */
export interface GpuSsdOptions {
  /** A gpu.js backend or "webgpu" (default "webgpu"). */
  mode?: DeviceGpuMode;
  /** Chunk length Q, 1 … 256 (default 64). */
  chunkSize?: number;
  /**
   * webgpu: run each forward inside WebGPU error scopes, so a device error rejects instead of
   * leaving zeros (default true; a benchmark checks one run, then times without them).
   */
  errorScopes?: boolean;
  /**
   * Wait for every kernel and record its time (webgpu: until the GPU is idle), for
   * {@link GpuSsd.takeTrace}; slower, for a per-kernel breakdown only (default false).
   */
  trace?: boolean;
  /** webgpu: how inputs are uploaded (see createWebGpuBuffer; default "staged"). */
  upload?: WebGpuUpload;
}

/** SSD inputs on the device (see {@link GpuSsd.upload}). */
export interface DeviceSsdInputs {
  readonly dims: SsdDims;
  /** X, A, B, C as gpu.js kernel arguments (buffers on webgpu). */
  readonly values: Readonly<Record<"X" | "A" | "B" | "C", unknown>>;
}

/** What the forward leaves on the device. */
export interface DeviceSsdOutput {
  readonly dims: SsdDims;
  /** y, (b, l, h, p). */
  readonly y: unknown;
  /** The state after the last position, (b, h, p, n), when asked for. */
  readonly finalState: unknown | null;
}

/** The chunked SSD with its data on the device between calls. */
export interface GpuSsd {
  readonly mode: DeviceGpuMode;
  readonly chunkSize: number;
  /** Checks the inputs (as ssdChunked does) and uploads them once. */
  upload(inputs: SsdInputs): Promise<DeviceSsdInputs>;
  /**
   * The kernels, chained on the device; nothing is read back. With `finalState`, also the state
   * after the last position. On webgpu the next forward of this GpuSsd reuses the buffers of the
   * last one: read its results first.
   */
  forward(inputs: DeviceSsdInputs, options?: { finalState?: boolean }): Promise<DeviceSsdOutput>;
  /** Reads y (b, l, h, p) (and the final state (b, h, p, n)) back to the host. */
  read(
    output: DeviceSsdOutput,
  ): Promise<{ y: Tensor<Float32Array>; finalState?: Tensor<Float32Array> }>;
  /** Frees device buffers of an upload or an output. */
  free(...values: (DeviceSsdInputs | DeviceSsdOutput)[]): void;
  /** The generated kernel sources of the last size, by kernel name. */
  sources(): Partial<Record<SsdKernelName, string>>;
  /** The kernel times recorded since the last call (option `trace`), in launch order. */
  takeTrace(): { kernel: string; seconds: number }[];
  /** Frees the kernels and the gpu.js instance. */
  destroy(): void;
}

const CHUNK = schema.integer({ min: 1, max: MAX_GPU_SSD_CHUNK });

const OPTIONS = schema.options({
  mode: schema.optional(schema.oneOf(DEVICE_GPU_MODES)),
  chunkSize: schema.optional(CHUNK),
  errorScopes: schema.optional(schema.boolean()),
  trace: schema.optional(schema.boolean()),
  upload: schema.optional(schema.oneOf(WEBGPU_UPLOADS)),
});

const FORWARD_OPTIONS = schema.options({ finalState: schema.optional(schema.boolean()) });

/**
 * WebGPU's default limit of workgroups per dispatch dimension (the NVIDIA adapters report it
 * too): gpu.js dispatches a 3-D output [x, y, z] as 8 × 8 × 1 workgroups, so z must stay under it.
 */
const MAX_WEBGPU_Z = 65535;

/**
 * Creates the chunked SSD on gpu.js (data on the device). Kernels compile on the first forward
 * of each problem size. On webgpu, Node needs Dawn: {@link installWebGpu} is called on the first
 * upload.
 */
export function createGpuSsd(options: GpuSsdOptions = {}): GpuSsd {
  const fn = "createGpuSsd";
  const o = checkOptions(fn, "options", options, OPTIONS) as GpuSsdOptions;
  return buildGpuSsd(fn, o).ssd;
}

/**
 * A {@link GpuSsd} for checked options, and its upload of inputs, checked for `name`, the public
 * function that was called: on webgpu their values are checked on the device after the upload (a
 * pass over each buffer instead of the host reading every value first), elsewhere on the host.
 */
function buildGpuSsd(
  fn: string,
  o: GpuSsdOptions,
): {
  ssd: GpuSsd;
  uploadInputs(name: string, inputs: unknown): Promise<DeviceSsdInputs>;
} {
  const mode = o.mode ?? "webgpu";
  const Q = o.chunkSize ?? 64;
  const dev = createDeviceKernels<SsdKernelName>(fn, "GpuSsd", mode, {
    trace: o.trace,
    upload: o.upload,
  });
  const { webgpu, kernel, call, put, fetch } = dev;
  const scopes = webgpu && o.errorScopes !== false;

  const uploadInputs = async (name: string, inputs: unknown): Promise<DeviceSsdInputs> => {
    const { dims, t } = checkSsdInputs(name, inputs, { values: !webgpu });
    const { batch, length: L, heads: H, headDim: P, groups: G, dstate: N } = dims;
    const chunks = ssdChunkCount(dims, Q);
    if (webgpu) {
      // the largest z of the launches: positions (output), chunks × heads (states)
      const z = Math.max(batch * L, batch * chunks * H);
      if (z > MAX_WEBGPU_Z) {
        throw argumentError(
          name,
          "inputs.X",
          `at most ${MAX_WEBGPU_Z} positions b·l and chunk-heads b·⌈l/Q⌉·h on webgpu (a dispatch's workgroups per dimension; got b·l = ${batch * L}, b·⌈l/Q⌉·h = ${batch * chunks * H})`,
        );
      }
      await dev.ready();
    }
    const rows = batch * L;
    const values = {
      X: await put(float32Data(t.X), [P, H, rows]), //      (b, l, h, p) as [p, h, b·l]
      A: await put(float32Data(t.A), [H, rows]), //         (b, l, h) as [h, b·l]
      B: await put(float32Data(t.B), [N, G, rows]), //      (b, l, g, n) as [n, g, b·l]
      C: await put(float32Data(t.C), [N, G, rows]),
    };
    if (webgpu) {
      // the values were not read on the host: checked here, on the device
      const keys = ["X", "A", "B", "C"] as const;
      await refuseNonFiniteOnDevice(
        name,
        keys.map((k) => ({ arg: `inputs.${k}`, host: t[k], device: values[k] })),
        () => Object.values(values).forEach(releaseDeviceValue),
      );
    }
    return { dims, values };
  };

  const upload = (inputs: SsdInputs): Promise<DeviceSsdInputs> =>
    uploadInputs("GpuSsd.upload", inputs);

  const forward = async (
    inputs: DeviceSsdInputs,
    options: { finalState?: boolean } = {},
  ): Promise<DeviceSsdOutput> => {
    const name = "GpuSsd.forward";
    checkArg(name, "inputs", inputs, schema.object());
    const fo = checkOptions(name, "options", options, FORWARD_OPTIONS);
    await dev.ready();
    const { dims, values: v } = inputs;
    dev.forSize(JSON.stringify({ dims, Q }));
    const { batch, length: L, heads: H, headDim: P, groups: G, dstate: N } = dims;
    const rows = batch * L;
    const chunks = ssdChunkCount(dims, Q);
    // W: exp of the within-chunk segment sums, [h, b·l, 2]
    const W = await call(kernel("ssd-decays", ssdDecaysSource(dims, Q), [H, rows, 2], Q), v.A);
    // CB: per group and chunk, C_i · B_s, [Q, Q, b·c·g]
    const CB = await call(
      kernel("ssd-scores", ssdScoresSource(dims, Q), [Q, Q, batch * chunks * G], N),
      v.B,
      v.C,
    );
    // S: what each chunk alone leaves in the state, [p, n, b·c·h]
    const S = await call(
      kernel("ssd-chunk-states", ssdChunkStatesSource(dims, Q), [P, N, batch * chunks * H], Q),
      W,
      v.X,
      v.B,
    );
    // Hc: the state entering each chunk, [p, n, b·h·c]
    const Hc = await call(
      kernel("ssd-chunk-carry", ssdChunkCarrySource(dims, Q), [P, N, batch * H * chunks], chunks),
      W,
      S,
    );
    // y = Y_diag + Y_off, [p, h, b·l]
    const y = await call(
      kernel("ssd-output", ssdOutputSource(dims, Q), [P, H, rows], Math.max(Q, N)),
      W,
      CB,
      v.X,
      v.A,
      v.C,
      Hc,
    );
    releaseDeviceValue(CB);
    let finalState: unknown = null;
    if (fo.finalState) {
      // the state after the last position, [n, p, b·h]
      finalState = await call(
        kernel("ssd-final-state", ssdFinalStateSource(dims, Q), [N, P, batch * H], 1),
        W,
        S,
        Hc,
      );
    }
    for (const x of [W, S, Hc]) releaseDeviceValue(x);
    dev.checkBackend(name);
    return { dims, y, finalState };
  };

  const read = async (
    output: DeviceSsdOutput,
  ): Promise<{ y: Tensor<Float32Array>; finalState?: Tensor<Float32Array> }> => {
    checkArg("GpuSsd.read", "output", output, schema.object());
    const { batch, length: L, heads: H, headDim: P, dstate: N } = output.dims;
    const result: { y: Tensor<Float32Array>; finalState?: Tensor<Float32Array> } = {
      y: { shape: [batch, L, H, P], data: await fetch(output.y, batch * L * H * P) },
    };
    if (output.finalState !== null) {
      result.finalState = {
        shape: [batch, H, P, N],
        data: await fetch(output.finalState, batch * H * P * N),
      };
    }
    return result;
  };

  const free = (...values: (DeviceSsdInputs | DeviceSsdOutput)[]): void => {
    for (const x of values) {
      if (x === null || typeof x !== "object") continue;
      if ("values" in x) for (const b of Object.values(x.values)) releaseDeviceValue(b);
      else {
        releaseDeviceValue(x.y);
        releaseDeviceValue(x.finalState);
      }
    }
  };

  const ssd: GpuSsd = {
    mode,
    chunkSize: Q,
    upload,
    forward: async (inputs, options) =>
      scopes
        ? withDeviceErrorScopes("GpuSsd.forward", () => forward(inputs, options))
        : forward(inputs, options),
    read,
    free,
    sources: dev.sources,
    takeTrace: dev.takeTrace,
    destroy: dev.destroy,
  };
  return { ssd, uploadInputs };
}

/** What {@link gpuSsdChunked} returns. */
export interface GpuSsdResult {
  /** (b, l, h, p). */
  y: Tensor<Float32Array>;
  /** The state after the last position, (b, h, p, n). */
  finalState: Tensor<Float32Array>;
  /** The gpu.js backend that ran every kernel. */
  backend: DeviceGpuMode;
}

const ONE_SHOT_OPTIONS = schema.options({
  mode: schema.optional(schema.oneOf(DEVICE_GPU_MODES)),
  chunkSize: CHUNK,
});

/**
 * The chunked SSD on gpu.js in one call (upload, kernels, read-back): `ssdChunked`'s inputs and
 * result (y and the final state, float32, from a zero state) for a gpu.js `mode` (default
 * "webgpu") and chunk length `chunkSize` (1 … 256).
 */
export async function gpuSsdChunked(
  inputs: SsdInputs,
  options: { mode?: DeviceGpuMode; chunkSize: number },
): Promise<GpuSsdResult> {
  const fn = "gpuSsdChunked";
  const o = checkOptions(fn, "options", options, ONE_SHOT_OPTIONS);
  const { ssd, uploadInputs } = buildGpuSsd(fn, { mode: o.mode, chunkSize: o.chunkSize });
  try {
    const up = await uploadInputs(fn, inputs);
    const r = await ssd.read(await ssd.forward(up, { finalState: true }));
    ssd.free(up);
    return { y: r.y, finalState: r.finalState!, backend: ssd.mode };
  } finally {
    ssd.destroy();
  }
}

const SIZE = schema.options(
  {
    batch: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    length: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    heads: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    headDim: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    groups: schema.optional(schema.integer({ min: 1, max: MAX_ELEMENTS })),
    dstate: schema.integer({ min: 1, max: MAX_ELEMENTS }),
  },
  "a problem size",
);

/**
 * The launches of the gpu.js chunked SSD of this size (with the final state) and their traffic,
 * without running them, beside what an ideal kernel moves: X, A, B, C read once and y written
 * once (float32). `size`: { batch, length, heads, headDim, groups? (default 1), dstate }.
 */
export function gpuSsdTraffic(
  size: {
    batch: number;
    length: number;
    heads: number;
    headDim: number;
    groups?: number;
    dstate: number;
  },
  options: { chunkSize: number },
): { launches: SsdKernelLaunch[]; traffic: ScanTraffic; ideal: ScanTraffic } {
  const fn = "gpuSsdTraffic";
  const s = checkOptions(fn, "size", size, SIZE);
  const o = checkOptions(fn, "options", options, schema.options({ chunkSize: CHUNK }));
  const dims: SsdDims = {
    batch: s.batch!,
    length: s.length!,
    heads: s.heads!,
    headDim: s.headDim!,
    groups: s.groups ?? 1,
    dstate: s.dstate!,
  };
  if (dims.heads % dims.groups !== 0) {
    throw argumentError(
      fn,
      "size.groups",
      `a number of groups that divides heads = ${dims.heads} (got ${dims.groups})`,
    );
  }
  const launches = ssdLaunchPlan(dims, o.chunkSize!, { finalState: true });
  let written = 0;
  let read = 0;
  let largest = 0;
  for (const l of launches) {
    written += l.valuesWritten;
    read += l.valuesRead;
    if (l.kernel !== "ssd-output" && l.kernel !== "ssd-final-state") {
      largest = Math.max(largest, l.valuesWritten);
    }
  }
  const { batch, length: L, heads: H, headDim: P, groups: G, dstate: N } = dims;
  const x = batch * L * H * P;
  return {
    launches,
    traffic: {
      launches: launches.length,
      bytesWritten: 4 * written,
      bytesRead: 4 * read,
      largestIntermediateBytes: 4 * largest,
    },
    ideal: {
      launches: 1,
      bytesRead: 4 * (x + batch * L * H + 2 * batch * L * G * N),
      bytesWritten: 4 * x,
      largestIntermediateBytes: 0,
    },
  };
}
