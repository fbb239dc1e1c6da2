/**
 * The gpu.js selective scans (naive and chunked, lesson 08) under gpu.js's asynchronous
 * contract: every kernel call returns a Promise of its usual result. This is what gpu.js's
 * "webgpu" backend needs (WebGPU has no synchronous readback); on the other backends the same
 * code runs with `asyncMode` kernels (webasm then splits large kernels over worker threads).
 *
 * The kernels, their launch order and their traffic are exactly those of the synchronous
 * {@link createGpuSelectiveScan} (the same generated sources from scan-kernels.ts and the same
 * launch plan); only the calls are awaited. Differences on webgpu: intermediates are storage
 * buffers (`WebGPUBufferResult`), not textures, so the chunked variant never packs A, B and C
 * four to a texel, there is no texture-size limit (only the device's largest storage buffer),
 * and every run sits inside WebGPU error scopes, so a device error rejects the Promise instead of
 * leaving zeros.
 */
import { checkOptions, isAbsent, schema } from "../validate";
import type { SelectiveScanArgs } from "../selective/scan";
import {
  type GpuBackend,
  type GpuJsInstance,
  type GpuJsKernel,
  type GpuMode,
  GPU_MODES,
  bestGpuBackend,
  createGpu,
  flattenRows,
  kernelBackend,
  loadGpuJs,
  releaseDeviceValue,
} from "./backends";
import {
  type ScanKernelName,
  GPU_CHUNK_SIZE,
  GPU_SCAN_VARIANT,
  chunkDecaySource,
  chunkInputSource,
  chunkedOutputSource,
  deltaKernelSource,
  expandDecaySource,
  expandInputSource,
  lastStateSource,
  naiveOutputSource,
  packSource,
  passDecaySource,
  passInputSource,
  scanLaunchPlan,
  summarizeTraffic,
} from "./scan-kernels";
import { checkTextureBudget, checkedScanDims, uploadScanInputs } from "./scan-inputs";
import type { GpuScanResult, GpuScanVariant } from "./selective-scan";
import { installWebGpu, withDeviceErrorScopes } from "./webgpu";

/** What the asynchronous scans accept as `mode`: the synchronous modes, plus "webgpu". */
export type AsyncGpuMode = GpuMode | "webgpu";

/** The modes of {@link gpuSelectiveScanAsync}. */
export const ASYNC_GPU_MODES: readonly AsyncGpuMode[] = [...GPU_MODES, "webgpu"];

/** Options of {@link gpuSelectiveScanAsync} and {@link createGpuSelectiveScanAsync}. */
export interface GpuScanAsyncOptions {
  /** gpu.js mode: a backend, "webgpu", or "gpu" for gpu.js's synchronous choice (default "gpu"). */
  mode?: AsyncGpuMode;
  /** Default "chunked". */
  variant?: GpuScanVariant;
  /** Chunk length T of the chunked variant (default 16). */
  chunkSize?: number;
}

/** A reusable asynchronous gpu.js scan: kernels compile on the first run of each size. */
export interface AsyncGpuSelectiveScanner {
  readonly mode: AsyncGpuMode;
  readonly variant: GpuScanVariant;
  readonly chunkSize: number;
  /** Runs the scan (see {@link gpuSelectiveScanAsync}); runs of one scanner must not overlap. */
  run(args: SelectiveScanArgs): Promise<GpuScanResult>;
  /** The generated kernel sources of the last problem size run, by kernel name. */
  sources(): Partial<Record<ScanKernelName, string>>;
  /** Frees the kernels and the gpu.js instance (the shared WebGPU device stays: releaseWebGpu). */
  destroy(): void;
}

const DEFAULT_CHUNK = 16;
const GL_BACKENDS: readonly GpuBackend[] = ["headlessgl", "webgl2", "webgl"];

function checkAsyncOptions(fn: string, options: unknown): Required<GpuScanAsyncOptions> {
  const o = checkOptions(fn, "options", options, ASYNC_OPTIONS);
  const mode = o.mode ?? "gpu";
  const variant = o.variant ?? "chunked";
  if (!isAbsent(o.chunkSize) && variant !== "chunked") {
    throw new Error(
      `${fn}: argument 'options.chunkSize' must be absent unless options.variant is "chunked" (got ${o.chunkSize} with variant "${variant}")`,
    );
  }
  return { mode, variant, chunkSize: o.chunkSize ?? DEFAULT_CHUNK };
}

const ASYNC_OPTIONS = schema.options({
  mode: schema.optional(schema.oneOf(ASYNC_GPU_MODES)),
  variant: schema.optional(GPU_SCAN_VARIANT),
  chunkSize: schema.optional(GPU_CHUNK_SIZE),
});

/**
 * A gpu.js instance for `mode`. For "webgpu" it first makes WebGPU ready ({@link installWebGpu}:
 * Dawn in Node, the browser's navigator.gpu otherwise), which is asynchronous.
 */
async function createAsyncGpu(fn: string, mode: AsyncGpuMode): Promise<GpuJsInstance> {
  if (mode !== "webgpu") return createGpu(fn, mode);
  await installWebGpu();
  return new (loadGpuJs().GPU)({ mode: "webgpu" });
}

/**
 * Creates a reusable asynchronous scanner (see {@link gpuSelectiveScanAsync}). Compiling is slow
 * on some backends, so time the second run.
 */
export function createGpuSelectiveScanAsync(
  options: GpuScanAsyncOptions = {},
): AsyncGpuSelectiveScanner {
  const fn = "createGpuSelectiveScanAsync";
  const { mode, variant, chunkSize } = checkAsyncOptions(fn, options);
  // "webgpu" is set up on the first run (asynchronously); the other modes are checked here
  let gpu: GpuJsInstance | Promise<GpuJsInstance> | null =
    mode === "webgpu" ? null : createGpu(fn, mode);
  let destroyed = false;
  let cacheKey = "";
  let kernels = new Map<string, GpuJsKernel>();
  let sources: Partial<Record<ScanKernelName, string>> = {};

  const kernel = (
    name: ScanKernelName,
    source: string,
    output: number[],
    pipeline: boolean,
    loopMax = 1,
    returnType?: "Array(4)",
  ): GpuJsKernel => {
    let k = kernels.get(name);
    if (!k) {
      if (!gpu || gpu instanceof Promise)
        throw new Error("AsyncGpuSelectiveScanner: no gpu.js instance");
      k = gpu.createKernel(source, {
        output,
        pipeline,
        immutable: true,
        asyncMode: true,
        tactic: "precision",
        precision: "single",
        // as in the synchronous scan: pack intermediates four per texel on GL, not read-backs
        optimizeFloatMemory: pipeline && returnType === undefined && mode !== "webgpu",
        ...(returnType ? { returnType } : {}),
        // gpu.js silently cuts loops at loopMaxIterations (default 1000): set the real bound
        loopMaxIterations: Math.max(1, loopMax),
      });
      kernels.set(name, k);
      sources[name] = source;
    }
    return k;
  };

  const scan = async (args: SelectiveScanArgs): Promise<GpuScanResult> => {
    const name = "gpuSelectiveScanAsync";
    const dims = checkedScanDims(name, args);
    const { batch, dim, length: L, dstate: N, groups } = dims;
    const BD = batch * dim;
    const T = chunkSize;
    const key = JSON.stringify(dims);
    if (key !== cacheKey) {
      for (const k of kernels.values()) k.destroy();
      kernels = new Map();
      sources = {};
      cacheKey = key;
    }
    const expected: GpuBackend = mode === "gpu" ? bestGpuBackend() : mode;
    const packed = variant === "chunked" && GL_BACKENDS.includes(expected);
    const plan = scanLaunchPlan(dims, variant, T, packed);
    const traffic = summarizeTraffic(plan);
    const base = {
      backend: expected,
      variant,
      chunkSize: variant === "chunked" ? T : null,
      launches: plan,
      traffic,
    };
    if (BD * L * N === 0) {
      const empty: GpuScanResult = {
        out: { shape: [batch, dim, L], data: new Float32Array(BD * L) },
        ...base,
      };
      if (args.returnLastState)
        empty.lastState = { shape: [batch, dim, N], data: new Float32Array(BD * N) };
      return empty;
    }
    checkTextureBudget(name, dims, traffic, expected);
    const { u, delta, z, A, B, C, Dv, bias } = uploadScanInputs(args, dims);
    const used: GpuJsKernel[] = [];
    const live = new Set<unknown>();
    // every call is awaited: on webgpu a pipeline call resolves at submit, a read-back at mapAsync
    const call = async (k: GpuJsKernel, ...a: unknown[]): Promise<unknown> => {
      used.push(k);
      const r = await (k(...a) as Promise<unknown>);
      live.add(r);
      return r;
    };
    const free = (v: unknown): void => {
      live.delete(v);
      releaseDeviceValue(v);
    };

    try {
      const len = variant === "naive" ? L : Math.ceil(L / T);
      const passIn = kernel("pass-input", passInputSource(), [N, len, BD], true);
      const passDecay = kernel("pass-decay", passDecaySource(), [N, len, BD], true);
      const Dt = await call(kernel("delta", deltaKernelSource(dims), [L, BD], true), delta, bias);
      let P: unknown;
      let S: unknown;
      if (variant === "naive") {
        P = await call(kernel("expand-decay", expandDecaySource(dims), [N, L, BD], true), Dt, A);
        S = await call(kernel("expand-input", expandInputSource(dims), [N, L, BD], true), Dt, u, B);
      } else {
        S = await call(
          kernel("chunk-input", chunkInputSource(dims, T), [N, len, BD], true, T),
          Dt,
          u,
          A,
          B,
        );
        P = await call(
          kernel("chunk-decay", chunkDecaySource(dims, T), [N, len, BD], true, T),
          Dt,
          A,
        );
      }
      for (let s = 1; s < len; s *= 2) {
        const S2 = await call(passIn, P, S, s);
        free(S);
        S = S2;
        if (2 * s < len) {
          const P2 = await call(passDecay, P, s);
          free(P);
          P = P2;
        }
      }
      let y: unknown;
      if (variant === "naive") {
        const k = kernel("naive-output", naiveOutputSource(dims), [L, BD], false);
        y = dims.hasZ ? await call(k, S, u, C, Dv, z) : await call(k, S, u, C, Dv);
      } else {
        let [A_, B_, C_]: unknown[] = [A, B, C];
        if (packed) {
          const G = Math.ceil(N / 4);
          const pa = kernel("pack-a", packSource(dims, "A"), [G, dim], true, 1, "Array(4)");
          const pbc = kernel(
            "pack-b",
            packSource(dims, "BC"),
            [G, L, batch * groups],
            true,
            1,
            "Array(4)",
          );
          A_ = await call(pa, A);
          B_ = await call(pbc, B);
          C_ = await call(pbc, C);
        }
        const k = kernel("chunked-output", chunkedOutputSource(dims, T, packed), [L, BD], false, T);
        y = dims.hasZ
          ? await call(k, S, Dt, u, A_, B_, C_, Dv, z)
          : await call(k, S, Dt, u, A_, B_, C_, Dv);
      }
      const out = flattenRows(y, BD, L, name);
      let lastState: Float32Array | null = null;
      if (args.returnLastState) {
        const k = kernel("last-state", lastStateSource(len - 1), [N, BD], false);
        lastState = flattenRows(await call(k, S), BD, N, name);
      }
      const ran = new Set(used.map(kernelBackend));
      if (ran.size !== 1) {
        throw new Error(
          `${name}: kernels of one run ended up on different backends (${[...ran].join(", ")})`,
        );
      }
      const backend = [...ran][0];
      if (mode !== "gpu" && backend !== mode) {
        throw new Error(`${name}: asked for mode "${mode}" but gpu.js ran "${backend}"`);
      }
      const result: GpuScanResult = {
        out: { shape: [batch, dim, L], data: out },
        ...base,
        backend,
      };
      if (lastState) result.lastState = { shape: [batch, dim, N], data: lastState };
      return result;
    } finally {
      // intermediates (textures, storage buffers) die with the run, also when it failed
      for (const v of live) releaseDeviceValue(v);
    }
  };

  let busy = false;
  const run = async (args: SelectiveScanArgs): Promise<GpuScanResult> => {
    if (busy) {
      throw new Error(
        "gpuSelectiveScanAsync: this scanner is still running; await the previous run first",
      );
    }
    if (destroyed) throw new Error("gpuSelectiveScanAsync: the scanner was destroyed");
    busy = true;
    try {
      gpu ??= createAsyncGpu(fn, mode);
      gpu = await gpu;
      return mode === "webgpu"
        ? await withDeviceErrorScopes("gpuSelectiveScanAsync", () => scan(args))
        : await scan(args);
    } finally {
      busy = false;
    }
  };

  return {
    mode,
    variant,
    chunkSize,
    run,
    sources: () => ({ ...sources }),
    destroy: () => {
      for (const k of kernels.values()) k.destroy();
      kernels = new Map();
      if (gpu && !(gpu instanceof Promise)) gpu.destroy();
      gpu = null;
      destroyed = true;
    },
  };
}

/**
 * The selective scan on gpu.js under the asynchronous contract: the arguments, equations and
 * result of `gpuSelectiveScan` (u, delta, z (b, d, l); A (d, n); B, C (b, n, l) or (b, g, n, l);
 * D, deltaBias (d); out (b, d, l), lastState (b, d, n), float32):
 *
 *   Δ = softplus(delta + deltaBias),  h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t,
 *   out_t = (⟨h_t, C_t⟩ + D u_t) · silu(z_t),
 *
 * as a Promise. `mode` also accepts "webgpu": WGSL compute shaders over storage buffers, on the
 * browser's WebGPU or, in Node, on Dawn (the `webgpu` package, loaded on the first run; see
 * installWebGpu). A Node script that ran webgpu must end with `process.exit()`. One-shot: compiles, runs, frees the kernels; use
 * {@link createGpuSelectiveScanAsync} to run many times.
 */
export async function gpuSelectiveScanAsync(
  args: SelectiveScanArgs,
  options: GpuScanAsyncOptions = {},
): Promise<GpuScanResult> {
  // checked here too, so that a bad option names the function the user called
  checkAsyncOptions("gpuSelectiveScanAsync", options);
  const scanner = createGpuSelectiveScanAsync(options);
  try {
    return await scanner.run(args);
  } finally {
    scanner.destroy();
  }
}
