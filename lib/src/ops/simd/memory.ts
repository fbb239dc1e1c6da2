/**
 * The simd backend's memory: one WebAssembly memory per thread, the arena its tensors come from,
 * and the kernels of `./kernels.ts` behind typed functions with named arguments.
 *
 * Memory scheme. Every tensor the backend makes is a {@link SimdTensor}: `{ shape, data }` with
 * `data` a Float32Array view into the memory, so the kernels read and write it in place and
 * TypeScript ops read it like any tensor. Tensors come from a bump allocator (the arena) that
 * {@link SimdMemory.reset} empties once per call (a loss-and-gradients pass, a forward): nothing
 * is freed inside a call, so every tensor a tape holds stays valid until the call ends, and the
 * next call reuses the same addresses (after the first call, a step allocates no new memory).
 * The arena grows the memory when a call needs more. A WebAssembly memory of a module's own
 * detaches every view when it grows; this one is a *shared* memory (imported by the modules as
 * `env.memory`), which keeps its address range when it grows, so views taken before a growth stay
 * valid. Results leave the memory as copies (`recordLossAndGrads` copies the gradients out): a
 * tensor of one call must not be used after the next {@link SimdMemory.reset}, and
 * {@link SimdMemory.owns} tells a tensor of this call from any other.
 *
 * Each allocation starts on a 16-byte boundary and owns its size rounded up to 16 bytes, so the
 * elementwise kernels may run over whole vectors (the lanes past the end are the tensor's own).
 */
import type { Tensor } from "../../tensor";
import { type ModuleMemory, type WasmMemory, wasmApi, wasmSimdSupported } from "./wasm";
import { causalConvModuleBytes, coreModuleBytes, scanModuleBytes } from "./kernels";

/** A float32 tensor in a {@link SimdMemory}, made by its arena during the current call. */
export class SimdTensor implements Tensor<Float32Array> {
  constructor(
    readonly shape: number[],
    readonly data: Float32Array,
    /** The memory it lives in, and that arena's call number when it was made. */
    readonly memory: SimdMemory,
    readonly call: number,
  ) {}
  /** Byte address of element `index` (what a kernel is given). */
  at(index = 0): number {
    return this.data.byteOffset + 4 * index;
  }
}

/**
 * A strided 2-D view of a tensor for {@link SimdMemory.gemm}: element (i, j) is
 * `t.data[offset + i · rowStride + j · colStride]`.
 */
export interface MatrixView {
  t: SimdTensor;
  offset: number;
  rowStride: number;
  colStride: number;
}

/** The view of t (or of its rows from `firstRow`) as a row-major matrix of `cols` columns. */
export function rowMajor(t: SimdTensor, cols: number, firstRow = 0): MatrixView {
  return { t, offset: firstRow * cols, rowStride: cols, colStride: 1 };
}

/** The transpose of {@link rowMajor}: (i, j) is element (j, i) of the (·, cols) matrix t. */
export function transposed(t: SimdTensor, cols: number, firstRow = 0): MatrixView {
  return { t, offset: firstRow * cols, rowStride: 1, colStride: cols };
}

/** The largest state size the scan kernels are generated for (N vector registers per channel). */
export const MAX_SCAN_STATE = 64;

/** Channels padded to whole vectors of four. */
export function padded(channels: number): number {
  return Math.ceil(channels / 4) * 4;
}

/** The arguments of the scan kernels that both directions read (one layer, all batch elements). */
export interface ScanOperands {
  /** Padded to Ep channels: u, delta (before bias and softplus), z (the gate, or null): (b, l, Ep). */
  u: SimdTensor;
  delta: SimdTensor;
  z: SimdTensor | null;
  /** Aᵀ (N, Ep); D, deltaBias (Ep). */
  AT: SimdTensor;
  D: SimdTensor;
  deltaBias: SimdTensor;
  /** Selective: B, C (b, l, N). Time-invariant: Bᵀ, Cᵀ (N, Ep). */
  B: SimdTensor;
  C: SimdTensor;
  /** Positions per stored state (Mamba §3.3.2's chunk). */
  chunk: number;
}

// The modules' exports as WebAssembly sees them (byte addresses, strides in elements; see
// `./kernels.ts`). The wrappers of SimdMemory call them, and `./ssd.ts` calls the two below.
/** The core module's gemm: C (M × N) (+)= A B on byte addresses, A's strides and B's, C's rows. */
export type GemmKernel = CoreExports["gemm"];
/** The core module's one-position SSD step of one head, on byte addresses. */
export type SsdStepKernel = CoreExports["ssdStep"];

interface CoreExports {
  gemm(
    M: number,
    N: number,
    K: number,
    pA: number,
    sAm: number,
    sAk: number,
    pB: number,
    ldb: number,
    pC: number,
    ldc: number,
    acc: number,
  ): void;
  silu(n4: number, pX: number, pY: number): void;
  siluBack(n4: number, pX: number, pG: number, pOut: number): void;
  add(n4: number, pA: number, pB: number, pOut: number): void;
  copyRows(
    rows: number,
    width: number,
    pSrc: number,
    srcStride: number,
    pDst: number,
    dstStride: number,
  ): void;
  rmsNorm(rows: number, d: number, pX: number, pW: number, eps: number, pY: number): void;
  ssdStep(
    P: number,
    N: number,
    pS: number,
    pB: number,
    pC: number,
    decay: number,
    pDx: number,
    pY: number,
  ): void;
  rmsNormBack(
    rows: number,
    d: number,
    pX: number,
    pW: number,
    eps: number,
    pG: number,
    pDx: number,
    pDw: number,
  ): void;
  sumLanes(n: number, pIn: number, pOut: number): void;
  peak(iters: number, pOut: number): void;
}

type ScanForwardExport = (
  L: number,
  Ep: number,
  T: number,
  pRaw: number,
  pBias: number,
  pAT: number,
  pB: number,
  ldB: number,
  pC: number,
  ldC: number,
  pU: number,
  pZ: number,
  hasZ: number,
  pD: number,
  pY: number,
  pDt: number,
  pS: number,
  pScr: number,
) => void;

type ScanBackwardExport = (
  L: number,
  Ep: number,
  T: number,
  chunks: number,
  pRaw: number,
  pBias: number,
  pDt: number,
  pAT: number,
  pB: number,
  ldB: number,
  pC: number,
  ldC: number,
  pU: number,
  pZ: number,
  hasZ: number,
  pD: number,
  pS: number,
  pDy: number,
  pDu: number,
  pDdelta: number,
  pDz: number,
  pDA: number,
  pDD: number,
  pDbias: number,
  pDBv: number,
  pDCv: number,
  pXs: number,
  pAb: number,
  pScr: number,
) => void;

/** The causal conv module for one width (`./kernels.ts` convFunctions). */
interface ConvExports {
  convFwd(L: number, Ep: number, pX: number, pWT: number, pBias: number, pY: number): void;
  convBwd(
    L: number,
    Ep: number,
    pX: number,
    pG: number,
    pWT: number,
    pDx: number,
    pDwT: number,
    pDb: number,
  ): void;
}

interface ScanExports {
  scanFwd: ScanForwardExport;
  scanBwd: ScanBackwardExport;
  scanFwdLti: ScanForwardExport;
  scanBwdLti: ScanBackwardExport;
}

const PAGE = 65536;
/** 4 GiB: all a 32-bit WebAssembly memory can address. */
const MAX_PAGES = 65536;
/** How every module of the simd backend gets its memory: the shared one of a {@link SimdMemory}. */
export const MEMORY = {
  kind: "imported-shared",
  initialPages: 16,
  maximumPages: MAX_PAGES,
} as const;

// Compiled once per thread; every SimdMemory instantiates them over its own memory.
let coreModule: object | null = null;
const scanModules = new Map<number, object>();
const otherModules = new Map<string, object>();

/** One memory, its arena and its kernels (see the module comment). */
export class SimdMemory {
  private readonly memory: WasmMemory;
  private readonly core: CoreExports;
  private readonly scans = new Map<number, ScanExports>();
  private readonly others = new Map<string, unknown>();
  private buffer: ArrayBufferLike;
  private top = 0;
  /** Allocations below this byte outlive {@link reset}: see {@link persist}. */
  private floor = 0;
  private call = 0;

  constructor() {
    if (!wasmApi || !wasmSimdSupported()) {
      throw new Error("the simd engine needs WebAssembly SIMD, which this JavaScript engine lacks");
    }
    this.memory = new wasmApi.Memory({
      initial: MEMORY.initialPages,
      maximum: MEMORY.maximumPages,
      shared: true,
    });
    this.buffer = this.memory.buffer;
    coreModule ??= new wasmApi.Module(coreModuleBytes(MEMORY));
    this.core = this.instantiate(coreModule) as unknown as CoreExports;
  }

  private instantiate(module: object): Record<string, unknown> {
    return new wasmApi!.Instance(module, { env: { memory: this.memory } }).exports;
  }

  private scanKernels(N: number): ScanExports {
    let k = this.scans.get(N);
    if (!k) {
      let module = scanModules.get(N);
      if (!module) {
        module = new wasmApi!.Module(scanModuleBytes(N, MEMORY));
        scanModules.set(N, module);
      }
      k = this.instantiate(module) as unknown as ScanExports;
      this.scans.set(N, k);
    }
    return k;
  }

  /** The conv kernels for K taps (`./kernels.ts` causalConvModuleBytes). */
  private convKernels(K: number): ConvExports {
    return this.kernelModule(`conv${K}`, (memory) => causalConvModuleBytes(K, memory));
  }

  /**
   * The exports of a module of kernels kept in a file of its own (e.g. `./attention-kernels.ts`),
   * compiled once per thread under `key` and instantiated over this memory on first use.
   */
  kernelModule<T>(key: string, bytes: (memory: ModuleMemory) => Uint8Array): T {
    let k = this.others.get(key);
    if (!k) {
      let module = otherModules.get(key);
      if (!module) {
        module = new wasmApi!.Module(bytes(MEMORY));
        otherModules.set(key, module);
      }
      k = this.instantiate(module);
      this.others.set(key, k);
    }
    return k as T;
  }

  // ---- the arena ----

  /**
   * Starts a call: every tensor of the previous call is released (its memory will be reused),
   * except those allocated before the last {@link persist}.
   */
  reset(): void {
    this.top = this.floor;
    this.call++;
  }

  /**
   * Keeps everything allocated so far for good: later resets start above it. Inference keeps a
   * model's weights here (`./infer.ts`), read in place by every call.
   */
  persist(): void {
    this.floor = this.top;
  }

  /** The gemm kernel on byte addresses (`./ssd.ts` runs heads with it on any thread). */
  get gemmKernel(): GemmKernel {
    return this.core.gemm;
  }

  /** The SSD step kernel on byte addresses (`./ssd.ts` runs heads with it on any thread). */
  get ssdStepKernel(): SsdStepKernel {
    return this.core.ssdStep;
  }

  /** The WebAssembly memory itself (worker threads instantiate the kernels over it). */
  get wasmMemory(): WasmMemory {
    return this.memory;
  }

  /** Whether t was made by this arena during the current call. */
  owns(t: Tensor): t is SimdTensor {
    return t instanceof SimdTensor && t.memory === this && t.call === this.call;
  }

  /** A new tensor of `shape`, contents undefined (whatever the memory held). */
  alloc(shape: readonly number[]): SimdTensor {
    let n = 1;
    for (const s of shape) n *= s;
    const bytes = Math.ceil((4 * n) / 16) * 16;
    const offset = this.top;
    this.reserve(offset + bytes);
    this.top = offset + bytes;
    return new SimdTensor([...shape], new Float32Array(this.buffer, offset, n), this, this.call);
  }

  /** A new tensor of zeros. */
  zeros(shape: readonly number[]): SimdTensor {
    const t = this.alloc(shape);
    t.data.fill(0);
    return t;
  }

  /** t itself when it is this call's, else a float32 copy of it in the arena. */
  input(t: Tensor): SimdTensor {
    if (this.owns(t)) return t;
    const copy = this.alloc(t.shape);
    copy.data.set(t.data);
    return copy;
  }

  /**
   * t's own float32 values as a tensor of this memory, when they already lie in it (a decoding
   * state the inference backend moved in, `./infer.ts`), so that a kernel updates them in place;
   * else what {@link input} gives (a copy: the caller writes it back).
   */
  inPlace(t: Tensor): SimdTensor {
    if (!this.owns(t) && t.data instanceof Float32Array && t.data.buffer === this.memory.buffer)
      return new SimdTensor([...t.shape], t.data, this, this.call);
    return this.input(t);
  }

  private reserve(bytes: number): void {
    const have = this.buffer.byteLength; // only this thread grows this memory
    if (bytes <= have) return;
    if (bytes > MAX_PAGES * PAGE) {
      throw new Error(
        `the simd engine needs more than the 4 GiB a WebAssembly memory holds for this call's activations (${(bytes / 2 ** 30).toFixed(1)} GiB so far): use smaller batches (engine "simd-threads" splits the batch over threads, each with its own memory)`,
      );
    }
    // grow by at least half the current size: few growths while a first call finds its size
    const want = Math.min(MAX_PAGES * PAGE, Math.max(bytes, Math.floor(have * 1.5)));
    this.memory.grow(Math.ceil((want - have) / PAGE));
    // a shared memory's old buffer object still maps the old range (views on it stay valid);
    // new views use the grown one
    this.buffer = this.memory.buffer;
  }

  // ---- the kernels, named arguments ----

  /**
   * C = A·B, or C += A·B with `accumulate`: A (rows, inner), B (inner, cols), C (rows, cols), as
   * strided views (B and C with colStride 1).
   */
  gemm(p: {
    rows: number;
    cols: number;
    inner: number;
    a: MatrixView;
    b: MatrixView;
    c: MatrixView;
    accumulate: boolean;
  }): void {
    const { a, b, c } = p;
    this.core.gemm(
      p.rows,
      p.cols,
      p.inner,
      a.t.at(a.offset),
      a.rowStride,
      a.colStride,
      b.t.at(b.offset),
      b.rowStride,
      c.t.at(c.offset),
      c.rowStride,
      p.accumulate ? 1 : 0,
    );
  }

  /**
   * C += Aᵀ·B summed over a long axis (all positions): A (positions, rows), B (positions, cols),
   * both row-major, C (rows, cols) — the weight gradients. Cut into slabs of 128 positions so that
   * a slab of B stays in cache while every register block of C passes over it (one product over
   * all positions would stream B from memory once per block of four rows of C; 128 was 4-8%
   * faster than 256 on the Table 1 model's projections, 64 no faster). `accumulate`: false
   * overwrites C.
   */
  gemmAtB(p: {
    positions: number;
    rows: number;
    cols: number;
    a: SimdTensor;
    b: SimdTensor;
    c: SimdTensor;
    accumulate: boolean;
  }): void {
    const SLAB = 128;
    for (let k0 = 0; k0 < p.positions; k0 += SLAB) {
      this.gemm({
        rows: p.rows,
        cols: p.cols,
        inner: Math.min(SLAB, p.positions - k0),
        a: transposed(p.a, p.rows, k0),
        b: rowMajor(p.b, p.cols, k0),
        c: rowMajor(p.c, p.cols),
        accumulate: p.accumulate || k0 > 0,
      });
    }
  }

  /** RMSNorm of x (rows, d): y = x · r · w, r = 1/√(mean(x²) + eps) per row. */
  rmsNorm(x: SimdTensor, w: SimdTensor, eps: number, y: SimdTensor): void {
    const d = w.shape[0];
    this.core.rmsNorm(x.data.length / d, d, x.at(), w.at(), eps, y.at());
  }

  /**
   * RMSNorm's backward: writes dx (x's shape); adds ∂w = Σ_rows g ⊙ x · r into dw (float64,
   * d), summed in float32 over slabs of 64 rows and in float64 across slabs.
   */
  rmsNormBackward(
    x: SimdTensor,
    w: SimdTensor,
    eps: number,
    g: SimdTensor,
    dx: SimdTensor,
    dw: Float64Array,
  ): void {
    const d = w.shape[0];
    const rows = x.data.length / d;
    const slab = this.alloc([d]);
    const SLAB = 64;
    for (let r0 = 0; r0 < rows; r0 += SLAB) {
      slab.data.fill(0);
      const at = r0 * d;
      this.core.rmsNormBack(
        Math.min(SLAB, rows - r0),
        d,
        x.at(at),
        w.at(),
        eps,
        g.at(at),
        dx.at(at),
        slab.at(),
      );
      for (let j = 0; j < d; j++) dw[j] += slab.data[j];
    }
  }

  /** y = x σ(x), elementwise (y may be x). */
  silu(x: SimdTensor, y: SimdTensor): void {
    this.core.silu(Math.ceil(x.data.length / 4), x.at(), y.at());
  }

  /** dx = g σ(x)(1 + x(1 − σ(x))), elementwise. */
  siluBackward(x: SimdTensor, g: SimdTensor, dx: SimdTensor): void {
    this.core.siluBack(Math.ceil(x.data.length / 4), x.at(), g.at(), dx.at());
  }

  /** out = a + b, elementwise (out may be a: a += b). */
  add(a: SimdTensor, b: SimdTensor, out: SimdTensor): void {
    this.core.add(Math.ceil(a.data.length / 4), a.at(), b.at(), out.at());
  }

  /** `rows` rows of `width` values from one strided matrix to another (element offsets). */
  copyRows(p: {
    rows: number;
    width: number;
    src: SimdTensor;
    srcOffset: number;
    srcStride: number;
    dst: SimdTensor;
    dstOffset: number;
    dstStride: number;
  }): void {
    this.core.copyRows(
      p.rows,
      p.width,
      p.src.at(p.srcOffset),
      p.srcStride,
      p.dst.at(p.dstOffset),
      p.dstStride,
    );
  }

  /**
   * The causal depthwise conv, y = bias + Σ_j w_j ⊙ x_{t−(k−1)+j}, on x, y (b, l, Cp) with the
   * weight as (k, Cp) and bias (Cp), Cp a multiple of 4.
   */
  convForward(p: { x: SimdTensor; weightT: SimdTensor; bias: SimdTensor; y: SimdTensor }): void {
    const [b, l, Cp] = p.x.shape;
    const k = this.convKernels(p.weightT.shape[0]);
    for (let i = 0; i < b; i++) {
      const row = i * l * Cp;
      k.convFwd(l, Cp, p.x.at(row), p.weightT.at(), p.bias.at(), p.y.at(row));
    }
  }

  /** The conv's backward: writes dx (b, l, Cp); adds into dweightT, dbias. */
  convBackward(p: {
    x: SimdTensor;
    g: SimdTensor;
    weightT: SimdTensor;
    dx: SimdTensor;
    dweightT: SimdTensor;
    dbias: SimdTensor;
  }): void {
    const [b, l, Cp] = p.x.shape;
    const k = this.convKernels(p.weightT.shape[0]);
    for (let i = 0; i < b; i++) {
      const row = i * l * Cp;
      k.convBwd(
        l,
        Cp,
        p.x.at(row),
        p.g.at(row),
        p.weightT.at(),
        p.dx.at(row),
        p.dweightT.at(),
        p.dbias.at(),
      );
    }
  }

  /**
   * The selective scan forward (`./kernels.ts` scanFwd / scanFwdLti) of every batch element:
   * writes y and Δ = softplus(delta + bias) (b, l, Ep), and `states` (b, ⌈l/chunk⌉, N, Ep), the
   * state entering each chunk.
   */
  scanForward(s: ScanOperands, out: { y: SimdTensor; dt: SimdTensor; states: SimdTensor }): void {
    const [b, l, Ep] = s.u.shape;
    const N = s.AT.shape[0];
    const lti = s.B.shape.length === 2;
    const k = this.scanKernels(N);
    const chunks = Math.ceil(l / s.chunk);
    const scratch = this.alloc([(lti ? 4 : 2) * N, 4]);
    for (let i = 0; i < b; i++) {
      const row = i * l * Ep;
      const bc = lti ? 0 : i * l * N;
      (lti ? k.scanFwdLti : k.scanFwd)(
        l,
        Ep,
        s.chunk,
        s.delta.at(row),
        s.deltaBias.at(),
        s.AT.at(),
        s.B.at(bc),
        N,
        s.C.at(bc),
        N,
        s.u.at(row),
        s.z ? s.z.at(row) : 0,
        s.z ? 1 : 0,
        s.D.at(),
        out.y.at(row),
        out.dt.at(row),
        out.states.at(i * chunks * N * Ep),
        scratch.at(),
      );
    }
  }

  /**
   * The scan's backward (`./kernels.ts` scanBwd / scanBwdLti) from dy (b, l, Ep), with the Δ and
   * states of {@link scanForward}: writes du, ddelta, dz (b, l, Ep); adds into dAT (N, Ep), dD,
   * dbias (Ep); dB, dC: selective, written as (b, l, N) (the kernel's four-lane partial sums per
   * position, summed over the lanes here, one batch element at a time while they are in cache);
   * time-invariant, added into (N, Ep) like dAT.
   */
  scanBackward(
    s: ScanOperands,
    saved: { dt: SimdTensor; states: SimdTensor },
    dy: SimdTensor,
    out: {
      du: SimdTensor;
      ddelta: SimdTensor;
      dz: SimdTensor | null;
      dAT: SimdTensor;
      dD: SimdTensor;
      dbias: SimdTensor;
      dB: SimdTensor;
      dC: SimdTensor;
    },
  ): void {
    const [b, l, Ep] = s.u.shape;
    const N = s.AT.shape[0];
    const lti = s.B.shape.length === 2;
    const k = this.scanKernels(N);
    const T = s.chunk;
    const chunks = Math.ceil(l / T);
    const xs = this.alloc([T + 1, N, 4]);
    // T rows of N vectors (Ā), then two vectors per position (the kernel's g_o and σ(raw))
    const ab = this.alloc([T, N + 2, 4]);
    const scratch = this.alloc([(lti ? 7 : 3) * N + 2, 4]);
    const dBpart = lti ? out.dB : this.alloc([l, N, 4]);
    const dCpart = lti ? out.dC : this.alloc([l, N, 4]);
    for (let i = 0; i < b; i++) {
      const row = i * l * Ep;
      const bc = lti ? 0 : i * l * N;
      if (!lti) {
        dBpart.data.fill(0);
        dCpart.data.fill(0);
      }
      (lti ? k.scanBwdLti : k.scanBwd)(
        l,
        Ep,
        T,
        chunks,
        s.delta.at(row),
        s.deltaBias.at(),
        saved.dt.at(row),
        s.AT.at(),
        s.B.at(bc),
        N,
        s.C.at(bc),
        N,
        s.u.at(row),
        s.z ? s.z.at(row) : 0,
        s.z ? 1 : 0,
        s.D.at(),
        saved.states.at(i * chunks * N * Ep),
        dy.at(row),
        out.du.at(row),
        out.ddelta.at(row),
        out.dz ? out.dz.at(row) : 0,
        out.dAT.at(),
        out.dD.at(),
        out.dbias.at(),
        dBpart.at(),
        dCpart.at(),
        xs.at(),
        ab.at(),
        scratch.at(),
      );
      if (!lti) {
        this.core.sumLanes(l * N, dBpart.at(), out.dB.at(bc));
        this.core.sumLanes(l * N, dCpart.at(), out.dC.at(bc));
      }
    }
  }

  /** Runs the peak loop (`./kernels.ts`: 14 · 4 FLOPs per iteration) `iters` times. */
  peak(iters: number): void {
    this.core.peak(iters, this.alloc([4]).at());
  }
}
