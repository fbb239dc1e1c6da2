/**
 * WebGPU for gpu.js's "webgpu" mode: in Node through Dawn (the `webgpu` package, a dependency of
 * gpu.js), in a browser through its own `navigator.gpu`; and the device errors of a run.
 *
 * Node has no `navigator.gpu`. {@link installWebGpu} loads Dawn's binding, publishes its
 * globals (GPUBufferUsage, ...) and a `navigator.gpu`, and shims one incompatibility: gpu.js
 * assigns a plain function to `device.onuncapturederror`, which Dawn's binding rejects ("object
 * is not of the correct interface type") because it expects its own EventHandler interface. The
 * shim gives every device an own `onuncapturederror` property (so the assignment succeeds) and
 * forwards the handler to Dawn's `addEventListener("uncapturederror", ...)`, so errors that no
 * error scope caught still reach it. Errors of a scan are caught by error scopes
 * ({@link withDeviceErrorScopes}) and thrown as Errors.
 *
 * Dawn keeps Node's event loop alive after use: a script that used it must end with
 * `process.exit()` (after {@link releaseWebGpu}), or it never exits.
 */
import { loadGpuJs } from "./backends";
import { MAX_ELEMENTS, argumentError, checkArg, describe, schema } from "../validate";

/** The parts of a WebGPU device lib uses (error scopes). */
interface ErrorScopeDevice {
  pushErrorScope(filter: "validation" | "out-of-memory" | "internal"): void;
  popErrorScope(): Promise<{ message: string } | null>;
}

interface WebGpuContextClass {
  isSupported: boolean;
  acquire(): Promise<{ adapter: unknown; device: ErrorScopeDevice }>;
  destroy(): Promise<void>;
}

/** What {@link installWebGpu} found. */
export interface WebGpuInfo {
  /** Whether navigator.gpu is Dawn's, loaded by lib (false: the browser's own). */
  dawn: boolean;
  /** The adapter's vendor, architecture, device and description, as far as it reports them. */
  adapter: string;
  /** The adapter's limits that the scans depend on. */
  maxStorageBuffersPerShaderStage: number;
  maxStorageBufferBindingSize: number;
}

/** Errors Dawn reported outside any error scope, oldest first (see {@link installWebGpu}). */
const uncaptured: string[] = [];

/** The uncaptured device errors seen since the last call, and forgets them. */
export function takeUncapturedWebGpuErrors(): string[] {
  return uncaptured.splice(0, uncaptured.length);
}

type Handler = ((event: unknown) => void) | null;

/** Gives a Dawn device an own, assignable `onuncapturederror` that Dawn's events still reach. */
function shimDevice(device: Record<string, unknown>): void {
  let handler: Handler = null;
  const listen = device.addEventListener as
    ((type: string, fn: (event: unknown) => void) => void) | undefined;
  const forward = (event: unknown): void => {
    const message = (event as { error?: { message?: string } })?.error?.message ?? String(event);
    uncaptured.push(message);
    if (handler) handler(event);
  };
  if (typeof listen === "function") {
    // Dawn's binding matches listeners by overload: try a function, then an EventListener object
    // (if neither is accepted, the scans' error scopes still catch their errors)
    for (const listener of [forward, { handleEvent: forward }]) {
      try {
        listen.call(device, "uncapturederror", listener as (event: unknown) => void);
        break;
      } catch {
        // try the next form
      }
    }
  }
  Object.defineProperty(device, "onuncapturederror", {
    configurable: true,
    enumerable: true,
    get: () => handler,
    set: (fn: Handler) => {
      handler = typeof fn === "function" ? fn : null;
    },
  });
}

/** The parts of navigator.gpu and its adapter that the wrapper touches. */
interface GpuLike {
  requestAdapter(options?: unknown): Promise<Record<string, unknown> | null>;
}

const WRAPPED = Symbol.for("mamba-ts.webgpu.wrapped");

/**
 * The limits a device gets at the adapter's value instead of WebGPU's default (and the "subgroups"
 * feature where the adapter has it, see {@link SUBGROUP_SIZES}): storage buffers per shader stage
 * (default 8; the chunked scan's output kernel binds 9: S, Δ, u, A, B, C, D and z, plus its
 * output) and workgroup memory (default 16 KiB; the WGSL scan's tiles of a chunk).
 */
const RAISED_LIMITS = ["maxStorageBuffersPerShaderStage", "maxComputeWorkgroupStorageSize"];

/**
 * The subgroup size of each device the wrapper made with the "subgroups" feature, where the
 * adapter reports one size (its min and max subgroup sizes equal: 32 on NVIDIA, 4 on SwiftShader);
 * a shader can then be written for that size (the WGSL backward's shuffles).
 */
const SUBGROUP_SIZES = new WeakMap<object, number>();

/**
 * Wraps navigator.gpu so that every device gpu.js requests (a) gets the adapter's own
 * {@link RAISED_LIMITS} and its "subgroups" feature; and (b) on Dawn, an assignable
 * `onuncapturederror` (see the module comment).
 */
function wrapNavigatorGpu(gpu: GpuLike): GpuLike {
  if ((gpu as unknown as Record<symbol, unknown>)[WRAPPED]) return gpu;
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  const wrapAdapter = (adapter: Record<string, unknown>): Record<string, unknown> => {
    const requestDevice = (
      adapter.requestDevice as (d?: unknown) => Promise<Record<string, unknown>>
    ).bind(adapter);
    const limits = adapter.limits as Record<string, number>;
    const features = adapter.features as { has(name: string): boolean } | undefined;
    const info = adapter.info as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
    const subgroups = features?.has("subgroups") === true;
    const subgroupSize =
      subgroups && info?.subgroupMinSize && info.subgroupMinSize === info.subgroupMaxSize
        ? info.subgroupMinSize
        : 0;
    return new Proxy(adapter, {
      get(target, key) {
        if (key === "requestDevice") {
          return async (
            descriptor: {
              requiredLimits?: Record<string, number>;
              requiredFeatures?: string[];
            } = {},
          ) => {
            const adapterLimits: Record<string, number> = {};
            for (const key of RAISED_LIMITS) {
              if (typeof limits?.[key] === "number") adapterLimits[key] = limits[key];
            }
            const requiredFeatures = [...(descriptor.requiredFeatures ?? [])];
            if (subgroups && !requiredFeatures.includes("subgroups")) {
              requiredFeatures.push("subgroups");
            }
            const device = await requestDevice({
              ...descriptor,
              requiredFeatures,
              requiredLimits: { ...adapterLimits, ...descriptor.requiredLimits },
            });
            shimDevice(device);
            if (subgroupSize > 0) SUBGROUP_SIZES.set(device, subgroupSize);
            return device;
          };
        }
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  return new Proxy(gpu as unknown as Record<string | symbol, unknown>, {
    get(target, key) {
      if (key === WRAPPED) return true;
      if (key === "requestAdapter") {
        return async (options?: unknown) => {
          const adapter = await requestAdapter(options);
          return adapter ? wrapAdapter(adapter) : adapter;
        };
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as unknown as GpuLike;
}

let installing: Promise<WebGpuInfo> | null = null;

/**
 * Makes gpu.js's "webgpu" mode ready: in Node without navigator.gpu it loads Dawn (the `webgpu`
 * package) with creation `flags` (e.g. `["backend=vulkan"]`), publishes its globals
 * (GPUBufferUsage, ...) and sets `globalThis.navigator.gpu`; in every case it wraps navigator.gpu
 * (see {@link wrapNavigatorGpu}) and checks that an adapter answers. Idempotent: later calls
 * return the first call's answer. Call it before gpu.js creates its WebGPU device (the scans do).
 * Throws, naming the cause, when Dawn cannot load (its binary needs glibc >= 2.38 and libstdc++
 * with GLIBCXX_3.4.32) or no adapter answers (no Vulkan driver: set VK_DRIVER_FILES).
 */
export function installWebGpu(flags: string[] = []): Promise<WebGpuInfo> {
  const fn = "installWebGpu";
  if (!Array.isArray(flags) || flags.some((f) => typeof f !== "string")) {
    throw new Error(
      `${fn}: argument 'flags' must be an array of strings such as ["backend=vulkan"] (got ${describe(flags)})`,
    );
  }
  installing ??= install(fn, flags);
  // a failed attempt may be retried (after fixing the environment)
  installing.catch(() => {
    installing = null;
  });
  return installing;
}

async function install(fn: string, flags: string[]): Promise<WebGpuInfo> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  let dawn = false;
  if (!g.navigator?.gpu) {
    let mod: { create(flags: string[]): unknown; globals: Record<string, unknown> };
    try {
      mod = (await import("webgpu")) as unknown as typeof mod;
    } catch (err) {
      throw new Error(
        `${fn}: no navigator.gpu, and the \`webgpu\` (Dawn) module could not load: ${(err as Error).message.split("\n")[0]} (its binary needs glibc >= 2.38 and libstdc++ with GLIBCXX_3.4.32)`,
      );
    }
    Object.assign(globalThis, mod.globals);
    const created = mod.create(flags);
    // Node 20 has no navigator; later versions have one without gpu
    if (g.navigator)
      Object.defineProperty(g.navigator, "gpu", { value: created, configurable: true });
    else g.navigator = { gpu: created };
    dawn = true;
  }
  const wrapped = wrapNavigatorGpu(g.navigator!.gpu as GpuLike);
  Object.defineProperty(g.navigator!, "gpu", { value: wrapped, configurable: true });
  const adapter = await wrapped.requestAdapter();
  if (!adapter) {
    throw new Error(
      `${fn}: navigator.gpu answered no adapter (no Vulkan driver found: on NVIDIA set VK_DRIVER_FILES to the driver's nvidia_icd.json)`,
    );
  }
  const info = (adapter.info ?? {}) as Record<string, string>;
  const parts = ["vendor", "architecture", "device", "description"]
    .map((k) => info[k])
    .filter((v) => typeof v === "string" && v.length > 0);
  const limits = adapter.limits as Record<string, number>;
  return {
    dawn,
    adapter: parts.join(" / ") || "unknown adapter",
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
  };
}

function webGpuContext(): WebGpuContextClass {
  return (loadGpuJs() as unknown as { WebGPUContext: WebGpuContextClass }).WebGPUContext;
}

/**
 * Runs `body` inside validation, out-of-memory and internal error scopes of gpu.js's shared
 * WebGPU device and throws the first error they caught, prefixed with `fn` (WebGPU reports such
 * errors asynchronously and otherwise only to the console: a dropped dispatch would leave zeros).
 */
export async function withDeviceErrorScopes<T>(fn: string, body: () => Promise<T>): Promise<T> {
  const { device } = await webGpuContext().acquire();
  const filters = ["internal", "out-of-memory", "validation"] as const;
  for (const f of filters) device.pushErrorScope(f);
  let result: T | undefined;
  let failure: unknown = null;
  try {
    result = await body();
  } catch (err) {
    failure = err;
  }
  const errors: string[] = [];
  for (let i = filters.length - 1; i >= 0; i--) {
    const e = await device.popErrorScope();
    if (e) errors.push(`${filters[i]} error: ${e.message}`);
  }
  if (failure !== null) throw failure;
  if (errors.length > 0) throw new Error(`${fn}: the WebGPU device reported ${errors.join("; ")}`);
  return result as T;
}

/**
 * Destroys gpu.js's shared WebGPU device (gpu.destroy() does not), so the next webgpu kernel
 * gets a fresh one. Node still needs an explicit `process.exit()` afterwards.
 */
export async function releaseWebGpu(): Promise<void> {
  if (!webGpuContext().isSupported) return;
  await webGpuContext().destroy();
}

// ---- data on the device: buffers gpu.js kernels bind, read-back, and waiting for the GPU ----

// GPUBufferUsage and GPUMapMode values (fixed by the WebGPU specification)
const USAGE_MAP_READ = 0x0001;
const USAGE_MAP_WRITE = 0x0002;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;
const MAP_MODE_WRITE = 0x0002;

/** The ways {@link createWebGpuBuffer} moves data to the device (see there). */
export const WEBGPU_UPLOADS = ["staged", "write", "mapped"] as const;
/** How {@link createWebGpuBuffer} moves data to the device. */
export type WebGpuUpload = (typeof WEBGPU_UPLOADS)[number];

/** Bytes per staging buffer of the "staged" upload and of {@link readWebGpuBuffer}: 16 MiB. */
export const STAGING_BYTES = 16 * 2 ** 20;
/** Staging buffers per direction and slice size: the host fills or empties one, the GPU copies the others. */
const STAGING_BUFFERS = 4;

/** The parts of a WebGPU device the functions below use. */
interface DeviceLike {
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): BufferLike;
  createCommandEncoder(): {
    copyBufferToBuffer(a: BufferLike, ao: number, b: BufferLike, bo: number, n: number): void;
    finish(): unknown;
  };
  queue: {
    writeBuffer(b: BufferLike, offset: number, data: ArrayBufferView): void;
    submit(buffers: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
}

interface BufferLike {
  size: number;
  mapAsync(mode: number, offset: number, size: number): Promise<void>;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  destroy(): void;
}

/** The compute parts of a WebGPU device that {@link firstNonFiniteOnDevice} and {@link compileWgsl} use. */
interface ComputeDeviceLike extends DeviceLike {
  limits: Record<string, number>;
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: {
    layout: "auto";
    compute: { module: unknown; entryPoint: string };
  }): ComputePipelineLike;
  createBindGroup(d: {
    layout: unknown;
    entries: {
      binding: number;
      resource: { buffer: BufferLike; offset?: number; size?: number };
    }[];
  }): unknown;
  createCommandEncoder(): ReturnType<DeviceLike["createCommandEncoder"]> & {
    beginComputePass(): {
      setPipeline(p: ComputePipelineLike): void;
      setBindGroup(index: number, group: unknown): void;
      dispatchWorkgroups(x: number, y?: number): void;
      end(): void;
    };
  };
}

interface ComputePipelineLike {
  getBindGroupLayout(index: number): unknown;
}

/** gpu.js's shared WebGPU context ({ device }), created on first use. */
async function sharedContext(): Promise<{ device: DeviceLike; isLost?: boolean }> {
  return (await webGpuContext().acquire()) as unknown as { device: DeviceLike };
}

/**
 * A staging buffer kept for the device's lifetime, and its turn: the promise that resolves when
 * the previous user is done with it (a write buffer is then mapped, a read buffer unmapped).
 */
interface Staging {
  buffer: BufferLike;
  turn: Promise<void>;
}

/** Staging buffers by device, direction and size: made once, so no transfer allocates memory. */
const stagingPools = new WeakMap<DeviceLike, Map<string, Staging[]>>();

function stagingPool(device: DeviceLike, direction: "write" | "read", bytes: number): Staging[] {
  let pools = stagingPools.get(device);
  if (!pools) stagingPools.set(device, (pools = new Map()));
  const key = `${direction} ${bytes}`;
  let pool = pools.get(key);
  if (!pool) {
    const write = direction === "write";
    pool = Array.from({ length: STAGING_BUFFERS }, () => ({
      buffer: device.createBuffer({
        size: bytes,
        usage: write ? USAGE_MAP_WRITE | USAGE_COPY_SRC : USAGE_MAP_READ | USAGE_COPY_DST,
        mappedAtCreation: write,
      }),
      turn: Promise.resolve(),
    }));
    pools.set(key, pool);
  }
  return pool;
}

/** Waits for slot's turn and takes it; call the returned function to pass the turn on. */
async function takeTurn(slot: Staging): Promise<() => void> {
  const previous = slot.turn;
  let release!: () => void;
  slot.turn = new Promise<void>((resolve) => (release = resolve));
  await previous;
  return release;
}

/**
 * data into buffer through the device's staging buffers of `sliceBytes`: the host copies a slice
 * into a mapped staging buffer while the GPU copies earlier ones on to the target.
 */
async function stagedUpload(
  device: DeviceLike,
  data: Float32Array,
  target: BufferLike,
  sliceBytes: number,
): Promise<void> {
  const pool = stagingPool(device, "write", sliceBytes);
  const per = sliceBytes / 4;
  for (let i = 0, s = 0; i < data.length; i += per, s++) {
    const slot = pool[s % pool.length];
    const release = await takeTurn(slot);
    try {
      const n = Math.min(per, data.length - i);
      new Float32Array(slot.buffer.getMappedRange(0, 4 * n)).set(data.subarray(i, i + n));
      slot.buffer.unmap();
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(slot.buffer, 0, target, 4 * i, 4 * n);
      device.queue.submit([encoder.finish()]);
    } catch (e) {
      release();
      throw e;
    }
    // mapped again once the GPU has copied it: then the next user may write
    slot.buffer.mapAsync(MAP_MODE_WRITE, 0, sliceBytes).then(release, release);
  }
}

/**
 * Uploads `data` into a new storage buffer of gpu.js's shared WebGPU device and returns it as a
 * gpu.js `WebGPUBufferResult` of logical size `size` ([x, y, z], x fastest), so that every gpu.js
 * webgpu kernel binds it as an array argument without copying (gpu.js's pipeline type). Free it
 * with `.delete()`. `how`: "staged" (the default) copies `sliceBytes` at a time (default
 * {@link STAGING_BYTES}, less for less data) into staging buffers the device keeps, and the GPU
 * copies them on (no memory is allocated on the host side); "write" hands the data to
 * queue.writeBuffer, `sliceBytes` at a time (default all at once), which stages it in new memory
 * of its own; "mapped" writes into the buffer mapped at creation.
 */
export async function createWebGpuBuffer(
  data: Float32Array,
  size: number[],
  how: WebGpuUpload = "staged",
  sliceBytes?: number,
): Promise<unknown> {
  const fn = "createWebGpuBuffer";
  // (no per-value check: the scans check their tensors, on the host or, for the largest, on the
  // device after this upload with firstNonFiniteOnDevice)
  if (!(data instanceof Float32Array) || data.length === 0) {
    throw argumentError(fn, "data", `a non-empty Float32Array (got ${describe(data)})`);
  }
  checkArg(fn, "size", size, schema.shape({ maxElements: MAX_ELEMENTS }));
  const count = size.reduce((p, s) => p * s, 1);
  if (count !== data.length) {
    throw argumentError(
      fn,
      "size",
      `[${size.join(", ")}] holds ${count} values, data has ${data.length}`,
    );
  }
  checkArg(fn, "how", how, schema.oneOf(WEBGPU_UPLOADS));
  const slice =
    checkSliceBytes(fn, sliceBytes) ??
    (how === "staged" ? defaultSlice(data.byteLength) : Infinity);
  const context = await sharedContext();
  const mapped = how === "mapped";
  const buffer = context.device.createBuffer({
    size: Math.max(4, data.byteLength),
    usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
    mappedAtCreation: mapped,
  });
  if (mapped) {
    new Float32Array(buffer.getMappedRange(), 0, data.length).set(data);
    buffer.unmap();
  } else if (how === "staged") {
    await stagedUpload(context.device, data, buffer, slice);
  } else {
    const per = Math.min(data.length, slice / 4);
    for (let i = 0; i < data.length; i += per) {
      context.device.queue.writeBuffer(
        buffer,
        4 * i,
        data.subarray(i, Math.min(data.length, i + per)),
      );
    }
  }
  return bufferResult(buffer, size, context);
}

/**
 * The default slice for a transfer of `bytes`: {@link STAGING_BYTES}, or for less data the next
 * power of two from 64 KiB, so that small transfers keep small staging buffers (a few sizes in
 * all) rather than four of 16 MiB.
 */
function defaultSlice(bytes: number): number {
  let slice = 65536;
  while (slice < bytes && slice < STAGING_BYTES) slice *= 2;
  return slice;
}

/** A slice size in bytes: absent, or a positive multiple of 4 (at most 2^31). */
function checkSliceBytes(fn: string, sliceBytes: unknown): number | undefined {
  const b = checkArg(
    fn,
    "sliceBytes",
    sliceBytes,
    schema.optional(schema.integer({ min: 4, max: 2 ** 31 })),
  );
  if (b !== undefined && b % 4 !== 0) {
    throw argumentError(fn, "sliceBytes", `a multiple of 4 (got ${b})`);
  }
  return b;
}

interface BufferResultLike {
  buffer: BufferLike;
  output: number[];
  componentCount: number;
  context: object;
  kernel: unknown;
}

function isBufferResult(value: unknown): value is BufferResultLike {
  return (
    value !== null &&
    typeof value === "object" &&
    (value as { type?: unknown }).type === "WebGPUBuffer" &&
    typeof (value as { buffer?: unknown }).buffer === "object"
  );
}

/**
 * The same device buffer as a scalar gpu.js `WebGPUBufferResult` of logical size `size`, e.g. an
 * Array(4) result [x, y] as [4x, y] (gpu.js does not bind Array(n) results as arguments; the
 * memory layout is the same). The buffer lives until both results are deleted.
 */
export function reshapeWebGpuResult(value: unknown, size: number[]): unknown {
  const fn = "reshapeWebGpuResult";
  if (!isBufferResult(value)) {
    throw argumentError(fn, "value", `a gpu.js WebGPUBufferResult (got ${describe(value)})`);
  }
  // The buffer exists already: its own length bounds the shape, not the cap on a new tensor.
  const have = value.output.reduce((p, s) => p * s, 1) * value.componentCount;
  checkArg(fn, "size", size, schema.shape({ maxElements: have }));
  const count = size.reduce((p, s) => p * s, 1);
  if (count !== have) {
    throw argumentError(
      fn,
      "size",
      `[${size.join(", ")}] holds ${count} values, the buffer ${have}`,
    );
  }
  const { WebGPUBufferResult } = loadGpuJs() as unknown as {
    WebGPUBufferResult: new (s: object) => unknown;
  };
  return new WebGPUBufferResult({ ...value, output: size, componentCount: 1 });
}

/**
 * Reads the first `length` float32 values of a gpu.js `WebGPUBufferResult` back to the host,
 * flat, whatever the result's shape: `sliceBytes` at a time (default {@link STAGING_BYTES}, less
 * for less data) through staging buffers the device keeps, the GPU copying the next slices while
 * the host takes one out.
 */
export async function readWebGpuBuffer(
  value: unknown,
  length: number,
  sliceBytes?: number,
): Promise<Float32Array> {
  const fn = "readWebGpuBuffer";
  if (!isBufferResult(value)) {
    throw argumentError(fn, "value", `a gpu.js WebGPUBufferResult (got ${describe(value)})`);
  }
  checkArg(fn, "length", length, schema.integer({ min: 1, max: value.buffer.size / 4 }));
  const slice = checkSliceBytes(fn, sliceBytes) ?? defaultSlice(4 * length);
  const { device } = await sharedContext();
  const pool = stagingPool(device, "read", slice);
  const out = new Float32Array(length);
  const per = slice / 4;
  const readSlice = async (s: number): Promise<void> => {
    const slot = pool[s % pool.length];
    const release = await takeTurn(slot);
    try {
      const i = s * per;
      const bytes = 4 * Math.min(per, length - i);
      const encoder = device.createCommandEncoder();
      encoder.copyBufferToBuffer(value.buffer, 4 * i, slot.buffer, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await slot.buffer.mapAsync(MAP_MODE_READ, 0, bytes);
      out.set(new Float32Array(slot.buffer.getMappedRange(0, bytes)), i);
      slot.buffer.unmap();
    } finally {
      release();
    }
  };
  await Promise.all(Array.from({ length: Math.ceil(length / per) }, (_, s) => readSlice(s)));
  return out;
}

/** The WGSL of {@link firstNonFiniteOnDevice}: per invocation, a grid-stride walk over the words. */
const FIRST_NON_FINITE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> data: array<u32>;
@group(0) @binding(1) var<storage, read_write> first: atomic<u32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * 256u;
  for (var i = id.x; i < arrayLength(&data); i += stride) {
    // NaN and ±∞ are the float32 values whose exponent bits are all ones (read as bits, so no
    // float rule of the shader compiler can assume them away)
    if ((data[i] & 0x7f800000u) == 0x7f800000u) {
      // this invocation's first; the smallest over all invocations is the buffer's first
      atomicMin(&first, i);
      return;
    }
  }
}
`;

/** WebGPU's minimum alignment of a storage buffer binding's offset. */
const BINDING_ALIGN = 256;

/** The compiled {@link FIRST_NON_FINITE_WGSL} pipeline, one per device. */
const firstNonFinitePipelines = new WeakMap<object, unknown>();

/**
 * The index of the first NaN or ±∞ in each of `values` (gpu.js `WebGPUBufferResult`s of float32,
 * e.g. from {@link createWebGpuBuffer}), or −1 where every value is finite: the host's
 * `firstNonFinite` run on the GPU, one pass over each buffer and one small read-back for all of
 * them. The scan checks its largest inputs this way after uploading them, since the GPU reads a
 * gigabyte in about a millisecond where the host needs a third of a second.
 */
export async function firstNonFiniteOnDevice(values: unknown[]): Promise<number[]> {
  const fn = "firstNonFiniteOnDevice";
  if (!Array.isArray(values)) {
    throw argumentError(
      fn,
      "values",
      `an array of gpu.js WebGPUBufferResults (got ${describe(values)})`,
    );
  }
  values.forEach((v, j) => {
    if (!isBufferResult(v)) {
      throw argumentError(fn, `values[${j}]`, `a gpu.js WebGPUBufferResult (got ${describe(v)})`);
    }
  });
  if (values.length === 0) return [];
  const buffers = (values as BufferResultLike[]).map((v) => v.buffer);
  return withDeviceErrorScopes(fn, async () => {
    const { device } = (await sharedContext()) as unknown as { device: ComputeDeviceLike };
    let pipeline = firstNonFinitePipelines.get(device) as ComputePipelineLike | undefined;
    if (!pipeline) {
      const module = device.createShaderModule({ code: FIRST_NON_FINITE_WGSL });
      pipeline = device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      firstNonFinitePipelines.set(device, pipeline);
    }
    // one u32 per buffer, each at its own binding offset, starting at "none found" (2^32 − 1)
    const bytes = BINDING_ALIGN * buffers.length;
    const found = device.createBuffer({
      size: bytes,
      usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
    });
    const readable = device.createBuffer({ size: bytes, usage: USAGE_MAP_READ | USAGE_COPY_DST });
    try {
      device.queue.writeBuffer(found, 0, new Uint32Array(bytes / 4).fill(0xffffffff));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      buffers.forEach((buffer, j) => {
        const count = buffer.size / 4;
        pass.setBindGroup(
          0,
          device.createBindGroup({
            layout: pipeline!.getBindGroupLayout(0),
            entries: [
              { binding: 0, resource: { buffer } },
              { binding: 1, resource: { buffer: found, offset: BINDING_ALIGN * j, size: 4 } },
            ],
          }),
        );
        // about 16 words per invocation, at most 65,535 workgroups (WebGPU's default limit)
        pass.dispatchWorkgroups(Math.min(65535, Math.max(1, Math.ceil(count / (256 * 16)))));
      });
      pass.end();
      encoder.copyBufferToBuffer(found, 0, readable, 0, bytes);
      device.queue.submit([encoder.finish()]);
      await readable.mapAsync(MAP_MODE_READ, 0, bytes);
      const words = new Uint32Array(readable.getMappedRange(0, bytes).slice(0));
      readable.unmap();
      return buffers.map((_, j) => {
        const i = words[(BINDING_ALIGN / 4) * j];
        return i === 0xffffffff ? -1 : i;
      });
    } finally {
      found.destroy();
      readable.destroy();
    }
  });
}

/** A WGSL compute shader compiled on gpu.js's shared WebGPU device (see {@link compileWgsl}). */
export interface WgslPipeline {
  /**
   * Submits one dispatch of `groups` ([x, y]) workgroups with `buffers` (gpu.js
   * `WebGPUBufferResult`s) bound at bindings 0, 1, ... of group 0. Returns at once; the GPU runs
   * it in order with gpu.js's kernels ({@link webGpuIdle} waits for it).
   */
  dispatch(buffers: unknown[], groups: [number, number]): void;
}

/**
 * Compiles `code` (WGSL with one compute entry point `main`, storage buffers at group 0) on
 * gpu.js's shared WebGPU device, inside error scopes: a shader the device rejects throws, naming
 * `fn`, the function the user called.
 */
export async function compileWgsl(fn: string, code: string): Promise<WgslPipeline> {
  const { device } = (await sharedContext()) as unknown as { device: ComputeDeviceLike };
  const pipeline = await withDeviceErrorScopes(fn, async () =>
    device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
    }),
  );
  // the bind group of the last dispatch, reused while the same buffers come back
  let bound: { buffers: BufferLike[]; group: unknown } | null = null;
  return {
    dispatch(values, [x, y]) {
      const buffers = values.map((v, j) => {
        if (!isBufferResult(v)) {
          throw argumentError(
            fn,
            `buffers[${j}]`,
            `a gpu.js WebGPUBufferResult (got ${describe(v)})`,
          );
        }
        return v.buffer;
      });
      if (
        !bound ||
        bound.buffers.some((b, j) => b !== buffers[j]) ||
        bound.buffers.length !== buffers.length
      ) {
        const group = device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
        });
        bound = { buffers, group };
      }
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bound.group);
      pass.dispatchWorkgroups(x, y);
      pass.end();
      device.queue.submit([encoder.finish()]);
    },
  };
}

/** The limits of gpu.js's shared WebGPU device (e.g. maxComputeWorkgroupStorageSize). */
export async function webGpuLimits(): Promise<Record<string, number>> {
  const { device } = (await sharedContext()) as unknown as { device: ComputeDeviceLike };
  return device.limits;
}

/**
 * The subgroup size a shader on gpu.js's shared WebGPU device may be written for: the adapter's
 * one subgroup size where the device has the "subgroups" feature (WGSL's `enable subgroups;`) and
 * the adapter reports a single size; 0 otherwise.
 */
export async function webGpuSubgroupSize(): Promise<number> {
  const { device } = await sharedContext();
  return SUBGROUP_SIZES.get(device) ?? 0;
}

/**
 * A new storage buffer of `size` ([x, y, z], x fastest) float32 zeros on gpu.js's shared WebGPU
 * device, as a gpu.js `WebGPUBufferResult` (for a hand-written shader's output; free it with
 * `.delete()`). Its size is bounded by the device's limits on one buffer and one binding, not by
 * lib's limit on a tensor: a shader's output may hold several tensors.
 */
export async function allocateWebGpuBuffer(size: number[]): Promise<unknown> {
  const context = await sharedContext();
  const limits = (context.device as unknown as ComputeDeviceLike).limits;
  // as many float32 values as one buffer and one storage binding of this device hold
  const maxElements = Math.floor(
    Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize) / 4,
  );
  checkArg("allocateWebGpuBuffer", "size", size, schema.shape({ maxElements }));
  const count = size.reduce((p, s) => p * s, 1);
  const buffer = context.device.createBuffer({
    size: 4 * count,
    usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
  });
  return bufferResult(buffer, size, context);
}

/** A device buffer as gpu.js's pipeline type, a `WebGPUBufferResult` of logical size `size`. */
function bufferResult(buffer: BufferLike, size: number[], context: object): unknown {
  const { WebGPUBufferResult } = loadGpuJs() as unknown as {
    WebGPUBufferResult: new (s: object) => unknown;
  };
  return new WebGPUBufferResult({ buffer, output: size, componentCount: 1, context, kernel: null });
}

/** Resolves when the GPU has finished everything submitted to gpu.js's WebGPU device so far. */
export async function webGpuIdle(): Promise<void> {
  const { device } = await sharedContext();
  await device.queue.onSubmittedWorkDone();
}

/**
 * The fixed cost of one submit: the median time (seconds) of submitting an empty command buffer
 * and waiting for the GPU to report it done, over `repeats` tries (default 50).
 */
export async function measureWebGpuSubmit(repeats = 50): Promise<number> {
  checkArg("measureWebGpuSubmit", "repeats", repeats, schema.integer({ min: 1, max: 100000 }));
  const { device } = await sharedContext();
  const times: number[] = [];
  for (let i = 0; i < repeats + 3; i++) {
    const t = performance.now();
    device.queue.submit([device.createCommandEncoder().finish()]);
    await device.queue.onSubmittedWorkDone();
    if (i >= 3) times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
