/** Exercise of lesson 08-hardware-aware-scan: the chunk-summary kernel of the chunked scan. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { chunkSummaryReference } from "../gpu/kernel";

/** Random inputs (one batch element, Δ positive) for a chunk-summary case. */
function summaryCase(rng: Rng, D: number, L: number, N: number, T: number): unknown[] {
  const m = (rows: number, cols: number, f: () => number): number[][] =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, f));
  return [
    m(D, L, () => rng.normal()),
    m(D, L, () => rng.uniform(0.01, 0.5)),
    m(D, N, () => -rng.uniform(0.5, 4)),
    m(N, L, () => rng.normal()),
    T,
  ];
}

export const hardwareAwareScanExercises: Exercise[] = [
  {
    id: "gpu-chunk-summary",
    lesson: "08-hardware-aware-scan",
    title:
      "a gpu.js kernel for the chunk summaries: thread (n, c, d) runs s ← exp(Δ_t·A[d][n])·s + Δ_t·B[n][t]·u[d][t] over chunk c from s = 0",
    hint:
      "n = this.thread.x, c = this.thread.y, d = this.thread.z; loop k from 0 to this.constants.T - 1 " +
      "over t = c·T + k, skip t >= this.constants.L (the last chunk may be short), return s",
    reference: chunkSummaryReference,
    cases: (rng: Rng) => [
      { label: "one channel, one state, two full chunks", args: summaryCase(rng, 1, 8, 1, 4) },
      { label: "chunk length 1 (s = Δ·B·u)", args: summaryCase(rng, 2, 5, 3, 1) },
      { label: "one chunk longer than the sequence", args: summaryCase(rng, 2, 6, 2, 16) },
      { label: "a short last chunk", args: summaryCase(rng, 3, 11, 4, 4) },
      { label: "n = 16, l = 32, T = 8", args: summaryCase(rng, 2, 32, 16, 8) },
      {
        label: "random sizes",
        args: summaryCase(rng, 1 + rng.int(4), 5 + rng.int(20), 1 + rng.int(6), 1 + rng.int(6)),
      },
    ],
    // gpu.js returns float32
    rtol: 1e-5,
    atol: 1e-6,
  },
];
