// A worker for the inference pool test in ./simd-inference.test.ts: it waits for its first call
// the way lib's worker does (the posted count in its control words), then ends the thread in the
// middle of that call (no try can catch an exit).
"use strict";
const { workerData } = require("node:worker_threads");

const { ctrl } = workerData;
Atomics.wait(ctrl, 0, 0);
process.exit(7);
