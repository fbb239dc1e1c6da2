/**
 * What lib's gpu.js programs that keep their data on the device share (the fused selective scan
 * of fused-scan.ts, the chunked SSD of ssd.ts): one gpu.js instance per program, kernels compiled
 * once per problem size with the course's safe settings and chained through pipeline results,
 * host tensors put on the device and results fetched back, which backend actually ran, and an
 * optional per-kernel trace.
 *
 * Backends: on "webgpu" the inputs are WebGPU storage buffers wrapped as gpu.js
 * `WebGPUBufferResult`s (gpu.js's own pipeline type, so every kernel binds them without a copy)
 * and every kernel keeps one output buffer that its next run overwrites. The other backends run
 * the same kernel sources on machines without a GPU (tests, lessons): there "put" makes a gpu.js
 * input in host memory, which gpu.js copies on every call, and every result is its own texture or
 * array.
 */
import type { Tensor } from "../tensor";
import { argumentError, describe, nonFiniteValueProblem } from "../validate";
import {
  type GpuBackend,
  type GpuJsInstance,
  type GpuJsKernel,
  createGpu,
  kernelBackend,
  loadGpuJs,
} from "./backends";
import { type AsyncGpuMode, ASYNC_GPU_MODES } from "./selective-scan-async";
import {
  type WebGpuUpload,
  createWebGpuBuffer,
  firstNonFiniteOnDevice,
  installWebGpu,
  readWebGpuBuffer,
  reshapeWebGpuResult,
  webGpuIdle,
} from "./webgpu";

/** The modes of the programs with data on the device: a gpu.js backend or "webgpu". */
export type DeviceGpuMode = Exclude<AsyncGpuMode, "gpu">;

/** Every {@link DeviceGpuMode}. */
export const DEVICE_GPU_MODES: readonly DeviceGpuMode[] = ASYNC_GPU_MODES.filter(
  (m): m is DeviceGpuMode => m !== "gpu",
);

/** Options of {@link createDeviceKernels}. */
export interface DeviceKernelsOptions {
  /** Wait for every kernel and record its time (webgpu: until the GPU is idle). */
  trace?: boolean;
  /** webgpu: how {@link DeviceKernels.put} uploads (see createWebGpuBuffer; default "staged"). */
  upload?: WebGpuUpload;
}

/** The kernels and buffers of one program (see the module comment). */
export interface DeviceKernels<K extends string> {
  readonly mode: DeviceGpuMode;
  readonly webgpu: boolean;
  /** Makes the gpu.js instance (webgpu: installs Dawn first, see installWebGpu). */
  ready(): Promise<void>;
  /** Drops the compiled kernels when `key` (the problem size) differs from the last one. */
  forSize(key: string): void;
  /**
   * The kernel `name` of the current size, compiled on first use: pipeline output of size
   * `output` ([x, y, z], x fastest), float32, precision tactic, loops up to `loopMax`
   * (gpu.js silently cuts them at loopMaxIterations), Array(4) results when `array4`.
   */
  kernel(name: K, source: string, output: number[], loopMax: number, array4?: boolean): GpuJsKernel;
  /** Runs a kernel (traced when asked) and notes which backend ran it. */
  call(k: GpuJsKernel, ...args: unknown[]): Promise<unknown>;
  /** Throws (naming `what`) when a kernel since the last check ran on another backend. */
  checkBackend(what: string): void;
  /** A host array as a kernel argument of logical size `size`: a WebGPU buffer, or an input. */
  put(data: Float32Array, size: number[]): Promise<unknown>;
  /** An Array(4) result [x, y] as scalars [4x, y] (webgpu: the same buffer). */
  asScalars(value: unknown, x: number, y: number): Promise<unknown>;
  /** The first `length` values of a result, on the host. */
  fetch(value: unknown, length: number): Promise<Float32Array>;
  /** The sources of the current size's kernels, by name. */
  sources(): Partial<Record<K, string>>;
  /** The kernel times recorded since the last call (option `trace`), in launch order. */
  takeTrace(): { kernel: string; seconds: number }[];
  /** Frees the kernels and the gpu.js instance; later calls throw. */
  destroy(): void;
}

/**
 * Refuses uploaded tensors holding a NaN or ±∞, checked on the device (firstNonFiniteOnDevice)
 * instead of on the host before the upload: each of `checked` is an argument's name as `fn`'s
 * host check names it, the host values it came from, and its WebGPU buffer. The first bad
 * argument is refused with the host check's message (its flat index; a float64 value that float32
 * cannot hold is named as such), after `release()` frees the upload.
 */
export async function refuseNonFiniteOnDevice(
  fn: string,
  checked: { arg: string; host: Tensor; device: unknown }[],
  release: () => void,
): Promise<void> {
  const found = await firstNonFiniteOnDevice(checked.map((c) => c.device));
  const j = found.findIndex((i) => i >= 0);
  if (j < 0) return;
  release();
  const i = found[j];
  throw argumentError(fn, checked[j].arg, nonFiniteValueProblem(checked[j].host.data[i], i));
}

/** A tensor's values as float32 (no copy when they already are). */
export function float32Data(t: Tensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
}

/** Every number of a (nested) gpu.js result, in order, into `into` from `at`; returns the end. */
function flatten(fn: string, value: unknown, into: Float32Array, at = 0): number {
  if (value instanceof Float32Array || value instanceof Float64Array) {
    into.set(value, at);
    return at + value.length;
  }
  if (Array.isArray(value)) {
    let i = at;
    for (const v of value) i = flatten(fn, v, into, i);
    return i;
  }
  if (typeof value === "number") {
    into[at] = value;
    return at + 1;
  }
  throw new Error(`${fn}: unexpected gpu.js result ${describe(value)}`);
}

/**
 * The kernels and buffers of a program that runs in `mode`; `fn` (the public function that made
 * the program) and `what` (what it made, e.g. "scanner") name it in errors.
 */
export function createDeviceKernels<K extends string>(
  fn: string,
  what: string,
  mode: DeviceGpuMode,
  options: DeviceKernelsOptions = {},
): DeviceKernels<K> {
  const webgpu = mode === "webgpu";
  let gpu: GpuJsInstance | null = webgpu ? null : createGpu(fn, mode);
  let destroyed = false;
  let sizeKey = "";
  let kernels = new Map<K, GpuJsKernel>();
  let sources: Partial<Record<K, string>> = {};
  const names = new Map<GpuJsKernel, K>();
  let ran = new Set<GpuBackend>();
  let trace: { kernel: string; seconds: number }[] = [];

  const ready = async (): Promise<void> => {
    if (destroyed) throw new Error(`${fn}: the ${what} was destroyed`);
    if (!gpu) {
      await installWebGpu();
      gpu = new (loadGpuJs().GPU)({ mode: "webgpu" });
    }
  };

  const dropKernels = (): void => {
    for (const k of kernels.values()) k.destroy();
    kernels = new Map();
    sources = {};
  };

  const host = async (value: unknown): Promise<unknown> => {
    const t = value as { toArray?: () => unknown };
    return typeof t.toArray === "function" ? await t.toArray() : value;
  };

  return {
    mode,
    webgpu,
    ready,
    forSize: (key) => {
      if (key !== sizeKey) {
        dropKernels();
        sizeKey = key;
      }
    },
    kernel: (name, source, output, loopMax, array4 = false) => {
      let k = kernels.get(name);
      if (!k) {
        if (!gpu) throw new Error(`${fn}: no gpu.js instance`);
        k = gpu.createKernel(source, {
          output,
          pipeline: true,
          // webgpu: each kernel keeps one output buffer and reuses it on the next run (a new
          // buffer per call would be allocated and zero-filled every time); the other backends
          // hand every result its own texture or array
          immutable: !webgpu,
          asyncMode: true,
          tactic: "precision",
          precision: "single",
          optimizeFloatMemory: false,
          ...(array4 ? { returnType: "Array(4)" } : {}),
          // gpu.js silently cuts loops at loopMaxIterations (default 1000): the real bound
          loopMaxIterations: Math.max(1, loopMax),
        });
        kernels.set(name, k);
        names.set(k, name);
        sources[name] = source;
      }
      return k;
    },
    call: async (k, ...args) => {
      const t = options.trace ? performance.now() : 0;
      const r = await (k(...args) as Promise<unknown>);
      if (options.trace) {
        if (webgpu) await webGpuIdle();
        trace.push({ kernel: names.get(k) ?? "?", seconds: (performance.now() - t) / 1000 });
      }
      ran.add(kernelBackend(k));
      return r;
    },
    checkBackend: (where) => {
      if (ran.size > 1 || (ran.size === 1 && !ran.has(mode))) {
        throw new Error(`${where}: asked for mode "${mode}" but gpu.js ran ${[...ran].join(", ")}`);
      }
      ran = new Set();
    },
    put: async (data, size) => {
      if (webgpu) return createWebGpuBuffer(data, size, options.upload);
      return loadGpuJs().input(data, size);
    },
    asScalars: async (value, x, y) => {
      if (webgpu) return reshapeWebGpuResult(value, [4 * x, y]);
      const flat = new Float32Array(4 * x * y);
      flatten(fn, await host(value), flat);
      return loadGpuJs().input(flat, [4 * x, y]);
    },
    fetch: async (value, length) => {
      if (webgpu) return readWebGpuBuffer(value, length);
      const flat = new Float32Array(length);
      const n = flatten(fn, await host(value), flat);
      if (n < length) throw new Error(`${fn}: gpu.js returned ${n} values, expected ${length}`);
      return flat;
    },
    sources: () => ({ ...sources }),
    takeTrace: () => {
      const t = trace;
      trace = [];
      return t;
    },
    destroy: () => {
      dropKernels();
      gpu?.destroy();
      gpu = null;
      destroyed = true;
    },
  };
}
