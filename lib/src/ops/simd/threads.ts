/**
 * The "simd-threads" engine's pool: data parallelism over the batch on `node:worker_threads`.
 *
 * A pool of T threads (the calling thread plus T − 1 workers, created once and reused) splits the
 * batch's rows into T contiguous shares; every thread runs the same computation on its share (a
 * {@link ShareTask}: for Mamba, the model of `mamba/model.ts` on this thread's simd backend,
 * `mamba/grads.ts`; for the Transformer++, `transformer/grads.ts`), and the results are combined as the mean over the whole batch:
 *
 *   loss = Σ_s W_s loss_s / Σ_s W_s,   ∇ = Σ_s W_s ∇_s / Σ_s W_s
 *
 * with W_s the share's count of scored positions (the sum of its mask weights), so the result is
 * the one-thread loss and gradient up to float32 summation order.
 *
 * Memory is shared, not copied: the parameters live in one SharedArrayBuffer that every worker
 * reads (the pool adopts the model's parameter tensors: their `data` becomes a view of that buffer,
 * same values, so AdamW's in-place updates are what the workers read next step), and each worker
 * writes its gradients into a SharedArrayBuffer of its own. The calling thread waits with
 * `Atomics.wait`, so a step is an ordinary synchronous call (usable from scripts and from the
 * notebook kernel alike); job descriptions travel on a MessagePort read synchronously
 * (`receiveMessageOnPort`).
 *
 * A worker that dies (an exit, an error outside its job's `try`, a kill) cannot be seen from the
 * calling thread while it waits: a Worker's 'error' and 'exit' events arrive on the event loop of
 * the thread that made it, and the waiting thread's loop is blocked. So the workers are made by a
 * supervisor thread (`./supervisor.ts`) that does nothing but listen to those events: on one, it
 * posts the reason and wakes the waiting thread through the worker's control word, and the step
 * throws an Error (the pool is then closed) instead of waiting forever.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import {
  MessageChannel,
  type MessagePort,
  Worker,
  receiveMessageOnPort,
} from "node:worker_threads";
import type { Tensor } from "../../tensor";
import { checkArg, checkOptions, describe, schema } from "../../validate";
import { alloc } from "../reference/forward";

/** One thread's share of a batch: rows of token ids, their targets and mask, and the task's args. */
export interface Share<A> {
  params: Map<string, Tensor>;
  /** (b, l) ids, targets (−100: skipped) and mask weights, row-major. */
  ids: Int32Array;
  targets: Int32Array;
  mask: ArrayLike<number> | null;
  b: number;
  l: number;
  /** What else the task needs (structured-cloneable: it travels to the workers). */
  args: A;
}

/** What a share's computation returns (a model's `LossAndGrads`). */
export interface ShareResult {
  loss: number;
  count: number;
  correct: number;
  /** By parameter name, in the parameters' shapes. */
  grads: Map<string, Tensor>;
}

/**
 * The computation each thread runs on its share: `run` on the calling thread; in the workers, the
 * export `name` of `module` (a lib module as a path under lib/src without extension, e.g.
 * "mamba/grads", loaded from the built lib/dist; or the absolute path of a CommonJS file), which
 * must be the same function.
 */
export interface ShareTask<A> {
  module: string;
  name: string;
  /**
   * The public function the user called, which the pool's errors name (default
   * "mambaLossAndGrads", the pool's first user).
   */
  caller?: string;
  run(share: Share<A>): ShareResult;
}

/** A pool of training threads (see the module comment). */
export interface TrainPool {
  /** Threads per step, the calling one included. */
  readonly threads: number;
  /**
   * `task` on `batch` split over the threads, combined as the mean over the whole batch, with
   * gradients in the parameters' dtypes (used by `mambaLossAndGrads` and `transformerLossAndGrads`).
   */
  step<A>(task: ShareTask<A>, batch: Share<A>): ShareResult;
  /** Ends the workers; the pool cannot be used afterwards. */
  close(): void;
}

/** Options of {@link createTrainPool}. */
export interface TrainPoolOptions {
  /** Threads, the calling one included (default `os.availableParallelism()`). */
  threads?: number;
}

/** Where each parameter lives in the shared parameter buffer (byte offsets). */
export type ParamLayout = {
  name: string;
  shape: number[];
  dtype: "float32" | "float64";
  offset: number;
}[];

/** Messages from the pool to a worker. */
export type WorkerJob =
  | {
      type: "step";
      module: string;
      name: string;
      args: unknown;
      params: ParamLayout;
      paramBuffer: SharedArrayBuffer;
      gradBuffer: SharedArrayBuffer;
      ids: Int32Array;
      targets: Int32Array;
      mask: Float64Array | null;
      b: number;
      l: number;
    }
  | { type: "close" };

/** A worker's answer. */
export type WorkerReply =
  { ok: true; loss: number; count: number; correct: number } | { ok: false; error: string };

/** What the supervisor posts when a worker dies. */
export interface WorkerDeath {
  worker: number;
  reason: string;
}

/**
 * The control words of one worker (Int32Array on a SharedArrayBuffer): jobs posted, jobs
 * answered, and 1 once the worker is dead.
 */
export const CTRL = { posted: 0, answered: 1, dead: 2 } as const;

/**
 * What the supervisor reported about a dead worker ("worker 1 exited (code 7)"), read from its
 * death port; `ctrl` is the dead worker's control words (the supervisor posts the reason before
 * it raises the flag: the port is given a moment to deliver it).
 */
export function deathOf(deaths: MessagePort, ctrl: Int32Array): string {
  let death: WorkerDeath | null = null;
  for (let tries = 0; !death && tries < 1000; tries++) {
    const msg = receiveMessageOnPort(deaths);
    if (msg) death = msg.message as WorkerDeath;
    else Atomics.wait(ctrl, CTRL.dead, 1, 1);
  }
  return death ? `worker ${death.worker} ${death.reason}` : "a worker died";
}

/**
 * The built .js file of lib module `module` (a path under lib/src without extension), also when
 * lib runs from its TypeScript source (the tests): lib/dist/<module>.js. An absolute path is
 * returned as it is.
 */
export function builtModule(module: string): string {
  if (path.isAbsolute(module)) return module;
  const root = path.resolve(__dirname, "../.."); // lib/dist, or lib/src from source
  const here = path.join(root, `${module}.js`);
  if (existsSync(here)) return here;
  const built = path.resolve(root, "../dist", `${module}.js`);
  if (existsSync(built)) return built;
  throw new Error(
    `createTrainPool: the built module ${module}.js is missing (looked for ${here} and ${built}); run npm run build`,
  );
}

interface PoolWorker {
  port: MessagePort;
  ctrl: Int32Array;
  grads: SharedArrayBuffer | null;
}

interface SharedParams {
  buffer: SharedArrayBuffer;
  layout: ParamLayout;
  total: number;
}

class WorkerPool implements TrainPool {
  private readonly workers: PoolWorker[] = [];
  private readonly supervisor: Worker | null = null;
  private readonly deaths: MessagePort | null = null;
  private shared: SharedParams | null = null;
  private closed = false;
  /** Why the pool stopped (a worker died), or null. */
  private failure: string | null = null;

  constructor(readonly threads: number) {
    if (threads === 1) return;
    const deaths = new MessageChannel();
    const ports: MessagePort[] = [];
    const specs: { port: MessagePort; ctrl: Int32Array }[] = [];
    for (let i = 1; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const ctrl = new Int32Array(new SharedArrayBuffer(12));
      this.workers.push({ port: port1, ctrl, grads: null });
      specs.push({ port: port2, ctrl });
      ports.push(port2);
    }
    this.deaths = deaths.port1;
    this.supervisor = new Worker(builtModule("ops/simd/supervisor"), {
      workerData: { script: builtModule("ops/simd/worker"), workers: specs, deaths: deaths.port2 },
      transferList: [...ports, deaths.port2],
    });
    this.supervisor.unref();
  }

  /** Moves the parameters into the shared buffer unless they are already there. */
  private adopt(params: Map<string, Tensor>): SharedParams {
    const sh = this.shared;
    const ok =
      sh !== null &&
      sh.layout.length === params.size &&
      sh.layout.every((e) => {
        const p = params.get(e.name);
        return p !== undefined && p.data.buffer === sh.buffer && p.data.byteOffset === e.offset;
      });
    if (ok) return sh;
    let bytes = 0;
    const layout: ParamLayout = [];
    let total = 0;
    for (const [name, p] of params) {
      const dtype = p.data instanceof Float64Array ? "float64" : "float32";
      bytes = Math.ceil(bytes / 8) * 8;
      layout.push({ name, shape: [...p.shape], dtype, offset: bytes });
      bytes += p.data.length * (dtype === "float64" ? 8 : 4);
      total += p.data.length;
    }
    const buffer = new SharedArrayBuffer(Math.max(8, bytes));
    for (const e of layout) {
      const p = params.get(e.name)!;
      const n = p.data.length;
      const view =
        e.dtype === "float64"
          ? new Float64Array(buffer, e.offset, n)
          : new Float32Array(buffer, e.offset, n);
      view.set(p.data);
      (p as { data: Tensor["data"] }).data = view;
    }
    this.shared = { buffer, layout, total };
    return this.shared;
  }

  step<A>(task: ShareTask<A>, s: Share<A>): ShareResult {
    const fn = task.caller ?? "mambaLossAndGrads";
    if (this.failure) throw new Error(`${fn}: options.pool: ${this.failure}`);
    if (this.closed) throw new Error(`${fn}: options.pool: this pool was closed`);
    const T = Math.min(this.threads, s.b);
    if (T === 1) return task.run(s);
    const share = (i: number): [number, number] => [
      Math.floor((i * s.b) / T),
      Math.floor(((i + 1) * s.b) / T),
    ];
    const weightOf = (r0: number, r1: number): number => {
      let w = 0;
      for (let p = r0 * s.l; p < r1 * s.l; p++)
        if (s.targets[p] !== -100) w += s.mask ? s.mask[p] : 1;
      return w;
    };
    const mask = s.mask ? Float64Array.from(s.mask) : null;
    const rowsOf = (r0: number, r1: number): Share<A> => ({
      ...s,
      b: r1 - r0,
      ids: s.ids.slice(r0 * s.l, r1 * s.l),
      targets: s.targets.slice(r0 * s.l, r1 * s.l),
      mask: mask ? mask.slice(r0 * s.l, r1 * s.l) : null,
    });
    const sh = this.adopt(s.params);
    // dispatch shares 1..T−1 to the workers first, then compute share 0 here
    const running: { w: PoolWorker; index: number; weight: number; before: number }[] = [];
    for (let i = 1; i < T; i++) {
      const [r0, r1] = share(i);
      const weight = weightOf(r0, r1);
      if (!(weight > 0)) continue;
      const w = this.workers[i - 1];
      if (!w.grads || w.grads.byteLength < sh.total * 4)
        w.grads = new SharedArrayBuffer(Math.max(4, sh.total * 4));
      const rows = rowsOf(r0, r1);
      const job: WorkerJob = {
        type: "step",
        module: task.module,
        name: task.name,
        args: s.args,
        params: sh.layout,
        paramBuffer: sh.buffer,
        gradBuffer: w.grads,
        ids: rows.ids,
        targets: rows.targets,
        mask: rows.mask as Float64Array | null,
        b: rows.b,
        l: s.l,
      };
      const before = Atomics.load(w.ctrl, CTRL.answered);
      w.port.postMessage(job);
      Atomics.add(w.ctrl, CTRL.posted, 1);
      Atomics.notify(w.ctrl, CTRL.posted);
      running.push({ w, index: i, weight, before });
    }
    const [r0, r1] = share(0);
    const weight0 = weightOf(r0, r1);
    let local: ShareResult | null = null;
    let localError: unknown = null;
    if (weight0 > 0 || running.length === 0) {
      try {
        local = task.run(rowsOf(r0, r1));
      } catch (e) {
        localError = e;
      }
    }
    const replies: { reply: WorkerReply; w: PoolWorker; weight: number }[] = [];
    for (const r of running) {
      const reply = this.await(fn, r.w, r.before);
      replies.push({ reply, w: r.w, weight: r.weight });
    }
    if (localError) throw localError;
    for (const r of replies) if (!r.reply.ok) throw new Error(r.reply.error);
    // combine: the weighted mean over the shares, in the parameters' dtypes
    let W = local ? weight0 : 0;
    for (const r of replies) W += r.weight;
    const grads = new Map<string, Tensor>();
    for (const e of sh.layout) {
      const p = s.params.get(e.name)!;
      const out = alloc(p, p.data.length);
      const lg = local?.grads.get(e.name);
      if (lg) {
        const f = weight0 / W;
        for (let q = 0; q < out.length; q++) out[q] = f * lg.data[q];
      }
      grads.set(e.name, { shape: [...e.shape], data: out });
    }
    let loss = local ? (local.loss * weight0) / W : 0;
    let count = local ? local.count : 0;
    let correct = local ? local.correct : 0;
    for (const r of replies) {
      if (!r.reply.ok) continue;
      const f = r.weight / W;
      loss += r.reply.loss * f;
      count += r.reply.count;
      correct += r.reply.correct;
      const all = new Float32Array(r.w.grads!, 0, sh.total);
      let o = 0;
      for (const e of sh.layout) {
        const out = grads.get(e.name)!.data;
        for (let q = 0; q < out.length; q++) out[q] += f * all[o + q];
        o += out.length;
      }
    }
    return { loss, count, correct, grads };
  }

  /**
   * Waits for the worker's answer to the job posted when its answer count was `before`; throws
   * (and closes the pool) when the supervisor reports the worker dead.
   */
  private await(fn: string, w: PoolWorker, before: number): WorkerReply {
    for (;;) {
      if (Atomics.load(w.ctrl, CTRL.dead) !== 0) this.fail(fn, w);
      if (Atomics.load(w.ctrl, CTRL.answered) !== before) break;
      Atomics.wait(w.ctrl, CTRL.answered, before, 1000);
    }
    // the answer was posted before the count moved; wait for the port to deliver it
    for (;;) {
      const msg = receiveMessageOnPort(w.port);
      if (msg) return msg.message as WorkerReply;
      Atomics.wait(w.ctrl, CTRL.dead, 0, 1);
    }
  }

  /** Closes the pool after the supervisor reported w dead, and throws why (`fn` the caller). */
  private fail(fn: string, w: PoolWorker): never {
    const what = deathOf(this.deaths!, w.ctrl);
    this.failure = `${what} during a step; the pool is closed (create a new one with createTrainPool)`;
    this.close();
    throw new Error(`${fn}: options.pool: ${this.failure}`);
  }

  /** Whether step() can still run (not closed, no worker died). */
  get usable(): boolean {
    return !this.closed && this.failure === null;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.workers) {
      w.port.postMessage({ type: "close" } satisfies WorkerJob);
      Atomics.add(w.ctrl, CTRL.posted, 1);
      Atomics.notify(w.ctrl, CTRL.posted);
      w.port.close();
    }
    this.deaths?.close();
    void this.supervisor?.terminate();
  }
}

/**
 * A pool of `threads` training threads for `mambaLossAndGrads(model, tokens, { engine:
 * "simd-threads", pool })` and `transformerLossAndGrads` alike (and the training loops that call
 * them). Its threads do not keep a script alive; call `close()` when done.
 */
export function createTrainPool(options: TrainPoolOptions = {}): TrainPool {
  const o = checkOptions("createTrainPool", "options", options, POOL_OPTIONS);
  return new WorkerPool(o.threads ?? Math.min(64, availableParallelism()));
}

const POOL_OPTIONS = schema.options({
  threads: schema.optional(schema.integer({ min: 1, max: 64 })),
});

let defaultPool: WorkerPool | null = null;

/**
 * The pool the loss functions (`mambaLossAndGrads`, `mamba2LossAndGrads`,
 * `transformerLossAndGrads`) use for "simd-threads" without an explicit `pool` (made on first
 * use, and again after a worker of it died).
 */
export function defaultTrainPool(): TrainPool {
  if (!defaultPool || !defaultPool.usable) {
    defaultPool = new WorkerPool(Math.min(64, availableParallelism()));
  }
  return defaultPool;
}

/**
 * The implementations of a training step, the same for every model's loss function:
 * "typescript" (the reference backend), "simd" (the simd backend on this thread) and
 * "simd-threads" ("simd" data-parallel over the batch on a {@link TrainPool}).
 */
export type TrainEngine = "typescript" | "simd" | "simd-threads";

/** The schemas of the `engine` and `pool` options (for a loss function's options schema). */
export const TRAIN_ENGINE_OPTION = schema.optional(
  schema.oneOf<TrainEngine>(["typescript", "simd", "simd-threads"]),
);
export const TRAIN_POOL_OPTION = schema.optional(schema.object<TrainPool>());

/**
 * Checks the `engine` and `pool` options of a training function (`fn`, the function the user
 * called): the engine (default "typescript"), and for "simd-threads" the pool to run on (the
 * given one, else the shared default pool).
 */
export function trainEngine(
  fn: string,
  engine: unknown,
  pool: unknown,
): { engine: TrainEngine; pool: TrainPool | null } {
  const e = checkArg(fn, "options.engine", engine, TRAIN_ENGINE_OPTION) ?? "typescript";
  if (pool !== undefined && pool !== null && e !== "simd-threads") {
    throw new Error(
      `${fn}: argument 'options.pool' must be absent unless options.engine is "simd-threads" (got a pool with engine "${e}")`,
    );
  }
  if (e !== "simd-threads") return { engine: e, pool: null };
  const p =
    checkArg(fn, "options.pool", pool ?? undefined, TRAIN_POOL_OPTION) ?? defaultTrainPool();
  if (typeof p.step !== "function")
    throw new Error(
      `${fn}: argument 'options.pool' must be a pool from createTrainPool (got ${describe(p)})`,
    );
  return { engine: e, pool: p };
}
