/**
 * The selective scan on gpu.js, two ways (lesson 08).
 *
 * - "naive": materialise exp(ΔA) and ΔBu for every (b, d, l, n) in GPU memory, scan them along l
 *   with Hillis-Steele rounds (each round reads and writes the whole expanded tensor), contract
 *   with C. The expanded state is n times larger than the input, and it is written and read
 *   2·⌈log2 l⌉ + 3 times.
 * - "chunked": the hardware-aware scan. Split l into chunks of T. One kernel runs the recurrence
 *   inside every chunk from a zero state and writes only the chunk's summary pair (decay P_c,
 *   input S_c): b·d·(l/T)·n values each. A Hillis-Steele scan over the l/T chunk summaries gives
 *   the state carried into every chunk. The output kernel replays at most T positions from that
 *   carried state, with all n states in registers, and writes only y: the expanded state never
 *   reaches memory. The replay (each output re-runs its chunk's prefix) is a gpu.js constraint,
 *   one output per thread and no shared memory; Mamba's fused CUDA kernel walks each chunk once.
 *   Mamba's recomputation belongs to the backward pass, which recomputes the states from the
 *   inputs instead of storing them.
 *
 * Intermediates stay on the device (gpu.js pipeline mode: kernels pass textures to each other);
 * only y and the last state are read back. Each result says which backend actually ran.
 */
import type { Tensor } from "../tensor";
import {
  MAX_ELEMENTS,
  checkArg,
  checkOptions as checkOptionsSchema,
  describe,
  isAbsent,
  schema,
} from "../validate";
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
  releaseDeviceValue,
} from "./backends";
import {
  type KernelLaunch,
  type ScanDims,
  type ScanKernelName,
  type ScanTraffic,
  GPU_CHUNK_SIZE,
  GPU_SCAN_VARIANT,
  MAX_GPU_DSTATE,
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

/** The two scans of lesson 08. */
export type GpuScanVariant = "naive" | "chunked";

/** Options of {@link gpuSelectiveScan} and {@link createGpuSelectiveScan}. */
export interface GpuScanOptions {
  /** gpu.js mode: a backend, or "gpu" for gpu.js's choice (default "gpu"). */
  mode?: GpuMode;
  /** Default "chunked". */
  variant?: GpuScanVariant;
  /** Chunk length T of the chunked variant (default 16). */
  chunkSize?: number;
}

/** What a gpu.js scan returns. */
export interface GpuScanResult {
  /** (b, d, l), float32. */
  out: Tensor<Float32Array>;
  /** (b, d, n), float32, when `returnLastState` was set. */
  lastState?: Tensor<Float32Array>;
  /** The backend every kernel of this run actually ran on. */
  backend: GpuBackend;
  variant: GpuScanVariant;
  /** T of the chunked variant, null for naive. */
  chunkSize: number | null;
  /** Every kernel launch of the run with its traffic. */
  launches: KernelLaunch[];
  /** Totals of `launches`, in bytes. */
  traffic: ScanTraffic;
}

/** A reusable gpu.js scan: kernels are compiled on the first run of each problem size. */
export interface GpuSelectiveScanner {
  readonly mode: GpuMode;
  readonly variant: GpuScanVariant;
  readonly chunkSize: number;
  /** Runs the scan (see {@link gpuSelectiveScan}). */
  run(args: SelectiveScanArgs): GpuScanResult;
  /** The generated kernel sources of the last problem size run, by kernel name. */
  sources(): Partial<Record<ScanKernelName, string>>;
  /** Frees the kernels and the GPU context. */
  destroy(): void;
}

const DEFAULT_CHUNK = 16;

function checkOptions(fn: string, options: unknown): Required<GpuScanOptions> {
  const o = checkOptionsSchema(fn, "options", options, GPU_SCAN_OPTION_KEYS) as Record<
    string,
    unknown
  >;
  if (o.mode === "webgpu" || o.mode === "async") {
    throw new Error(
      `${fn}: argument 'options.mode': "${o.mode}" runs kernels asynchronously, which lib's gpu.js scans do not support; use one of ${GPU_MODES.join(", ")}`,
    );
  }
  const mode = checkArg(fn, "options.mode", o.mode ?? "gpu", schema.oneOf(GPU_MODES));
  const variant = checkArg(fn, "options.variant", o.variant ?? "chunked", GPU_SCAN_VARIANT);
  if (!isAbsent(o.chunkSize) && variant !== "chunked") {
    throw new Error(
      `${fn}: argument 'options.chunkSize': only the "chunked" variant takes a chunk size`,
    );
  }
  const chunkSize = checkArg(fn, "options.chunkSize", o.chunkSize ?? DEFAULT_CHUNK, GPU_CHUNK_SIZE);
  return { mode, variant, chunkSize };
}

const GL_BACKENDS: readonly GpuBackend[] = ["headlessgl", "webgl2", "webgl"];

/**
 * Creates a reusable scanner (see {@link gpuSelectiveScan} for what it computes). Compiling
 * kernels is slow on some backends (seconds on a software rasteriser), so time the second run.
 */
export function createGpuSelectiveScan(options: GpuScanOptions = {}): GpuSelectiveScanner {
  return createScanner("createGpuSelectiveScan", options);
}

// `fn` is the function the user called (createGpuSelectiveScan or gpuSelectiveScan).
function createScanner(fn: string, options: GpuScanOptions): GpuSelectiveScanner {
  const { mode, variant, chunkSize } = checkOptions(fn, options);
  let gpu: GpuJsInstance | null = createGpu(fn, mode);
  let cacheKey = "";
  let kernels = new Map<string, GpuJsKernel>();
  let sources: Partial<Record<ScanKernelName, string>> = {};

  const kernel = (
    name: ScanKernelName,
    key: string,
    source: string,
    output: number[],
    pipeline: boolean,
    loopMax = 1,
    returnType?: "Array(4)",
  ): GpuJsKernel => {
    let k = kernels.get(key);
    if (!k) {
      if (!gpu) throw new Error("GpuSelectiveScanner: run after destroy()");
      k = gpu.createKernel(source, {
        output,
        pipeline,
        immutable: true,
        tactic: "precision",
        precision: "single",
        // Intermediates are packed four float32 per texel (4 bytes per value, as the traffic
        // accounting assumes). Kernels that read back to the host are not: the packed fetch code
        // is inlined at every load site, and the output kernels have many (compiling them packed
        // takes several times longer on Mesa).
        optimizeFloatMemory: pipeline && returnType === undefined,
        ...(returnType ? { returnType } : {}),
        // gpu.js silently cuts loops at loopMaxIterations (default 1000): set it to the real bound
        loopMaxIterations: Math.max(1, loopMax),
      });
      kernels.set(key, k);
      sources[name] = source;
    }
    return k;
  };

  const run = (args: SelectiveScanArgs): GpuScanResult => {
    const name = "gpuSelectiveScan";
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
    // On the GL backends the chunked output kernel fetches A, B and C four states per texel.
    const expected = mode === "gpu" ? bestGpuBackend() : (mode as GpuBackend);
    const packed = variant === "chunked" && GL_BACKENDS.includes(expected);
    const plan = scanLaunchPlan(dims, variant, T, packed);
    const traffic = summarizeTraffic(plan);
    if (BD * L * N === 0) {
      const empty: GpuScanResult = {
        out: { shape: [batch, dim, L], data: new Float32Array(BD * L) },
        backend: mode === "gpu" ? bestGpuBackend() : (mode as GpuBackend),
        variant,
        chunkSize: variant === "chunked" ? T : null,
        launches: plan,
        traffic,
      };
      if (args.returnLastState)
        empty.lastState = { shape: [batch, dim, N], data: new Float32Array(BD * N) };
      return empty;
    }
    checkTextureBudget(name, dims, traffic, expected);
    const { u, delta, z, A, B, C, Dv, bias } = uploadScanInputs(args, dims);
    const used: GpuJsKernel[] = [];
    const call = (k: GpuJsKernel, ...a: unknown[]): unknown => {
      used.push(k);
      return k(...a);
    };

    const len = variant === "naive" ? L : Math.ceil(L / T);
    const passIn = kernel("pass-input", `pass-input`, passInputSource(), [N, len, BD], true);
    const passDecay = kernel("pass-decay", `pass-decay`, passDecaySource(), [N, len, BD], true);
    const Dt = call(kernel("delta", "delta", deltaKernelSource(dims), [L, BD], true), delta, bias);
    let P: unknown;
    let S: unknown;
    if (variant === "naive") {
      P = call(
        kernel("expand-decay", "expand-decay", expandDecaySource(dims), [N, L, BD], true),
        Dt,
        A,
      );
      S = call(
        kernel("expand-input", "expand-input", expandInputSource(dims), [N, L, BD], true),
        Dt,
        u,
        B,
      );
    } else {
      const C_ = len;
      S = call(
        kernel("chunk-input", "chunk-input", chunkInputSource(dims, T), [N, C_, BD], true, T),
        Dt,
        u,
        A,
        B,
      );
      P = call(
        kernel("chunk-decay", "chunk-decay", chunkDecaySource(dims, T), [N, C_, BD], true, T),
        Dt,
        A,
      );
    }
    for (let s = 1; s < len; s *= 2) {
      const S2 = call(passIn, P, S, s);
      releaseDeviceValue(S);
      S = S2;
      if (2 * s < len) {
        const P2 = call(passDecay, P, s);
        releaseDeviceValue(P);
        P = P2;
      }
    }
    let y: unknown;
    if (variant === "naive") {
      const k = kernel("naive-output", "naive-output", naiveOutputSource(dims), [L, BD], false);
      y = dims.hasZ ? call(k, S, u, C, Dv, z) : call(k, S, u, C, Dv);
    } else {
      let [A_, B_, C_]: unknown[] = [A, B, C];
      if (packed) {
        const G = Math.ceil(N / 4);
        const pa = kernel("pack-a", "pack-a", packSource(dims, "A"), [G, dim], true, 1, "Array(4)");
        const pbc = kernel(
          "pack-b",
          "pack-bc",
          packSource(dims, "BC"),
          [G, L, batch * groups],
          true,
          1,
          "Array(4)",
        );
        A_ = call(pa, A);
        B_ = call(pbc, B);
        C_ = call(pbc, C);
      }
      const k = kernel(
        "chunked-output",
        "chunked-output",
        chunkedOutputSource(dims, T, packed),
        [L, BD],
        false,
        T,
      );
      y = dims.hasZ ? call(k, S, Dt, u, A_, B_, C_, Dv, z) : call(k, S, Dt, u, A_, B_, C_, Dv);
      if (packed) for (const t of [A_, B_, C_]) releaseDeviceValue(t);
    }
    const out = flattenRows(y, BD, L, name);
    let lastState: Float32Array | null = null;
    if (args.returnLastState) {
      const k = kernel("last-state", "last-state", lastStateSource(len - 1), [N, BD], false);
      lastState = flattenRows(call(k, S), BD, N, name);
    }
    releaseDeviceValue(S);
    releaseDeviceValue(P);
    releaseDeviceValue(Dt);
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
      backend,
      variant,
      chunkSize: variant === "chunked" ? T : null,
      launches: plan,
      traffic,
    };
    if (lastState) result.lastState = { shape: [batch, dim, N], data: lastState };
    return result;
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
      gpu?.destroy();
      gpu = null;
    },
  };
}

/**
 * The selective scan on gpu.js, with exactly the arguments of `selectiveScan` (u, delta, z
 * (b, d, l); A (d, n); B, C (b, n, l) or grouped (b, g, n, l); D, deltaBias (d); deltaSoftplus,
 * returnLastState):
 *
 *   Δ = softplus(delta + deltaBias),  h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t u_t,
 *   out_t = (⟨h_t, C_t⟩ + D u_t) · silu(z_t).
 *
 * `variant` "naive" materialises the (b, d, l, n) tensors, "chunked" does not (see the module
 * comment). Computed in float32 on the device; out (b, d, l) and lastState (b, d, n) are float32.
 * The result names the backend that ran and lists every launch with the bytes it wrote and read.
 *
 * One-shot: compiles the kernels, runs, frees everything. Use {@link createGpuSelectiveScan} to
 * run many times.
 */
export function gpuSelectiveScan(
  args: SelectiveScanArgs,
  options: GpuScanOptions = {},
): GpuScanResult {
  const scanner = createScanner("gpuSelectiveScan", options);
  try {
    return scanner.run(args);
  } finally {
    scanner.destroy();
  }
}

/**
 * The launches and traffic of a gpu.js scan of this size, without running it (the same plan the
 * run follows). Shapes as in {@link gpuSelectiveScan}; `hasZ` whether a gate z is given (default
 * true); `backend`: on the GL backends the chunked scan also packs A, B and C (default: not).
 */
export function gpuScanTraffic(
  size: { batch: number; dim: number; length: number; dstate: number; hasZ?: boolean },
  options: { variant: GpuScanVariant; chunkSize?: number; backend?: GpuBackend },
): { launches: KernelLaunch[]; traffic: ScanTraffic } {
  const fn = "gpuScanTraffic";
  checkOptionsSchema(fn, "size", size, TRAFFIC_SIZE);
  checkOptionsSchema(fn, "options", options, TRAFFIC_OPTIONS);
  const dims: ScanDims = {
    batch: size.batch,
    dim: size.dim,
    length: size.length,
    dstate: size.dstate,
    groups: 1,
    softplus: true,
    hasZ: size.hasZ ?? true,
  };
  const { variant, backend } = options;
  const T = options.chunkSize ?? DEFAULT_CHUNK;
  const packed = variant === "chunked" && !isAbsent(backend) && GL_BACKENDS.includes(backend);
  const launches = scanLaunchPlan(dims, variant, T, packed);
  return { launches, traffic: summarizeTraffic(launches) };
}

/**
 * The memory traffic of an ideal fused selective scan of this size (Gu & Dao 2023, §3.3.2): one
 * kernel reads every input once from main memory (u, Δ, z (b, d, l); B, C (b, n, l); A (d, n);
 * D, deltaBias (d)), keeps the expanded state (b, d, l, n) in on-chip memory, and writes the
 * output y (b, d, l) once, plus the last state (b, d, n) when `returnLastState` (default true, as
 * the gpu.js scans do). float32, 4 bytes a value. This is the floor that the naive and chunked
 * plans of {@link gpuScanTraffic} are measured against: a forward pass cannot move less.
 *
 *   bytesRead = 4 · ((2 + z) · b·d·l + 2 · b·n·l + d·n + 2·d),
 *   bytesWritten = 4 · (b·d·l + b·d·n).
 */
const IDEAL_OPTIONS = schema.options({ returnLastState: schema.optional(schema.boolean()) });

export function idealFusedTraffic(
  size: { batch: number; dim: number; length: number; dstate: number; hasZ?: boolean },
  options: { returnLastState?: boolean } = {},
): ScanTraffic {
  const fn = "idealFusedTraffic";
  checkArg(fn, "size", size, schema.object());
  const b = checkArg(fn, "size.batch", size.batch, schema.integer({ min: 1 }));
  const d = checkArg(fn, "size.dim", size.dim, schema.integer({ min: 1 }));
  const l = checkArg(fn, "size.length", size.length, schema.integer({ min: 1 }));
  const n = checkArg(fn, "size.dstate", size.dstate, schema.integer({ min: 1 }));
  if (size.hasZ !== undefined && typeof size.hasZ !== "boolean") {
    throw new Error(
      `${fn}: argument 'size.hasZ' must be true or false (got ${describe(size.hasZ)})`,
    );
  }
  checkOptionsSchema(fn, "options", options, IDEAL_OPTIONS);
  const hasZ = size.hasZ ?? true;
  const last = options.returnLastState ?? true;
  const bdl = b * d * l;
  const valuesRead = (hasZ ? 3 : 2) * bdl + 2 * b * n * l + d * n + 2 * d;
  const valuesWritten = bdl + (last ? b * d * n : 0);
  return {
    launches: 1,
    bytesRead: 4 * valuesRead,
    bytesWritten: 4 * valuesWritten,
    largestIntermediateBytes: 0,
  };
}

// Option keys of the scanners (the values are checked in checkOptions, whose messages depend on
// one another: a chunk size only with the chunked variant).
const GPU_SCAN_OPTION_KEYS = schema.options({
  mode: schema.optional(schema.present()),
  variant: schema.optional(schema.present()),
  chunkSize: schema.optional(schema.present()),
});

const TRAFFIC_SIZE = schema.options(
  {
    batch: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    dim: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    length: schema.integer({ min: 1, max: MAX_ELEMENTS }),
    dstate: schema.integer({ min: 1, max: MAX_GPU_DSTATE }),
    hasZ: schema.optional(schema.boolean()),
  },
  "a problem size",
);

const TRAFFIC_OPTIONS = schema.options({
  variant: GPU_SCAN_VARIANT,
  chunkSize: schema.optional(GPU_CHUNK_SIZE),
  backend: schema.optional(schema.present<GpuBackend>()),
});
