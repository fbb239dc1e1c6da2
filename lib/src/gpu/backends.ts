/**
 * gpu.js backends: which ones this machine can run, and which one a kernel actually ran on.
 *
 * gpu.js compiles one JavaScript kernel function for several backends. In Node these are
 * - "headlessgl": WebGL 1 through the optional native `gl` module (ANGLE; here Mesa's llvmpipe
 *   software rasteriser, or a real GPU driver); needs an X display (`xvfb-run -a`);
 * - "webasm": WebAssembly with f32x4 SIMD on the CPU;
 * - "cpu": the kernel transpiled to plain JavaScript;
 * and in browsers "webgl2", "webgl" and (asynchronous only) "webgpu". Mode "gpu" picks the first
 * that works in the order headlessgl, webgl2, webgl, webasm, and a kernel may still fall back to
 * "cpu" at run time, so the mode asked for is not necessarily the backend that ran: always read
 * {@link kernelBackend} after a run.
 *
 * gpu.js is loaded on first use, so lessons that never touch it do not pay for loading it.
 */
import { describe } from "../validate";

/** A gpu.js backend that can run a kernel. */
export type GpuBackend = "headlessgl" | "webgl2" | "webgl" | "webgpu" | "webasm" | "cpu";

/** What the functions of lib/gpu accept as `mode`: a backend, or "gpu" for gpu.js's own choice. */
export type GpuMode = "gpu" | "headlessgl" | "webgl2" | "webgl" | "webasm" | "cpu";

/** The modes lib's synchronous gpu.js code accepts. */
export const GPU_MODES: readonly GpuMode[] = [
  "gpu",
  "headlessgl",
  "webgl2",
  "webgl",
  "webasm",
  "cpu",
];

/** Backends in order of preference (fastest first, as gpu.js ranks them). */
export const GPU_BACKENDS: readonly GpuBackend[] = [
  "webgpu",
  "headlessgl",
  "webgl2",
  "webgl",
  "webasm",
  "cpu",
];

/** A gpu.js kernel as lib uses it (the callable that `createKernel` returns). */
export interface GpuJsKernel {
  (...args: unknown[]): unknown;
  /** The backend kernel object that runs (replaced when gpu.js falls back). */
  kernel: object;
  destroy(removeCanvasReferences?: boolean): void;
}

/** A gpu.js GPU instance, as lib uses it. */
export interface GpuJsInstance {
  createKernel(source: string | ((...args: never[]) => unknown), settings: object): GpuJsKernel;
  destroy(): void;
}

interface KernelClass {
  isSupported: boolean;
  name: string;
  /** GL backends: the context's limits (after isSupported was read). */
  features?: { maxTextureSize?: number } | null;
}

/** The parts of the gpu.js module lib uses. */
export interface GpuJsModule {
  GPU: (new (settings: { mode: string }) => GpuJsInstance) & {
    isWebGPUSupported: boolean;
  };
  input(data: Float32Array, size: number[]): unknown;
  HeadlessGLKernel: KernelClass;
  WebGL2Kernel: KernelClass;
  WebGLKernel: KernelClass;
  WebGPUKernel: KernelClass;
  WebAssemblyKernel: KernelClass;
  CPUKernel: KernelClass;
}

let gpujs: GpuJsModule | null = null;

/** The gpu.js module (loaded on first use). */
export function loadGpuJs(): GpuJsModule {
  if (gpujs === null) {
    try {
      gpujs = require("gpu.js") as GpuJsModule;
    } catch (err) {
      throw new Error(
        `gpu.js could not be loaded (${(err as Error).message}); install the course's dependencies with npm ci`,
      );
    }
  }
  return gpujs;
}

/** Availability of one backend on this machine, with the reason when it is missing. */
export interface BackendAvailability {
  backend: GpuBackend;
  available: boolean;
  /** Why it is (not) available, in one sentence. */
  reason: string;
}

function glModuleLoads(): string | null {
  try {
    require("gl");
    return null;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
}

/**
 * Which gpu.js backends lib can run here, best first, each with a reason. webgpu is listed but
 * never available to lib's synchronous kernels (gpu.js runs it only under its asynchronous
 * contract: see gpuSelectiveScanAsync; Node has no WebGPU without the `webgpu` Dawn module).
 */
export function gpuBackends(): BackendAvailability[] {
  const g = loadGpuJs();
  const out: BackendAvailability[] = [];
  out.push({
    backend: "webgpu",
    available: false,
    reason: g.GPU.isWebGPUSupported
      ? "navigator.gpu exists: gpu.js runs webgpu kernels only asynchronously, so use gpuSelectiveScanAsync (lib's synchronous kernels cannot)"
      : "no navigator.gpu (in Node, installWebGpu() loads the `webgpu` Dawn module, whose binary needs glibc >= 2.38; then use gpuSelectiveScanAsync)",
  });
  let headless: BackendAvailability;
  const glError = glModuleLoads();
  if (glError !== null) {
    headless = {
      backend: "headlessgl",
      available: false,
      reason:
        `the optional native module \`gl\` is not built (${glError}); on Debian/Ubuntu: ` +
        "`sudo apt-get install libxi-dev libglu1-mesa-dev libglew-dev pkg-config`, then `npm ci` " +
        "again, and run under `xvfb-run -a` where there is no X display",
    };
  } else if (g.HeadlessGLKernel.isSupported) {
    headless = {
      backend: "headlessgl",
      available: true,
      reason: "WebGL 1 through the `gl` module",
    };
  } else {
    const display = process.env.DISPLAY;
    headless = {
      backend: "headlessgl",
      available: false,
      reason: display
        ? `\`gl\` could not create a WebGL context on DISPLAY=${display}`
        : "no X display: run under `xvfb-run -a` (the `gl` module needs one)",
    };
  }
  out.push(headless);
  for (const [backend, cls] of [
    ["webgl2", g.WebGL2Kernel],
    ["webgl", g.WebGLKernel],
  ] as const) {
    const ok = (globalThis as { document?: unknown }).document !== undefined && cls.isSupported;
    out.push({
      backend,
      available: ok,
      reason: ok ? "a browser WebGL context" : "browsers only (no DOM canvas here)",
    });
  }
  const wasm = g.WebAssemblyKernel.isSupported;
  out.push({
    backend: "webasm",
    available: wasm,
    reason: wasm ? "WebAssembly with f32x4 SIMD on the CPU" : "this engine lacks WebAssembly SIMD",
  });
  out.push({
    backend: "cpu",
    available: true,
    reason: "the kernel as plain JavaScript; always works",
  });
  return out;
}

/** A backend lib's synchronous kernels can run on (every backend but webgpu). */
export type SyncGpuBackend = Exclude<GpuBackend, "webgpu">;

/**
 * The best backend lib's kernels can run here (headlessgl > webgl2 > webgl > webasm > cpu); pass
 * it as `mode` to run there.
 */
export function bestGpuBackend(): SyncGpuBackend {
  const found = gpuBackends().find((b) => b.available && b.backend !== "webgpu");
  return found ? (found.backend as SyncGpuBackend) : "cpu";
}

/**
 * The largest texture side of a GL backend (16384 on Mesa's llvmpipe), or null for backends
 * without textures or when unknown.
 */
export function maxTextureSize(backend: GpuBackend): number | null {
  const g = loadGpuJs();
  const cls =
    backend === "headlessgl"
      ? g.HeadlessGLKernel
      : backend === "webgl2"
        ? g.WebGL2Kernel
        : backend === "webgl"
          ? g.WebGLKernel
          : null;
  if (!cls || !cls.isSupported) return null;
  return cls.features?.maxTextureSize ?? null;
}

/** Which backend a compiled gpu.js kernel actually runs on (after any fallback). */
export function kernelBackend(kernel: GpuJsKernel): GpuBackend {
  const g = loadGpuJs();
  const k = kernel.kernel;
  // Most specific classes first: HeadlessGLKernel extends WebGLKernel.
  const order: [GpuBackend, KernelClass][] = [
    ["headlessgl", g.HeadlessGLKernel],
    ["webgl2", g.WebGL2Kernel],
    ["webgl", g.WebGLKernel],
    ["webgpu", g.WebGPUKernel],
    ["webasm", g.WebAssemblyKernel],
    ["cpu", g.CPUKernel],
  ];
  for (const [name, cls] of order) {
    if (k instanceof (cls as unknown as new () => object)) return name;
  }
  throw new Error(`kernelBackend: unrecognised gpu.js kernel ${describe(k)}`);
}

/**
 * A gpu.js instance for `mode`, or a clear error when the mode cannot run here (gpu.js's own
 * message for an unsupported mode says nothing about why).
 */
export function createGpu(fn: string, mode: GpuMode): GpuJsInstance {
  const g = loadGpuJs();
  if (mode !== "gpu" && mode !== "cpu") {
    const info = gpuBackends().find((b) => b.backend === mode);
    if (info && !info.available) {
      throw new Error(`${fn}: mode "${mode}" is not available here: ${info.reason}`);
    }
  }
  return new g.GPU({ mode });
}

/** Frees a pipeline texture or WebGPU buffer; arrays of the CPU backends are left to the GC. */
export function releaseDeviceValue(value: unknown): void {
  const t = value as { delete?: () => void } | null;
  if (t && typeof t.delete === "function") t.delete();
}

/** Rows of a gpu.js 2-D result (an array of Float32Array) into one flat array, for `fn`. */
export function flattenRows(result: unknown, rows: number, cols: number, fn: string): Float32Array {
  const out = new Float32Array(rows * cols);
  const list = result as ArrayLike<ArrayLike<number>>;
  if (!list || list.length !== rows) {
    throw new Error(`${fn}: gpu.js returned ${describe(result)}, expected ${rows} rows of ${cols}`);
  }
  for (let r = 0; r < rows; r++) {
    const row = list[r];
    if (row instanceof Float32Array) out.set(row.subarray(0, cols), r * cols);
    else for (let c = 0; c < cols; c++) out[r * cols + c] = row[c];
  }
  return out;
}
