/**
 * An inference worker of `./infer-threads.ts`: waits for a call in the pool's shared words
 * (spinning briefly, then sleeping), reads it under the sequence lock, claims and runs its
 * chunks over the memory it was sent, and counts each one done. A kernel that throws is reported
 * (flag in the words, message on the port), not fatal.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { CTRL } from "./threads";
import { type InferMessage, JOB, JobWords, SPIN_MS } from "./infer-threads";
import { InferKernels, KERNELS } from "./infer-runtime";

const { port, ctrl, job, index } = workerData as {
  port: MessagePort;
  ctrl: Int32Array;
  job: SharedArrayBuffer;
  index: number;
};
const shared = new JobWords(job);
const words = shared.words;
let seen = 0;
let current: { id: number; kernels: InferKernels } | null = null;

/** Waits until a call other than `seen` is posted (the lock even); returns its number. */
function waitForCall(): number {
  const t0 = performance.now();
  let spins = 0;
  for (;;) {
    const s = Atomics.load(words, JOB.seq);
    if (s !== seen && (s & 1) === 0) return s;
    if ((++spins & 255) === 0 && performance.now() - t0 > SPIN_MS) Atomics.wait(words, JOB.seq, s);
  }
}

/** The kernels over memory `id`, received on the port (posted before the call that names it). */
function kernelsFor(id: number): InferKernels {
  while (!current || current.id !== id) {
    const msg = receiveMessageOnPort(port);
    if (!msg) {
      Atomics.wait(ctrl, CTRL.dead, 0, 1);
      continue;
    }
    const m = msg.message as InferMessage;
    if (m.type === "memory") current = { id: m.id, kernels: new InferKernels(m.memory) };
  }
  return current.kernels;
}

for (;;) {
  const s = waitForCall();
  seen = s;
  const kernel = words[JOB.kernel];
  const chunks = words[JOB.chunks];
  // read under the lock: a call rewritten meanwhile is over for this worker
  if (Atomics.load(words, JOB.seq) !== s) continue;
  if (kernel < 0) break;
  shared.claimAndRun(s, chunks, (first, end) => {
    try {
      kernelsFor(words[JOB.memory]).run(shared.chunkCall(s, first, end, index, KERNELS));
    } catch (e) {
      words[JOB.failed] = 1;
      port.postMessage(e instanceof Error ? e.message : String(e));
    }
  });
}
