/**
 * A training worker of `./threads.ts`: waits (Atomics.wait on its control words) for a job, reads
 * it from its MessagePort, runs the job's task (`ShareTask`: a function of a built lib module) on
 * its share of the batch with the parameters read in place from the shared buffer, writes the
 * gradients into its shared gradient buffer and answers.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import type { Tensor } from "../../tensor";
import {
  CTRL,
  type Share,
  type ShareResult,
  type WorkerJob,
  type WorkerReply,
  builtModule,
} from "./threads";

const { port, ctrl } = workerData as { port: MessagePort; ctrl: Int32Array };
let seen = 0;
let views: { buffer: SharedArrayBuffer; params: Map<string, Tensor> } | null = null;

for (;;) {
  Atomics.wait(ctrl, CTRL.posted, seen);
  seen = Atomics.load(ctrl, CTRL.posted);
  let msg = receiveMessageOnPort(port);
  while (!msg) {
    Atomics.wait(ctrl, CTRL.dead, 0, 1);
    msg = receiveMessageOnPort(port);
  }
  const job = msg.message as WorkerJob;
  if (job.type === "close") break;
  let reply: WorkerReply;
  try {
    if (!views || views.buffer !== job.paramBuffer) {
      const params = new Map<string, Tensor>();
      for (const e of job.params) {
        const n = e.shape.reduce((a, x) => a * x, 1);
        const data =
          e.dtype === "float64"
            ? new Float64Array(job.paramBuffer, e.offset, n)
            : new Float32Array(job.paramBuffer, e.offset, n);
        params.set(e.name, { shape: e.shape, data });
      }
      views = { buffer: job.paramBuffer, params };
    }
    const module = require(builtModule(job.module)) as Record<string, unknown>;
    const run = module[job.name] as (share: Share<unknown>) => ShareResult;
    const r = run({
      params: views.params,
      ids: job.ids,
      targets: job.targets,
      mask: job.mask,
      b: job.b,
      l: job.l,
      args: job.args,
    });
    const out = new Float32Array(job.gradBuffer);
    let o = 0;
    for (const e of job.params) {
      const g = r.grads.get(e.name)!;
      out.set(g.data, o);
      o += g.data.length;
    }
    reply = { ok: true, loss: r.loss, count: r.count, correct: r.correct };
  } catch (e) {
    reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
  port.postMessage(reply);
  Atomics.add(ctrl, CTRL.answered, 1);
  Atomics.notify(ctrl, CTRL.answered);
}
