/**
 * An inference worker of `./infer-threads.ts`: waits on its control words (spinning briefly, then
 * sleeping), runs the kernel call they describe over the memory it was sent, and answers. A
 * kernel that throws is reported (flag in the words, message on the port), not fatal.
 */
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { CTRL } from "./threads";
import { type InferMessage, JOB, SPIN_MS } from "./infer-threads";
import { InferKernels, KERNELS } from "./infer-runtime";

const { port, ctrl } = workerData as { port: MessagePort; ctrl: Int32Array };
let seen = 0;
let current: { id: number; kernels: InferKernels } | null = null;

/** Waits until the posted count moves past `seen`. */
function waitForCall(): void {
  const t0 = performance.now();
  let spins = 0;
  while (Atomics.load(ctrl, CTRL.posted) === seen) {
    if ((++spins & 255) === 0 && performance.now() - t0 > SPIN_MS) {
      Atomics.wait(ctrl, CTRL.posted, seen);
    }
  }
  seen = Atomics.load(ctrl, CTRL.posted);
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
  waitForCall();
  const index = ctrl[JOB.kernel];
  if (index < 0) break;
  try {
    const kernels = kernelsFor(ctrl[JOB.memory]);
    const args = Array.from(ctrl.subarray(JOB.args, JOB.args + ctrl[JOB.count]));
    kernels.run({ kernel: KERNELS[index], size: ctrl[JOB.size], args });
    ctrl[JOB.failed] = 0;
  } catch (e) {
    ctrl[JOB.failed] = 1;
    port.postMessage(e instanceof Error ? e.message : String(e));
  }
  Atomics.add(ctrl, CTRL.answered, 1);
  Atomics.notify(ctrl, CTRL.answered);
}
