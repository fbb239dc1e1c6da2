/**
 * The simd backend for inference: the engines "simd" and "simd-threads" of `mambaForward`,
 * `mambaPrefill`, `mambaStep` and `mambaGenerate`. It is the training backend (`./index.ts`) with
 * the ops that inference leans on replaced:
 *
 * - Weights are read in place. Training stages every weight into the memory once per call (AdamW
 *   changes them between calls); a decoding step reads every weight once, so a copy per step
 *   would double its cost. Here the model's tensors move into the memory for good (a
 *   {@link ModelMemory}, one per model: the tensors' `data` become views of it, same values, like
 *   the training pool's shared parameters), so an update in place is what the next call reads,
 *   and a tensor replaced by a new one is moved in at the next call.
 * - Products read W (out, in) as PyTorch stores it, float32 or kept in 16 bits
 *   (`./infer-kernels.ts`): one position (a decoding step) is a matrix-vector product bound by
 *   memory, many positions (a prompt) a register-blocked product.
 * - The conv and the scan continue from a decoding state and leave it at the last position,
 *   natively: the state is copied into the memory, updated there by the kernel, and copied back.
 * - With an {@link InferPool} ("simd-threads"), the large ops are split over threads that share
 *   the memory: products by weight rows, conv and scan by channels (four per vector). Small ops
 *   run on the calling thread: splitting costs a synchronisation (microseconds).
 *
 * Only the forward ops change: a tape never runs here (inference).
 */
import type { Tensor } from "../../tensor";
import { type HalfTensor, isHalfTensor, widenInto } from "../../half";
import type { ScanArgs, SsdArgs, Weight } from "../backend";
import { reference } from "../reference/index";
import { rowsOf } from "../reference/forward";
import { SimdBackend } from "./index";
import { MAX_SCAN_STATE, SimdMemory, type SimdTensor, padded } from "./memory";
import { InferKernels, type KernelCall } from "./infer-runtime";
import type { InferPool } from "./infer-threads";
import { WIDEN_ROWS, type WeightFormat } from "./infer-kernels";
import { ssdChunkedGemm } from "./ssd";

/** Positions up to which a product streams weight rows (`mv…`) rather than blocks (`lin…`). */
const FEW_POSITIONS = 4;
const KERNEL = {
  stream: { f32: "mvF32", bf16: "mvBf16", f16: "mvF16" },
  block: { f32: "linF32", bf16: "linBf16", f16: "linF16" },
} as const;

/** Bytes of decoding states a model's memory keeps in place (more are copied in and out). */
const STATE_BUDGET = 64 << 20;

/** Work (multiply-adds, or the like) below which an op runs on the calling thread alone. */
const MIN_SPLIT_WORK = 1 << 18;
/**
 * Work of one chunk of a shared op (a decoding step's product: 256 KB of weights, some
 * microseconds), and the most chunks of one op. Threads claim several chunks at once while much
 * is left (`./infer-threads.ts`), so small chunks cost few claims.
 */
const CHUNK_WORK = 1 << 16;
const MAX_CHUNKS = 1024;

/** A model's parameters as the engines take them: float32 tensors and 16-bit matrices. */
export interface InferenceParams {
  params: Map<string, Tensor>;
  half?: Map<string, HalfTensor>;
}

let memories = 0;

/**
 * The memory a model's weights live in for inference (see the module comment), and the backends
 * over it. Made by {@link ModelMemory.of} once per model (keyed by its `params` Map, so it goes
 * when the model goes).
 */
export class ModelMemory {
  private static readonly byModel = new WeakMap<Map<string, Tensor>, ModelMemory>();

  /** The memory of `model` (made on first use). */
  static of(model: InferenceParams): ModelMemory {
    let mem = ModelMemory.byModel.get(model.params);
    if (!mem) {
      mem = new ModelMemory();
      ModelMemory.byModel.set(model.params, mem);
    }
    return mem;
  }

  /** Distinguishes memories in the pool's job words. */
  readonly id = ++memories;
  readonly m = new SimdMemory();
  readonly kernels = new InferKernels(this.m.wasmMemory);
  /** Byte address of every array moved in, by the array (the view a tensor now holds). */
  private readonly where = new WeakMap<object, number>();
  /** The region of every tensor moved in, by the tensor (what it moves back to). */
  private readonly regions = new WeakMap<object, Float32Array | Uint16Array>();
  /**
   * −exp of moved-in parameters (A = −exp(A_log), the same at every decoding step), by the
   * parameter's array: the result and a copy of the values it was computed from, both kept for
   * good; used while the parameter still holds those values (`differs`), remade otherwise.
   */
  private readonly negExps = new WeakMap<object, { out: SimdTensor; copy: SimdTensor }>();
  /** Parameters whose −exp the next start keeps (asked for by a call that computed it). */
  private readonly wantNegExp = new Set<Tensor>();
  private readonly backends = new Map<InferPool | null, InferenceBackend>();
  /**
   * Decoding states (a cache's conv and SSM arrays) kept in the memory, so that a step updates
   * them in place instead of copying them in and out: regions by size, free ones reused. A
   * region is freed only when the array viewing it is garbage (nothing can read it any more);
   * past {@link STATE_BUDGET} bytes, states are copied instead.
   */
  private readonly freeStates = new Map<number, number[]>();
  private stateBytes = 0;
  private readonly stateRegistry = new FinalizationRegistry<{ bytes: number; at: number }>(
    ({ bytes, at }) => {
      const free = this.freeStates.get(bytes) ?? [];
      free.push(at);
      this.freeStates.set(bytes, free);
    },
  );

  /** The backend over this memory, on `pool`'s threads or this thread alone. */
  backend(pool: InferPool | null): InferenceBackend {
    let b = this.backends.get(pool);
    if (!b) {
      b = new InferenceBackend(this, pool);
      this.backends.set(pool, b);
    }
    return b;
  }

  /** The byte address of a moved-in array, or undefined. */
  address(data: object): number | undefined {
    return this.where.get(data);
  }

  /**
   * Moves every tensor of `model` into the memory unless it is there already (`data` replaced by
   * a view with the same values). Runs at the start of a call, when the arena is empty: what it
   * moves in stays for good.
   */
  adopt(model: InferenceParams): void {
    let moved = false;
    for (const t of [...model.params.values(), ...(model.half?.values() ?? [])]) {
      if (this.where.has(t.data)) continue;
      // a tensor moved in before whose data was moved out since (a training pool's shared
      // buffer) or replaced by an array of the same size goes back to its own region
      let view = this.regions.get(t);
      if (!view || view.length !== t.data.length || view.constructor !== t.data.constructor) {
        const half = t.data instanceof Uint16Array;
        const region = this.m.alloc([half ? Math.ceil(t.data.length / 2) : t.data.length]);
        view = half
          ? new Uint16Array(region.data.buffer, region.data.byteOffset, t.data.length)
          : region.data;
        this.regions.set(t, view);
        this.where.set(view, region.at());
        moved = true;
      }
      view.set(t.data);
      (t as { data: unknown }).data = view;
    }
    for (const t of this.wantNegExp) {
      const src = this.where.get(t.data);
      if (src === undefined) continue;
      const n = t.data.length;
      // a stale one is remade in place
      const kept = this.negExps.get(t.data) ?? { out: this.m.alloc([n]), copy: this.m.alloc([n]) };
      kept.copy.data.set(t.data);
      this.kernels.run({
        kernel: "negExp",
        size: 0,
        args: [src, kept.out.at(), 0, Math.ceil(n / 4)],
      });
      this.negExps.set(t.data, kept);
      this.where.set(kept.out.data, kept.out.at());
      moved = true;
    }
    this.wantNegExp.clear();
    if (moved) this.m.persist();
  }

  /** Moves decoding states into the memory where the budget allows (see `freeStates`). */
  adoptStates(states: readonly Tensor[]): void {
    let moved = false;
    for (const t of states) {
      if (this.where.has(t.data) || !(t.data instanceof Float32Array)) continue;
      const bytes = 16 * Math.ceil(t.data.length / 4);
      let at = this.freeStates.get(bytes)?.pop();
      if (at === undefined) {
        if (this.stateBytes + bytes > STATE_BUDGET) break;
        at = this.m.alloc([t.data.length]).at();
        this.stateBytes += bytes;
        moved = true;
      }
      const view = new Float32Array(this.m.wasmMemory.buffer, at, t.data.length);
      view.set(t.data);
      (t as { data: Tensor["data"] }).data = view;
      this.where.set(view, at);
      this.stateRegistry.register(view, { bytes, at });
    }
    if (moved) this.m.persist();
  }

  /**
   * −exp of moved-in parameter t kept from an earlier call, if t still holds the values it was
   * computed from (`flag`: a float of scratch); else null, and the next start keeps it.
   */
  keptNegExp(t: Tensor, flag: SimdTensor): Float32Array | null {
    const src = this.where.get(t.data);
    if (src === undefined) return null;
    const kept = this.negExps.get(t.data);
    if (kept) {
      const n = t.data.length;
      this.kernels.run({ kernel: "differs", size: 0, args: [n, kept.copy.at(), src, flag.at()] });
      if (flag.data[0] === 0) return kept.out.data;
    }
    this.wantNegExp.add(t);
    return null;
  }
}

/** The inference backend over a {@link ModelMemory} (see the module comment). */
export class InferenceBackend extends SimdBackend {
  override readonly name: string;
  /** The function the user called, named by errors of the thread pool. */
  private caller = "";
  private readonly mem: ModelMemory;

  constructor(
    mem: ModelMemory,
    private readonly pool: InferPool | null,
  ) {
    super(mem.m);
    this.mem = mem;
    this.name = pool ? "simd-threads" : "simd";
  }

  /**
   * Starts a call of `caller` on `model`: arena emptied, weights moved in where needed, and the
   * decoding `states` of a cache too (updated in place by the steps).
   */
  start(caller: string, model: InferenceParams, states: readonly Tensor[] = []): void {
    this.caller = caller;
    this.begin();
    this.mem.adopt(model);
    this.mem.adoptStates(states);
  }

  // ---- sharing over threads ----

  /**
   * Runs `call` over `units` (weight rows, channel groups, vectors), its arguments `from` and
   * `to` set to the range: whole on this thread when the op is small or there is no pool, else
   * in chunks of about {@link CHUNK_WORK} that every thread of the pool claims in turn
   * (`./infer-threads.ts`). `scratch`: the argument that receives each thread's scratch (its
   * base for thread 0, then `stride` bytes apart).
   */
  private shared(p: {
    call: KernelCall;
    from: number;
    to: number;
    units: number;
    align: number;
    work: number;
    scratch?: { arg: number; base: number; stride: number };
  }): void {
    const { call } = p;
    if (!this.pool || p.work < MIN_SPLIT_WORK) {
      call.args[p.from] = 0;
      call.args[p.to] = p.units;
      if (p.scratch) call.args[p.scratch.arg] = p.scratch.base;
      this.mem.kernels.run(call);
      return;
    }
    const most = Math.ceil(p.units / p.align);
    const chunks = Math.min(
      most,
      MAX_CHUNKS,
      Math.max(this.pool.threads, Math.ceil(p.work / CHUNK_WORK)),
    );
    this.pool.run(this.caller, { id: this.mem.id, wasm: this.m.wasmMemory }, this.mem.kernels, {
      call,
      from: p.from,
      to: p.to,
      units: p.units,
      align: p.align,
      chunks,
      scratch: p.scratch,
      work: p.work,
    });
  }

  /** Scratch of `bytes` for each thread that may run a chunk: its base and stride. */
  private scratchPerThread(bytes: number): { base: number; stride: number } {
    const threads = this.pool ? this.pool.threads : 1;
    const stride = Math.ceil(bytes / 16) * 16;
    return { base: this.m.alloc([(threads * stride) / 4]).at(), stride };
  }

  // ---- where tensors are ----

  /** The byte address of a float32 tensor: moved in, made by this call, or copied in. */
  private addressOf(t: Tensor): number {
    return this.mem.address(t.data) ?? this.m.input(t).at();
  }

  /** A weight matrix's address and format (16-bit or float32). */
  private weightOf(w: Weight): { at: number; format: WeightFormat } {
    if (isHalfTensor(w)) {
      let at = this.mem.address(w.data);
      if (at === undefined) {
        const region = this.m.alloc([Math.ceil(w.data.length / 2)]);
        new Uint16Array(region.data.buffer, region.data.byteOffset, w.data.length).set(w.data);
        at = region.at();
      }
      return { at, format: w.format };
    }
    return { at: this.addressOf(w), format: "f32" };
  }

  // ---- the ops ----

  override embedding(ids: Int32Array, batch: number, length: number, weight: Weight): Tensor {
    const d = weight.shape[1];
    const out = this.m.alloc([batch, length, d]);
    for (let p = 0; p < ids.length; p++) {
      if (isHalfTensor(weight))
        widenInto(weight.data, weight.format, ids[p] * d, d, out.data, p * d);
      else out.data.set(weight.data.subarray(ids[p] * d, ids[p] * d + d), p * d);
    }
    return out;
  }

  override linear(x: Tensor, weight: Weight, bias: Tensor | null): Tensor {
    const [outDim, inDim] = weight.shape;
    const rows = rowsOf(x.shape);
    const w = this.weightOf(weight);
    const stream = rows <= FEW_POSITIONS;
    let px = this.m.input(x).at();
    if (stream && w.format !== "f32") {
      // each group of eight inputs as its even then odd elements (`./infer-kernels.ts`)
      const xp = this.m.alloc([rows, inDim]);
      this.mem.kernels.run({
        kernel: "permute8",
        size: 0,
        args: [rows, inDim, px, inDim, xp.at()],
      });
      px = xp.at();
    }
    const y = this.m.alloc([...x.shape.slice(0, -1), outDim]);
    const kernel = KERNEL[stream ? "stream" : "block"][w.format];
    const args = [rows, outDim, inDim, px, inDim, w.at, y.at(), outDim, 0, 0];
    // the 16-bit blocks widen rows into float32 scratch, each thread its own
    const widening = !stream && w.format !== "f32";
    if (widening) args.push(0);
    this.shared({
      call: { kernel, size: 0, args },
      from: 8,
      to: 9,
      units: outDim,
      align: 4,
      work: rows * outDim * inDim,
      scratch: widening ? { arg: 10, ...this.scratchPerThread(4 * WIDEN_ROWS * inDim) } : undefined,
    });
    if (bias) {
      for (let r = 0; r < rows; r++)
        for (let o = 0; o < outDim; o++) y.data[r * outDim + o] += bias.data[o];
    }
    return y;
  }

  override negExp(x: Tensor): Tensor {
    const kept = this.mem.keptNegExp(x, this.m.alloc([1]));
    if (kept) return { shape: [...x.shape], data: kept };
    const out = this.m.alloc(x.shape);
    const n4 = Math.ceil(x.data.length / 4);
    this.shared({
      call: { kernel: "negExp", size: 0, args: [this.addressOf(x), out.at(), 0, 0] },
      from: 2,
      to: 3,
      units: n4,
      align: 1,
      work: 16 * n4,
    });
    return out;
  }

  /**
   * A per-channel matrix (C, ·) with zero rows added up to `rowsP` channels: what the kernels read
   * when channels are padded to whole vectors.
   */
  private paddedRows(t: Tensor, rowsP: number): SimdTensor {
    const out = this.m.zeros([rowsP, t.data.length / t.shape[0]]);
    out.data.set(t.data);
    return out;
  }

  override causalConv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | null,
    state: Tensor | null,
  ): Tensor {
    const [b, l, C] = x.shape;
    const k = weight.shape[2];
    const Cp = padded(C);
    const pad = Cp !== C;
    const xs = this.padChannels(x);
    const y = this.m.alloc([b, l, Cp]);
    // the weight (C, 1, k) and state (b, C, k) as (Cp, k) rows per batch element
    const pW = pad ? this.paddedRows(weight, Cp).at() : this.addressOf(weight);
    const pB = bias ? (pad ? this.paddedVector(bias).at() : this.addressOf(bias)) : 0;
    // the state in place when it lives in the memory, else a copy (zeros: a fresh sequence)
    const inPlace = state && !pad ? this.mem.address(state.data) : undefined;
    const st = inPlace === undefined ? this.m.zeros([b, Cp, k]) : null;
    if (state && st)
      for (let i = 0; i < b; i++)
        st.data.set(state.data.subarray(i * C * k, (i + 1) * C * k), i * Cp * k);
    const stAt = (i: number) => (st ? st.at(i * Cp * k) : inPlace! + 4 * i * Cp * k);
    for (let i = 0; i < b; i++) {
      const args = [l, xs.at(i * l * Cp), Cp, pW, pB, bias ? 1 : 0, stAt(i)];
      args.push(y.at(i * l * Cp), Cp, 0, 0);
      this.shared({
        call: { kernel: "convState", size: k, args },
        from: 9,
        to: 10,
        units: Cp / 4,
        align: 1,
        work: l * C * k,
      });
    }
    if (state && st)
      for (let i = 0; i < b; i++)
        state.data.set(st.data.subarray(i * Cp * k, i * Cp * k + C * k), i * C * k);
    return this.unpadChannels(y, C);
  }

  /**
   * Mamba-2's SSD (`./ssd.ts`): with threads, each chunk's heads shared over them (the groups'
   * scores and the chunk's steps made here first), and a decoding step's heads too.
   */
  override ssd(a: SsdArgs, state: Tensor | null): Tensor {
    if (!this.pool) return super.ssd(a, state);
    let scratch: { base: number; stride: number } | null = null; // one for all chunks
    return ssdChunkedGemm(this.m, a, state, (kernel, desc, scratchBytes, units, work) => {
      scratch ??= this.scratchPerThread(scratchBytes);
      this.shared({
        call: { kernel, size: 0, args: [desc, 0, 0, 0] },
        from: 2,
        to: 3,
        units,
        align: 1,
        work,
        scratch: { arg: 1, ...scratch },
      });
    });
  }

  override selectiveScan(a: ScanArgs, state: Tensor | null): Tensor {
    const [b, l, E] = a.u.shape;
    const N = a.A.shape[1];
    if (N > MAX_SCAN_STATE) return reference.selectiveScan(a, state);
    const lti = a.B.shape.length === 2;
    const Ep = padded(E);
    const pad = Ep !== E;
    const perChannel = (t: Tensor): number =>
      pad ? this.paddedRows(t, Ep).at() : this.addressOf(t);
    const vector = (t: Tensor): number => (pad ? this.paddedVector(t).at() : this.addressOf(t));
    const u = this.padChannels(a.u);
    const delta = this.padChannels(a.delta);
    const z = a.z ? this.padChannels(a.z) : null;
    const pA = perChannel(a.A);
    const B = lti ? perChannel(a.B) : this.m.input(a.B).at();
    const C = lti ? perChannel(a.C) : this.m.input(a.C).at();
    const pD = vector(a.D);
    const pBias = vector(a.deltaBias);
    const inPlace = state && !pad ? this.mem.address(state.data) : undefined;
    const h = inPlace === undefined ? this.m.zeros([b, Ep, N]) : null;
    if (state && h)
      for (let i = 0; i < b; i++)
        h.data.set(state.data.subarray(i * E * N, (i + 1) * E * N), i * Ep * N);
    const hAt = (i: number) => (h ? h.at(i * Ep * N) : inPlace! + 4 * i * Ep * N);
    const y = this.m.alloc([b, l, Ep]);
    // one position (a decoding step): the kernel vectorised over the state, no scratch
    const step = l === 1 && N % 4 === 0;
    const scratch = step ? null : this.scratchPerThread(16 * (lti ? 4 : 2) * N);
    for (let i = 0; i < b; i++) {
      const row = i * l * Ep;
      const bc = lti ? 0 : 4 * i * l * N;
      const pz = z ? z.at(row) : 0;
      const hRow = hAt(i);
      const common = [delta.at(row), pBias, pA, B + bc, C + bc, u.at(row), pz, z ? 1 : 0, pD];
      const args = step
        ? [...common, y.at(row), hRow, 0, 0]
        : [l, Ep, ...common, y.at(row), hRow, 0, 0, 0];
      this.shared({
        call: { kernel: `scan${step ? "Step" : "State"}${lti ? "Lti" : ""}`, size: N, args },
        from: step ? 11 : 14,
        to: step ? 12 : 15,
        units: Ep / 4,
        align: 1,
        work: 16 * l * E * N,
        scratch: scratch ? { arg: 13, ...scratch } : undefined,
      });
    }
    if (state && h)
      for (let i = 0; i < b; i++)
        state.data.set(h.data.subarray(i * Ep * N, i * Ep * N + E * N), i * E * N);
    return this.unpadChannels(y, E);
  }
}
