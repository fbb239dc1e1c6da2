/**
 * The "simd-threads" engine's inference pool: one kernel call at a time shared by threads that
 * all see one WebAssembly memory (`./infer.ts` cuts a product into chunks of weight rows and a
 * conv or scan into chunks of channels; each thread runs whole chunks with the same kernels, in
 * place in that memory).
 *
 * Unlike training (`./threads.ts`: a whole loss-and-gradients pass per thread, one message per
 * step), inference synchronises at every large op: a decoding step of a 24-layer model makes
 * about a hundred such calls, each some tens of microseconds of work per chunk. So:
 *
 * - A call travels as numbers in shared words (`Int32Array` on a SharedArrayBuffer): the
 *   kernel's index, its module size, its arguments, which two arguments carry a chunk's range
 *   and where each thread's scratch is. The words are written under a sequence lock (odd while
 *   the calling thread writes them), so a worker never reads half of one call and half of the
 *   next.
 * - Chunks are claimed, not assigned: every thread (the calling one included) takes the next
 *   chunks from a shared counter (a compare-and-swap on a 64-bit word holding the call's number
 *   and the next chunk) until none is left, a share of what is left at a time: large claims
 *   first, single chunks last (guided scheduling: few claims per call, as with large chunks,
 *   and the threads finish together, as with small ones). A worker that the operating system
 *   has descheduled (the machine is shared, or busy) simply takes none: the calling thread
 *   does them all, and waits only for chunks a worker has started. A worker that wakes late
 *   finds the call over (its number changed) and claims nothing.
 * - Waiting threads spin briefly on the words before sleeping in `Atomics.wait`: a sleeping
 *   thread takes tens of microseconds to wake.
 * - Sharing is measured, not assumed: on a machine that gives the pool's threads one core
 *   between them, a shared call pays its synchronisation for nothing, so the pool times calls
 *   both ways now and then and runs the faster (`account`).
 *
 * The memory reaches a worker once, by message (a shared WebAssembly memory is shared, not
 * copied, when posted), when a call uses a memory the worker has not seen.
 *
 * A dead worker never hangs a call: the workers are made by `./supervisor.ts`, which listens to
 * their 'error' and 'exit' events and marks the worker dead in its control words; the calling
 * thread checks those marks while it waits and throws (and closes the pool: the next call makes
 * a new one). An error inside a kernel (a trap) is caught by the thread that ran it and rethrown
 * by the calling thread.
 */
import { availableParallelism } from "node:os";
import {
  MessageChannel,
  type MessagePort,
  Worker,
  receiveMessageOnPort,
} from "node:worker_threads";
import type { WasmMemory } from "./wasm";
import { CTRL, builtModule, deathOf } from "./threads";
import { type InferKernels, KERNELS, type KernelCall, MAX_KERNEL_ARGS } from "./infer-runtime";

/** The shared words of a call (indices into the pool's Int32Array). */
export const JOB = {
  /** Sequence lock: odd while the calling thread writes the call, even when it is posted. */
  seq: 0,
  /** Chunks finished (by any thread). */
  done: 1,
  /** 1 when a kernel threw (its message follows on the thread's port; −1: the calling thread). */
  failed: 2,
  /** Id of the memory the call runs in. */
  memory: 3,
  /** Index in `KERNELS`, or −1: the workers end. */
  kernel: 4,
  size: 5,
  count: 6,
  chunks: 7,
  units: 8,
  align: 9,
  /** Which arguments receive a chunk's first and end unit. */
  fromArg: 10,
  toArg: 11,
  /** Which argument receives the thread's scratch address (−1: none), and the stride. */
  scratchArg: 12,
  scratchStride: 13,
  /**
   * 1 while the calling thread sleeps until more chunks are done: a thread that finishes a chunk
   * wakes it only then (a wake-up costs more than a chunk's bookkeeping).
   */
  sleeping: 14,
  /** Threads of the pool (set once): what a claim's share is cut by. */
  threads: 15,
  args: 16,
} as const;
/** Int32 words of a call, the 64-bit claim word after them (8-byte aligned). */
const JOB_WORDS = JOB.args + MAX_KERNEL_ARGS;
const CLAIM_OFFSET = 4 * JOB_WORDS;

/** Milliseconds a waiting thread spins on the shared words before it sleeps. */
export const SPIN_MS = 0.2;
/** Calls timed each way to decide whether sharing pays, and calls run the chosen way after. */
const PROBE_CALLS = 100;
const KEEP_CALLS = 2000;
/** How much faster (time per unit of work) the alone probe must be to run calls alone. */
const ALONE_MARGIN = 0.9;

/** Messages from the pool to a worker on its port. */
export type InferMessage = { type: "memory"; id: number; memory: WasmMemory };

/** A memory the pool's calls run in: its id (what the words name) and the memory. */
export interface PoolMemory {
  id: number;
  wasm: WasmMemory;
}

/**
 * A call shared out in chunks: `call` with its arguments `from` and `to` set to each chunk's
 * range of `units` (chunk boundaries multiples of `align`), and `scratch` (when given) set to
 * the thread's own scratch: `scratch.base + thread · scratch.stride`.
 */
export interface ChunkedCall {
  call: KernelCall;
  from: number;
  to: number;
  units: number;
  align: number;
  chunks: number;
  scratch?: { arg: number; base: number; stride: number };
  /** The call's work (multiply-adds or the like): what its time is compared by. */
  work: number;
}

/** Chunk c's first unit (c = chunks: the end). The workers compute the same. */
function chunkStart(c: number, chunks: number, units: number, align: number): number {
  if (c >= chunks) return units;
  return Math.min(units, Math.round((c * units) / chunks / align) * align);
}

/** The shared words of a pool and the claiming both sides do. */
export class JobWords {
  readonly words: Int32Array;
  readonly claim: BigInt64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, JOB_WORDS);
    this.claim = new BigInt64Array(buffer, CLAIM_OFFSET, 1);
  }

  static create(): JobWords {
    return new JobWords(new SharedArrayBuffer(CLAIM_OFFSET + 8));
  }

  /**
   * Claims chunks of call `seq` and runs them with `run(first, end)` (chunks first … end − 1)
   * until none is left; counts the chunks finished in `done`. A claim takes a share of what is
   * left, 1/(2 · threads) of it and at least one chunk (guided scheduling): the first claims are
   * large, so that a call pays for few claims, and the last ones a single chunk, so that the
   * threads finish together.
   */
  claimAndRun(seq: number, chunks: number, run: (first: number, end: number) => void): void {
    const id = BigInt(seq) << 32n;
    const share = 2 * Math.max(1, this.words[JOB.threads]);
    for (;;) {
      const w = Atomics.load(this.claim, 0);
      if ((w & ~0xffffffffn) !== id) return;
      const c = Number(w & 0xffffffffn);
      if (c >= chunks) return;
      const take = Math.max(1, Math.floor((chunks - c) / share));
      if (Atomics.compareExchange(this.claim, 0, w, w + BigInt(take)) !== w) continue;
      try {
        run(c, c + take);
      } finally {
        Atomics.add(this.words, JOB.done, take);
        if (Atomics.load(this.words, JOB.sleeping) !== 0) Atomics.notify(this.words, JOB.done);
      }
    }
  }

  /**
   * The kernel call of chunks first … end − 1 of posted call `seq`, for thread `thread`. The
   * call's words are read once per call; each claim only sets its range, in the same arguments.
   */
  chunkCall(
    seq: number,
    first: number,
    end: number,
    thread: number,
    kernels: readonly string[],
  ): KernelCall {
    let p = this.posted;
    if (p === null || p.seq !== seq) {
      const w = this.words;
      const args = Array.from(w.subarray(JOB.args, JOB.args + w[JOB.count]));
      if (w[JOB.scratchArg] >= 0)
        args[w[JOB.scratchArg]] = w[JOB.args + w[JOB.scratchArg]] + thread * w[JOB.scratchStride];
      p = {
        seq,
        call: { kernel: kernels[w[JOB.kernel]] as KernelCall["kernel"], size: w[JOB.size], args },
        from: w[JOB.fromArg],
        to: w[JOB.toArg],
        chunks: w[JOB.chunks],
        units: w[JOB.units],
        align: w[JOB.align],
      };
      this.posted = p;
    }
    p.call.args[p.from] = chunkStart(first, p.chunks, p.units, p.align);
    p.call.args[p.to] = chunkStart(end, p.chunks, p.units, p.align);
    return p.call;
  }

  /** The posted call as this thread last read it (see {@link chunkCall}). */
  private posted: {
    seq: number;
    call: KernelCall;
    from: number;
    to: number;
    chunks: number;
    units: number;
    align: number;
  } | null = null;
}

interface PoolWorker {
  port: MessagePort;
  /** The supervisor's words for this worker (its `dead` mark). */
  ctrl: Int32Array;
  /** Id of the memory this worker holds (−1: none yet). */
  memory: number;
}

/** A pool of inference threads (see the module comment). */
export class InferPool {
  private readonly workers: PoolWorker[] = [];
  private readonly supervisor: Worker | null = null;
  private readonly deaths: MessagePort | null = null;
  private readonly job = JobWords.create();
  private seq = 0;
  private closed = false;
  private failure: string | null = null;
  /**
   * Whether calls are shared or run here alone, and for how many more (see {@link account}). The
   * first calls are shared without being timed: they include the workers' start and each
   * kernel's first compilation, which made the first probe choose "alone" for a whole prompt.
   */
  private mode: { kind: "probe-shared" | "probe-alone" | "shared" | "alone"; calls: number } = {
    kind: "shared",
    calls: PROBE_CALLS,
  };
  /** Milliseconds per unit of work of the probes: shared, then alone. */
  private probe = { wall: 0, work: 0, shared: 0 };

  /**
   * `threads`: the calling thread plus threads − 1 workers. `workerScript`: the workers' module
   * (default `./infer-worker.ts`, built; the tests give one that dies).
   */
  constructor(
    readonly threads: number,
    workerScript: string = builtModule("ops/simd/infer-worker"),
  ) {
    this.job.words[JOB.threads] = threads;
    if (threads === 1) return;
    const deaths = new MessageChannel();
    const specs: { port: MessagePort; ctrl: Int32Array; job: SharedArrayBuffer; index: number }[] =
      [];
    const ports: MessagePort[] = [];
    for (let i = 1; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const ctrl = new Int32Array(new SharedArrayBuffer(12));
      this.workers.push({ port: port1, ctrl, memory: -1 });
      specs.push({ port: port2, ctrl, job: this.job.buffer, index: i });
      ports.push(port2);
    }
    this.deaths = deaths.port1;
    this.supervisor = new Worker(builtModule("ops/simd/supervisor"), {
      workerData: { script: workerScript, workers: specs, deaths: deaths.port2 },
      transferList: [...ports, deaths.port2],
    });
    this.supervisor.unref();
  }

  /** Whether calls can still run (not closed, no worker died). */
  get usable(): boolean {
    return !this.closed && this.failure === null;
  }

  /**
   * Runs a chunked call on every thread of the pool (this one with `local`, the kernels over
   * `memory`) and returns when every chunk is done. `caller` (the function the user called)
   * names errors.
   */
  run(caller: string, memory: PoolMemory, local: InferKernels, c: ChunkedCall): void {
    if (this.failure) throw new Error(`${caller}: engine "simd-threads": ${this.failure}`);
    if (this.closed) throw new Error(`${caller}: engine "simd-threads": the pool was closed`);
    for (const w of this.workers) if (Atomics.load(w.ctrl, CTRL.dead) !== 0) this.fail(caller, w);
    const t0 = performance.now();
    const alone = this.mode.kind === "alone" || this.mode.kind === "probe-alone";
    if (alone) {
      const args = [...c.call.args];
      args[c.from] = 0;
      args[c.to] = c.units;
      if (c.scratch) args[c.scratch.arg] = c.scratch.base;
      local.run({ ...c.call, args });
    } else {
      this.share(caller, memory, local, c);
    }
    this.account(performance.now() - t0, c.work);
  }

  /**
   * Whether sharing pays, decided by measuring both: the threads get the cores the operating
   * system gives them, and on a shared machine that can be one core for all of them, when
   * sharing costs its synchronisation and gains nothing. So the pool times PROBE_CALLS calls
   * shared and PROBE_CALLS run here alone (time per unit of work), then runs the next
   * KEEP_CALLS calls the faster way, and measures again. Either way gives the same results:
   * a chunk computes its outputs the same on any thread.
   */
  private account(ms: number, work: number): void {
    const m = this.mode;
    if (m.kind === "probe-shared" || m.kind === "probe-alone") {
      this.probe.wall += ms;
      this.probe.work += work;
    }
    if (--m.calls > 0) return;
    const rate = this.probe.wall / Math.max(1, this.probe.work);
    if (m.kind === "probe-shared") {
      this.probe = { wall: 0, work: 0, shared: rate };
      this.mode = { kind: "probe-alone", calls: PROBE_CALLS };
    } else if (m.kind === "probe-alone") {
      // alone only when clearly faster: two probes a few milliseconds long differ by some percent
      // on a quiet machine, and a wrong "alone" costs the second thread for the next calls
      const kind = rate < ALONE_MARGIN * this.probe.shared ? "alone" : "shared";
      this.mode = { kind, calls: KEEP_CALLS };
    } else {
      this.probe = { wall: 0, work: 0, shared: 0 };
      this.mode = { kind: "probe-shared", calls: PROBE_CALLS };
    }
  }

  /** The call shared out in chunks over the pool's threads (see the module comment). */
  private share(caller: string, memory: PoolMemory, local: InferKernels, c: ChunkedCall): void {
    for (const w of this.workers) {
      if (w.memory !== memory.id) {
        w.port.postMessage({
          type: "memory",
          id: memory.id,
          memory: memory.wasm,
        } satisfies InferMessage);
        w.memory = memory.id;
      }
    }
    const words = this.job.words;
    const seq = this.seq + 2;
    Atomics.store(words, JOB.seq, this.seq + 1); // writing
    words[JOB.memory] = memory.id;
    words[JOB.kernel] = KERNELS.indexOf(c.call.kernel);
    words[JOB.size] = c.call.size;
    words[JOB.count] = c.call.args.length;
    words[JOB.chunks] = c.chunks;
    words[JOB.units] = c.units;
    words[JOB.align] = c.align;
    words[JOB.fromArg] = c.from;
    words[JOB.toArg] = c.to;
    words[JOB.scratchArg] = c.scratch ? c.scratch.arg : -1;
    words[JOB.scratchStride] = c.scratch ? c.scratch.stride : 0;
    for (let a = 0; a < c.call.args.length; a++) words[JOB.args + a] = c.call.args[a];
    if (c.scratch) words[JOB.args + c.scratch.arg] = c.scratch.base;
    words[JOB.failed] = 0;
    Atomics.store(words, JOB.done, 0);
    Atomics.store(this.job.claim, 0, BigInt(seq) << 32n);
    Atomics.store(words, JOB.seq, seq); // posted
    Atomics.notify(words, JOB.seq);
    this.seq = seq;
    let localError: unknown = null;
    this.job.claimAndRun(seq, c.chunks, (first, end) => {
      try {
        local.run(this.job.chunkCall(seq, first, end, 0, KERNELS));
      } catch (e) {
        localError ??= e;
      }
    });
    this.awaitChunks(caller, c.chunks);
    if (localError) throw localError;
    if (words[JOB.failed] !== 0) {
      // the message was posted before the chunk was counted; give the ports a moment
      const messages: string[] = [];
      for (let tries = 0; messages.length === 0 && tries < 1000; tries++) {
        for (const [i, w] of this.workers.entries()) {
          const msg = receiveMessageOnPort(w.port);
          if (msg) messages.push(`worker ${i + 1}: ${String(msg.message)}`);
        }
        if (messages.length === 0) Atomics.wait(words, JOB.failed, 1, 1);
      }
      throw new Error(
        `${caller}: engine "simd-threads": a kernel failed in ${messages.join("; ") || "a worker"}`,
      );
    }
  }

  /** Waits until `chunks` chunks are done; throws when a worker is reported dead. */
  private awaitChunks(caller: string, chunks: number): void {
    const words = this.job.words;
    const t0 = performance.now();
    let spins = 0;
    for (;;) {
      const done = Atomics.load(words, JOB.done);
      if (done >= chunks) return;
      for (const w of this.workers) if (Atomics.load(w.ctrl, CTRL.dead) !== 0) this.fail(caller, w);
      if ((++spins & 255) === 0 && performance.now() - t0 > SPIN_MS) {
        // a chunk counted after the flag is set notifies; one counted before it changed `done`,
        // and the wait returns at once
        Atomics.store(words, JOB.sleeping, 1);
        Atomics.wait(words, JOB.done, done, 1);
        Atomics.store(words, JOB.sleeping, 0);
      }
    }
  }

  /** Closes the pool after the supervisor reported w dead, and throws why. */
  private fail(caller: string, w: PoolWorker): never {
    const what = deathOf(this.deaths!, w.ctrl);
    this.failure = `${what} during a call; the pool is closed (the next call starts a new one)`;
    this.close();
    throw new Error(`${caller}: engine "simd-threads": ${this.failure}`);
  }

  /** Ends the workers; the pool cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const words = this.job.words;
    Atomics.store(words, JOB.seq, this.seq + 1);
    words[JOB.kernel] = -1;
    Atomics.store(words, JOB.seq, this.seq + 2);
    Atomics.notify(words, JOB.seq);
    for (const w of this.workers) w.port.close();
    this.deaths?.close();
    void this.supervisor?.terminate();
  }
}

let defaultPool: InferPool | null = null;

/**
 * The pool of the "simd-threads" inference engine: `os.availableParallelism()` threads, made on
 * first use and again after a worker of it died. Its threads do not keep a script alive.
 */
export function inferPool(): InferPool {
  if (!defaultPool || !defaultPool.usable) {
    defaultPool = new InferPool(Math.max(1, Math.min(64, availableParallelism())));
  }
  return defaultPool;
}
