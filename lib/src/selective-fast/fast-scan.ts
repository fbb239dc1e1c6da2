/**
 * The fast CPU selective scan: the same recurrence as `selectiveScan` (lesson 06), arranged for the
 * machine instead of for reading.
 *
 * What makes it fast (engine "wasm", the default):
 * - float32 and 128-bit SIMD: the n states of a channel are G = ⌈n/4⌉ vectors of four lanes, kept
 *   in registers for a whole tile of positions; exp(Δ·A) is evaluated four lanes at a time by a
 *   polynomial (the exp is the bottleneck: b·d·l·n of them);
 * - B and C are transposed once per batch element to (l, n), so the n values of one position are
 *   contiguous, and positions are processed in tiles small enough that a tile of B and C stays in
 *   the L1 cache while every channel walks it;
 * - softplus and the gate run as separate vectorised passes over whole rows;
 * - nothing is allocated per call except the result: the kernels work in one WebAssembly memory,
 *   channel block by channel block.
 *
 * Engine "js" is the same loop order in plain typed-array JavaScript (float64 arithmetic, one exp
 * per state per position, no allocation in the loop): the baseline that shows what SIMD buys.
 */
import { type Tensor, numel } from "../tensor";
import { checkOptions, schema } from "../validate";
import { type SelectiveScanArgs, checkInputDependentScanArgs } from "../selective/scan";
import { siluRaw, softplusRaw } from "../ops/reference/scalar";
import { fastScanModuleBytes } from "./kernels";
import { type WasmMemory, wasmApi, wasmSimdSupported } from "../ops/simd/wasm";

/** Engines of {@link selectiveScanFast}. */
export type FastScanEngine = "wasm" | "js";

/** Options of {@link selectiveScanFast}. */
export interface FastScanOptions {
  /** "wasm" (WebAssembly SIMD, the default) or "js" (typed-array loops). */
  engine?: FastScanEngine;
  /** Positions per tile (wasm engine); default: a tile of B and C fills about 16 KiB. */
  tile?: number;
}

/** What {@link selectiveScanFast} returns. */
export interface FastScanResult {
  /** (b, d, l), float32. */
  out: Tensor<Float32Array>;
  /** (b, d, n), float32, when `returnLastState` was set. */
  lastState?: Tensor<Float32Array>;
  /** The engine that ran: "wasm-simd" or "js". */
  engine: "wasm-simd" | "js";
}

/** An instance of the fast-scan kernels (see `./kernels`). */
export interface Runtime {
  G: number;
  memory: WasmMemory;
  prep: (...a: number[]) => void;
  scan: (...a: number[]) => void;
  post: (...a: number[]) => void;
  expLoop: (...a: number[]) => void;
  sumLoop: (...a: number[]) => void;
}

// Compiled kernels per group count. Instances are reused between calls (their memory only grows);
// results never depend on what an earlier call left in memory, every buffer is rewritten.
const runtimes = new Map<number, Runtime>();

/** A fresh instance of the kernels for G state groups (not cached). */
export function instantiateFastScanKernels(G: number): Runtime {
  if (!wasmApi || !wasmSimdSupported()) {
    throw new Error("instantiateFastScanKernels: this JavaScript engine has no WebAssembly SIMD");
  }
  const module = new wasmApi.Module(fastScanModuleBytes(G));
  const instance = new wasmApi.Instance(module, {});
  const e = instance.exports as unknown as Omit<Runtime, "G">;
  return {
    G,
    memory: e.memory,
    prep: e.prep,
    scan: e.scan,
    post: e.post,
    expLoop: e.expLoop,
    sumLoop: e.sumLoop,
  };
}

function runtimeFor(G: number): Runtime {
  let rt = runtimes.get(G);
  if (!rt) {
    rt = instantiateFastScanKernels(G);
    runtimes.set(G, rt);
  }
  return rt;
}

/** Grows a runtime's memory to at least `bytes`. */
export function ensureMemory(rt: Runtime, bytes: number): void {
  const have = rt.memory.buffer.byteLength;
  if (bytes > have) rt.memory.grow(Math.ceil((bytes - have) / 65536));
}

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * The selective scan, fast (see the module comment), with exactly the arguments and semantics of
 * `selectiveScan`: u, delta, z (b, d, l); A (d, n); B, C (b, n, l) or grouped (b, g, n, l);
 * D, deltaBias (d); out (b, d, l) and optionally lastState (b, d, n):
 *
 *   Δ = softplus(delta + deltaBias),  h ← exp(Δ A) ⊙ h + Δ B u,  out = (⟨h, C⟩ + D u) · silu(z).
 *
 * Results are float32 (inputs may be float32 or float64). Accuracy: within a few float32 ulps of
 * the float64 recurrence per step; errors grow like the condition of the recurrence (about
 * 1e-6 relative to max |out| in the tests). The time-invariant (d, n) layout of B and C is not
 * accepted (it is an LTI system: see lesson 03's convolution).
 */
export function selectiveScanFast(
  args: SelectiveScanArgs,
  options: FastScanOptions = {},
): FastScanResult {
  const fn = "selectiveScanFast";
  const shapes = checkInputDependentScanArgs(fn, args);
  const o = checkOptions(fn, "options", options, FAST_SCAN_OPTIONS);
  const engine = o.engine ?? "wasm";
  const { batch, dim, length: L, dstate: N } = shapes;
  const out = new Float32Array(batch * dim * L);
  const last = args.returnLastState ? new Float32Array(batch * dim * N) : null;
  if (numel([batch, dim, L]) > 0 && N > 0) {
    if (engine === "wasm") {
      if (!wasmSimdSupported()) {
        throw new Error(
          `${fn}: argument 'options.engine': "wasm" needs WebAssembly SIMD, which this JavaScript engine lacks; use engine "js"`,
        );
      }
      runWasm(args, shapes.B.groups, out, last, o.tile ?? undefined);
    } else {
      runJs(args, shapes.B.groups, out, last);
    }
  }
  const result: FastScanResult = {
    out: { shape: [batch, dim, L], data: out },
    engine: engine === "wasm" ? "wasm-simd" : "js",
  };
  if (last) result.lastState = { shape: [batch, dim, N], data: last };
  return result;
}

/** Sizes shared by both engines. */
function dims(args: SelectiveScanArgs, groups: number) {
  const [batch, dim, L] = args.u.shape;
  const N = args.A.shape[1];
  return { batch, dim, L, N, groups, perGroup: dim / groups };
}

/** B or C of batch element b, group g, transposed to (l, stride) with zero padding past n. */
function transposeInto(
  dst: Float32Array,
  dstOff: number,
  stride: number,
  src: Tensor,
  b: number,
  g: number,
  groups: number,
  N: number,
  L: number,
): void {
  const base = (b * groups + g) * N * L;
  const data = src.data;
  for (let t = 0; t < L; t++) {
    const row = dstOff + t * stride;
    for (let n = 0; n < N; n++) dst[row + n] = data[base + n * L + t];
    for (let n = N; n < stride; n++) dst[row + n] = 0;
  }
}

export function runWasm(
  args: SelectiveScanArgs,
  groups: number,
  out: Float32Array,
  last: Float32Array | null,
  tileOpt: number | undefined,
): void {
  const { batch, dim, L, N, perGroup } = dims(args, groups);
  const G = Math.ceil(N / 4);
  const W = 4 * G; // padded state width
  const Lp = Math.ceil(L / 4) * 4;
  const tile = tileOpt ?? Math.max(16, Math.floor(16384 / (2 * W * 4)));
  // channel block: the four row buffers (u, Δ, z, out) stay under ~8 MiB
  const blockRows = Math.max(1, Math.min(perGroup, Math.floor((8 << 20) / (16 * Lp))));
  const rt = runtimeFor(G);
  const pA = 64;
  const pD = align16(pA + blockRows * W * 4);
  const pBias = align16(pD + blockRows * 4);
  const pState = align16(pBias + blockRows * 4);
  const pBT = align16(pState + blockRows * W * 4);
  const pCT = align16(pBT + L * W * 4);
  const pU = align16(pCT + L * W * 4);
  const pDt = align16(pU + blockRows * Lp * 4);
  const pZ = align16(pDt + blockRows * Lp * 4);
  const pOut = align16(pZ + blockRows * Lp * 4);
  ensureMemory(rt, pOut + blockRows * Lp * 4);
  const mem = new Float32Array(rt.memory.buffer);
  const u = args.u.data;
  const delta = args.delta.data;
  const z = args.z ? args.z.data : null;
  const A = args.A.data;
  const D = args.D ? args.D.data : null;
  const bias = args.deltaBias ? args.deltaBias.data : null;
  const softplusFlag = args.deltaSoftplus === true ? 1 : 0;
  const copyRow = (src: Tensor["data"], srcOff: number, dst: number): void => {
    mem.set(src.subarray(srcOff, srcOff + L), dst);
    for (let t = L; t < Lp; t++) mem[dst + t] = 0;
  };
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      transposeInto(mem, pBT / 4, W, args.B, b, g, groups, N, L);
      transposeInto(mem, pCT / 4, W, args.C, b, g, groups, N, L);
      for (let d0 = g * perGroup; d0 < (g + 1) * perGroup; d0 += blockRows) {
        const rows = Math.min(blockRows, (g + 1) * perGroup - d0);
        for (let r = 0; r < rows; r++) {
          const d = d0 + r;
          const src = (b * dim + d) * L;
          copyRow(u, src, pU / 4 + r * Lp);
          copyRow(delta, src, pDt / 4 + r * Lp);
          if (z) copyRow(z, src, pZ / 4 + r * Lp);
          for (let n = 0; n < W; n++) {
            mem[pA / 4 + r * W + n] = n < N ? A[d * N + n] : 0;
            mem[pState / 4 + r * W + n] = 0;
          }
          mem[pD / 4 + r] = D ? D[d] : 0;
          mem[pBias / 4 + r] = bias ? bias[d] : 0;
        }
        rt.prep(rows, Lp, pDt, pBias, softplusFlag);
        rt.scan(rows, L, Lp, tile, pA, pBT, pCT, pU, pDt, pOut, pState);
        rt.post(rows, Lp, pOut, pU, pZ, pD, z ? 1 : 0);
        for (let r = 0; r < rows; r++) {
          const d = d0 + r;
          out.set(mem.subarray(pOut / 4 + r * Lp, pOut / 4 + r * Lp + L), (b * dim + d) * L);
          if (last)
            last.set(mem.subarray(pState / 4 + r * W, pState / 4 + r * W + N), (b * dim + d) * N);
        }
      }
    }
  }
}

export function runJs(
  args: SelectiveScanArgs,
  groups: number,
  out: Float32Array,
  last: Float32Array | null,
): void {
  const { batch, dim, L, N, perGroup } = dims(args, groups);
  const BT = new Float32Array(L * N);
  const CT = new Float32Array(L * N);
  const h = new Float64Array(N);
  const u = args.u.data;
  const delta = args.delta.data;
  const z = args.z ? args.z.data : null;
  const A = args.A.data;
  const D = args.D ? args.D.data : null;
  const bias = args.deltaBias ? args.deltaBias.data : null;
  const useSoftplus = args.deltaSoftplus === true;
  for (let b = 0; b < batch; b++) {
    for (let g = 0; g < groups; g++) {
      transposeInto(BT, 0, N, args.B, b, g, groups, N, L);
      transposeInto(CT, 0, N, args.C, b, g, groups, N, L);
      for (let d = g * perGroup; d < (g + 1) * perGroup; d++) {
        h.fill(0);
        const row = (b * dim + d) * L;
        const aRow = d * N;
        const db = bias ? bias[d] : 0;
        const skip = D ? D[d] : 0;
        for (let t = 0; t < L; t++) {
          let dt = delta[row + t] + db;
          if (useSoftplus) dt = softplusRaw(dt);
          const ut = u[row + t];
          const dtu = dt * ut;
          const bc = t * N;
          let y = 0;
          for (let n = 0; n < N; n++) {
            const s = Math.exp(dt * A[aRow + n]) * h[n] + dtu * BT[bc + n];
            h[n] = s;
            y += s * CT[bc + n];
          }
          y += skip * ut;
          out[row + t] = z ? y * siluRaw(z[row + t]) : y;
        }
        if (last) for (let n = 0; n < N; n++) last[(b * dim + d) * N + n] = h[n];
      }
    }
  }
}

const FAST_SCAN_OPTIONS = schema.options({
  engine: schema.optional(schema.oneOf(["wasm", "js"] as const)),
  tile: schema.optional(schema.integer({ min: 1, max: 1 << 16 })),
});
