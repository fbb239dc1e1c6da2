/**
 * The "simd-threads" engine: data parallelism over the batch on `node:worker_threads`.
 *
 * A pool of T threads (the calling thread plus T − 1 workers, created once and reused) splits the
 * batch's rows into T contiguous shares; every thread runs the simd engine (`./engine.ts`) on its
 * share, and the results are combined as the mean over the whole batch:
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
import type { Tensor } from "../tensor";
import { checkOptions, schema } from "../validate";
import type { EngineResult, EngineStep } from "./engine";
import { simdEngineFor } from "./engines";

/** A pool of training threads (see the module comment). */
export interface TrainPool {
  /** Threads per step, the calling one included. */
  readonly threads: number;
  /** One step of the simd engine split over the threads (used by `mambaLossAndGrads`). */
  step(s: EngineStep): EngineResult;
  /** Ends the workers; the pool cannot be used afterwards. */
  close(): void;
}

/** Options of {@link createTrainPool}. */
export interface TrainPoolOptions {
  /** Threads, the calling one included (default `os.availableParallelism()`). */
  threads?: number;
}

/** Messages from the pool to a worker. */
export type WorkerJob =
  | {
      type: "step";
      config: EngineStep["config"];
      params: { name: string; shape: number[]; dtype: "float32" | "float64"; offset: number }[];
      paramBuffer: SharedArrayBuffer;
      gradBuffer: SharedArrayBuffer;
      ids: Int32Array;
      targets: Int32Array;
      mask: Float64Array | null;
      b: number;
      l: number;
      variant: EngineStep["variant"];
      chunkSize: number;
    }
  | { type: "close" };

/** A worker's answer. */
export type WorkerReply =
  | { ok: true; loss: number; count: number; correct: number; weight: number }
  | { ok: false; error: string };

/** The built worker script (lib/dist/train-fast/worker.js), also when this file runs from source. */
export function workerScriptPath(): string {
  const here = path.join(__dirname, "worker.js");
  if (existsSync(here)) return here;
  const built = path.resolve(__dirname, "../../dist/train-fast/worker.js");
  if (existsSync(built)) return built;
  throw new Error(
    `createTrainPool: the worker script is missing (looked for ${here} and ${built}); run npm run build`,
  );
}

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
  ctrl: Int32Array; // [go, done]
  grads: SharedArrayBuffer | null;
}

/**
 * A pool of `threads` training threads for `mambaLossAndGrads(model, tokens, { engine:
 * "simd-threads", pool })`. Workers are unref'd (an unclosed pool does not keep a script alive);
 * call `close()` when done.
 */
export function createTrainPool(options: TrainPoolOptions = {}): TrainPool {
  const o = checkOptions("createTrainPool", "options", options, POOL_OPTIONS);
  const threads = o.threads ?? Math.min(64, availableParallelism());
  const script = threads > 1 ? workerScriptPath() : "";
  const workers: PoolWorker[] = [];
  for (let i = 1; i < threads; i++) {
    const { port1, port2 } = new MessageChannel();
    const ctrl = new Int32Array(new SharedArrayBuffer(8));
    const worker = new Worker(script, {
      workerData: { port: port2, ctrl },
      transferList: [port2],
    });
    worker.unref();
    workers.push({ worker, port: port1, ctrl, grads: null });
  }
  let closed = false;
  let shared: {
    buffer: SharedArrayBuffer;
    layout: { name: string; shape: number[]; dtype: "float32" | "float64"; offset: number }[];
    total: number;
  } | null = null;

  /** Moves the parameters into the shared buffer unless they are already there. */
  const adopt = (params: Map<string, Tensor>): NonNullable<typeof shared> => {
    const ok =
      shared !== null &&
      shared.layout.length === params.size &&
      shared.layout.every((e) => {
        const p = params.get(e.name);
        return (
          p !== undefined && p.data.buffer === shared!.buffer && p.data.byteOffset === e.offset
        );
      });
    if (ok) return shared!;
    let bytes = 0;
    const layout: NonNullable<typeof shared>["layout"] = [];
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
    shared = { buffer, layout, total };
    return shared;
  };

  const step = (s: EngineStep): EngineResult => {
    if (closed) throw new Error("mambaLossAndGrads: options.pool: this pool was closed");
    const T = Math.min(threads, s.b);
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
    const sub = (r0: number, r1: number): EngineStep => ({
      ...s,
      b: r1 - r0,
      ids: s.ids.subarray(r0 * s.l, r1 * s.l),
      targets: s.targets.subarray(r0 * s.l, r1 * s.l),
      mask: s.mask ? Float64Array.from(s.mask).subarray(r0 * s.l, r1 * s.l) : null,
    });
    if (T === 1) return simdEngineFor(s.config.state_size).step(s);
    const sh = adopt(s.params);
    // dispatch shares 1..T−1 to the workers first, then compute share 0 here
    const running: { w: PoolWorker; weight: number; before: number }[] = [];
    for (let i = 1; i < T; i++) {
      const [r0, r1] = share(i);
      const weight = weightOf(r0, r1);
      if (!(weight > 0)) continue;
      const w = workers[i - 1];
      if (!w.grads || w.grads.byteLength < sh.total * 4)
        w.grads = new SharedArrayBuffer(Math.max(4, sh.total * 4));
      const one = sub(r0, r1);
      const job: WorkerJob = {
        type: "step",
        config: s.config,
        params: sh.layout,
        paramBuffer: sh.buffer,
        gradBuffer: w.grads,
        ids: Int32Array.from(one.ids),
        targets: Int32Array.from(one.targets),
        mask: one.mask ? Float64Array.from(one.mask) : null,
        b: one.b,
        l: s.l,
        variant: s.variant,
        chunkSize: s.chunkSize,
      };
      const before = Atomics.load(w.ctrl, 1);
      w.port.postMessage(job);
      Atomics.add(w.ctrl, 0, 1);
      Atomics.notify(w.ctrl, 0);
      running.push({ w, weight, before });
    }
    const [r0, r1] = share(0);
    const weight0 = weightOf(r0, r1);
    let local: EngineResult | null = null;
    let localError: unknown = null;
    if (weight0 > 0 || running.length === 0) {
      try {
        local = simdEngineFor(s.config.state_size).step(sub(r0, r1));
      } catch (e) {
        localError = e;
      }
    }
    const replies: { reply: WorkerReply; w: PoolWorker; weight: number }[] = [];
    for (const r of running) {
      while (Atomics.load(r.w.ctrl, 1) === r.before) Atomics.wait(r.w.ctrl, 1, r.before, 1000);
      let msg = receiveMessageOnPort(r.w.port);
      while (!msg) {
        Atomics.wait(r.w.ctrl, 1, -1, 1);
        msg = receiveMessageOnPort(r.w.port);
      }
      replies.push({ reply: msg.message as WorkerReply, w: r.w, weight: r.weight });
    }
    if (localError) throw localError;
    for (const r of replies) if (!r.reply.ok) throw new Error(r.reply.error);
    // combine: the weighted mean over the shares
    let W = local ? local.weight : 0;
    for (const r of replies) W += r.weight;
    const grads = new Map<string, Float32Array>();
    for (const e of sh.layout) {
      const n = e.shape.reduce((a, x) => a * x, 1);
      const out = new Float32Array(n);
      const lg = local?.grads.get(e.name);
      if (local && lg) {
        const f = local.weight / W;
        for (let q = 0; q < n; q++) out[q] = f * lg[q];
      }
      grads.set(e.name, out);
    }
    let loss = local ? (local.loss * local.weight) / W : 0;
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
        const out = grads.get(e.name)!;
        for (let q = 0; q < out.length; q++) out[q] += f * all[o + q];
        o += out.length;
      }
    }
    return { loss, count, correct, weight: W, grads };
  };

  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const w of workers) {
      w.port.postMessage({ type: "close" } satisfies WorkerJob);
      Atomics.add(w.ctrl, 0, 1);
      Atomics.notify(w.ctrl, 0);
      void w.worker.terminate();
      w.port.close();
    }
  };
  return { threads, step, close };
}

const POOL_OPTIONS = schema.options({
  threads: schema.optional(schema.integer({ min: 1, max: 64 })),
});

let defaultPool: TrainPool | null = null;

/** The pool `mambaLossAndGrads` uses for "simd-threads" without an explicit `pool` (made once). */
export function defaultTrainPool(): TrainPool {
  if (!defaultPool) defaultPool = createTrainPool();
  return defaultPool;
}
