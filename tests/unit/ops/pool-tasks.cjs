// Share tasks for the pool tests in ./simd.test.ts (the workers load them by path): ways for a
// worker to end a job.
"use strict";

/** A share's answer: loss 1 and a zero gradient for the one parameter "w". */
function zeros() {
  return {
    loss: 1,
    count: 2,
    correct: 0,
    grads: new Map([["w", { shape: [2], data: new Float32Array(2) }]]),
  };
}

/** Ends the worker thread in the middle of its job (no try can catch an exit). */
function exitMidJob() {
  process.exit(7);
}

/**
 * Breaks Atomics.add in the worker, so that counting the answer, after the job's try, throws.
 * (Breaking postMessage instead would break how Node reports the error to the parent.)
 */
function breaksCounting() {
  Atomics.add = () => {
    throw new Error("Atomics.add is broken");
  };
  return zeros();
}

/** Throws inside the job. */
function throws() {
  throw new Error("a task that throws");
}

module.exports = { zeros, exitMidJob, breaksCounting, throws };
