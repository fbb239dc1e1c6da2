// A worker for the inference pool test in ./simd-inference.test.ts: it waits for the first call
// the way lib's worker does (the sequence word of the pool's shared job words moves), claims a
// chunk of it (the 64-bit claim word after the 32 job words) and ends the thread in the middle
// of that chunk (no try can catch an exit).
"use strict";
const { workerData } = require("node:worker_threads");

const words = new Int32Array(workerData.job, 0, 1);
const claim = new BigInt64Array(workerData.job, 4 * 32, 1);
Atomics.wait(words, 0, 0);
Atomics.add(claim, 0, 1n);
process.exit(7);
