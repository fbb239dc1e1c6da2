/**
 * The supervisor thread of a training pool (`./threads.ts`): it makes the pool's workers and
 * listens to their 'error' and 'exit' events, which the calling thread cannot receive while it
 * waits for a step (its event loop is blocked in `Atomics.wait`). When a worker dies it posts the
 * reason on the pool's death port, marks the worker dead in its control words and wakes the
 * waiting thread. It runs no job itself; closing the pool terminates it, and its workers with it.
 */
import { type MessagePort, Worker, workerData } from "node:worker_threads";
import { CTRL, type WorkerDeath } from "./threads";

const { script, workers, deaths } = workerData as {
  script: string;
  workers: { port: MessagePort; ctrl: Int32Array; [more: string]: unknown }[];
  deaths: MessagePort;
};

workers.forEach((spec, i) => {
  const { port, ctrl } = spec;
  let reported = false;
  const report = (reason: string): void => {
    if (reported) return;
    reported = true;
    deaths.postMessage({ worker: i + 1, reason } satisfies WorkerDeath);
    Atomics.store(ctrl, CTRL.dead, 1);
    Atomics.notify(ctrl, CTRL.answered);
    Atomics.notify(ctrl, CTRL.dead);
  };
  let worker: Worker;
  try {
    // the worker's data: its port and words, and whatever else its pool gives it
    worker = new Worker(script, { workerData: spec, transferList: [port] });
  } catch (e) {
    report(`could not start: ${messageOf(e)}`);
    return;
  }
  worker.on("error", (e: unknown) => report(`threw outside its job: ${messageOf(e)}`));
  worker.on("exit", (code) => report(`exited (code ${code})`));
});

/**
 * An error's name and message. Errors arrive here serialised; some (a DOMException such as a
 * DataCloneError) arrive as an empty object.
 */
function messageOf(e: unknown): string {
  const { name, message } = (e ?? {}) as { name?: unknown; message?: unknown };
  if (typeof message !== "string")
    return "an error whose details did not survive the thread boundary";
  return `${typeof name === "string" ? name : "Error"}: ${message}`;
}
