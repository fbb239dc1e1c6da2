/**
 * The "simd-threads" engine's inference pool: one kernel call at a time split over threads that
 * share one WebAssembly memory (`./infer.ts` splits a product by weight rows and a conv or scan
 * by channels; each thread runs its share with the same kernels, in place in that memory).
 *
 * Unlike training (`./threads.ts`: a whole loss-and-gradients pass per thread, one message per
 * step), inference synchronises at every large op: a decoding step of a 24-layer model runs
 * about fifty split calls. So a call travels as numbers in the worker's shared control words
 * (`Int32Array` on a SharedArrayBuffer: the kernel's index, its module size and arguments), and
 * both sides spin briefly on those words before sleeping in `Atomics.wait`: a sleeping thread
 * takes tens of microseconds to wake, while a decoding step has a few hundred microseconds
 * between calls. The memory itself reaches a worker once, by message (a shared WebAssembly
 * memory is shared, not copied, when posted), when a call uses a memory the worker has not seen.
 *
 * A dead worker never hangs a call: its workers are made by `./supervisor.ts`, which listens to
 * their 'error' and 'exit' events, marks the worker dead in its control words and wakes the
 * calling thread, which throws (and closes the pool: the next call makes a new one). An error
 * inside a kernel (a trap) is caught by the worker and rethrown by the calling thread.
 */
import { availableParallelism } from "node:os";
import {
  MessageChannel,
  type MessagePort,
  Worker,
  receiveMessageOnPort,
} from "node:worker_threads";
import type { WasmMemory } from "../../selective-fast/wasm";
import { CTRL, type WorkerDeath, builtModule } from "./threads";
import { type InferKernels, KERNELS, type KernelCall, MAX_KERNEL_ARGS } from "./infer-runtime";

/** The job words after the supervisor's three (`CTRL`): see {@link InferPool}. */
export const JOB = {
  /** Id of the memory the call runs in. */
  memory: 3,
  /** Index in `KERNELS`, or −1: close. */
  kernel: 4,
  size: 5,
  count: 6,
  /** 1 when the worker's last call threw (its message follows on the port). */
  failed: 7,
  args: 8,
} as const;
export const JOB_WORDS = JOB.args + MAX_KERNEL_ARGS;

/** Milliseconds a waiting thread spins on the control words before it sleeps. */
export const SPIN_MS = Number(process.env.SPIN_MS ?? 0.1);

/** Messages from the pool to a worker on its port. */
export type InferMessage = { type: "memory"; id: number; memory: WasmMemory };

/** A memory the pool's calls run in: its id (what the job words name) and the memory. */
export interface PoolMemory {
  id: number;
  wasm: WasmMemory;
}

interface PoolWorker {
  port: MessagePort;
  ctrl: Int32Array;
  /** Id of the memory this worker holds (−1: none yet). */
  memory: number;
}

/** A pool of inference threads (see the module comment). */
export class InferPool {
  private readonly workers: PoolWorker[] = [];
  private readonly supervisor: Worker | null = null;
  private readonly deaths: MessagePort | null = null;
  private closed = false;
  private failure: string | null = null;

  /**
   * `threads`: the calling thread plus threads − 1 workers. `workerScript`: the workers' module
   * (default `./infer-worker.ts`, built; the tests give one that dies).
   */
  constructor(
    readonly threads: number,
    workerScript: string = builtModule("ops/simd/infer-worker"),
  ) {
    if (threads === 1) return;
    const deaths = new MessageChannel();
    const specs: { port: MessagePort; ctrl: Int32Array }[] = [];
    const ports: MessagePort[] = [];
    for (let i = 1; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const ctrl = new Int32Array(new SharedArrayBuffer(4 * JOB_WORDS));
      this.workers.push({ port: port1, ctrl, memory: -1 });
      specs.push({ port: port2, ctrl });
      ports.push(port2);
    }
    this.deaths = deaths.port1;
    this.supervisor = new Worker(builtModule("ops/simd/supervisor"), {
      workerData: {
        script: workerScript,
        workers: specs,
        deaths: deaths.port2,
      },
      transferList: [...ports, deaths.port2],
    });
    this.supervisor.unref();
  }

  /** Whether calls can still run (not closed, no worker died). */
  get usable(): boolean {
    return !this.closed && this.failure === null;
  }

  /**
   * Runs `calls[0]` on this thread (with `local`, the kernels over `memory`) and `calls[i]` on
   * worker i, and returns when all are done; null entries do nothing. `caller` (the function the
   * user called) names errors.
   */
  run(caller: string, memory: PoolMemory, local: InferKernels, calls: (KernelCall | null)[]): void {
    if (this.failure) throw new Error(`${caller}: engine "simd-threads": ${this.failure}`);
    if (this.closed) throw new Error(`${caller}: engine "simd-threads": the pool was closed`);
    const posted: { w: PoolWorker; before: number; index: number }[] = [];
    for (let i = 1; i < calls.length; i++) {
      const c = calls[i];
      if (!c) continue;
      const w = this.workers[i - 1];
      if (w.memory !== memory.id) {
        w.port.postMessage({
          type: "memory",
          id: memory.id,
          memory: memory.wasm,
        } satisfies InferMessage);
        w.memory = memory.id;
      }
      const ctrl = w.ctrl;
      ctrl[JOB.memory] = memory.id;
      ctrl[JOB.kernel] = KERNELS.indexOf(c.kernel);
      ctrl[JOB.size] = c.size;
      ctrl[JOB.count] = c.args.length;
      for (let a = 0; a < c.args.length; a++) ctrl[JOB.args + a] = c.args[a];
      const before = Atomics.load(ctrl, CTRL.answered);
      Atomics.add(ctrl, CTRL.posted, 1);
      Atomics.notify(ctrl, CTRL.posted);
      posted.push({ w, before, index: i });
    }
    let localError: unknown = null;
    try {
      if (calls[0]) local.run(calls[0]);
    } catch (e) {
      localError = e;
    }
    const errors: string[] = [];
    for (const p of posted) {
      this.await(caller, p.w, p.before);
      if (p.w.ctrl[JOB.failed] !== 0) {
        // the message was posted before the answer; give the port a moment to deliver it
        let msg = receiveMessageOnPort(p.w.port);
        for (let tries = 0; !msg && tries < 1000; tries++) {
          Atomics.wait(p.w.ctrl, CTRL.dead, 0, 1);
          msg = receiveMessageOnPort(p.w.port);
        }
        errors.push(`worker ${p.index}: ${msg ? String(msg.message) : "failed"}`);
      }
    }
    if (localError) throw localError;
    if (errors.length > 0)
      throw new Error(`${caller}: engine "simd-threads": a kernel failed in ${errors.join("; ")}`);
  }

  /** Waits until w answers the call posted when its answer count was `before`. */
  private await(caller: string, w: PoolWorker, before: number): void {
    const t0 = performance.now();
    let spins = 0;
    for (;;) {
      if (Atomics.load(w.ctrl, CTRL.answered) !== before) return;
      if (Atomics.load(w.ctrl, CTRL.dead) !== 0) this.fail(caller, w);
      if ((++spins & 255) === 0 && performance.now() - t0 > SPIN_MS) {
        Atomics.wait(w.ctrl, CTRL.answered, before, 1000);
      }
    }
  }

  /** Closes the pool after the supervisor reported w dead, and throws why. */
  private fail(caller: string, w: PoolWorker): never {
    let death: WorkerDeath | null = null;
    // the supervisor posts the reason before it raises the flag; give the port a moment
    for (let tries = 0; !death && tries < 1000; tries++) {
      const msg = receiveMessageOnPort(this.deaths!);
      if (msg) death = msg.message as WorkerDeath;
      else Atomics.wait(w.ctrl, CTRL.dead, 1, 1);
    }
    const what = death ? `worker ${death.worker} ${death.reason}` : "a worker died";
    this.failure = `${what} during a call; the pool is closed (the next call starts a new one)`;
    this.close();
    throw new Error(`${caller}: engine "simd-threads": ${this.failure}`);
  }

  /** Ends the workers; the pool cannot be used afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) {
      w.ctrl[JOB.kernel] = -1;
      Atomics.add(w.ctrl, CTRL.posted, 1);
      Atomics.notify(w.ctrl, CTRL.posted);
      w.port.close();
    }
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
