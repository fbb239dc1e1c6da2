/** Exercises of lesson 04-memory-hippo-s4d: the HiPPO-LegS matrices. */
import type { Exercise } from "./check";
import { hippoLegS } from "../hippo/legs";

/** HiPPO-LegS as plain arrays: A (N × N) as rows and B (length N). */
function hippoLegSArrays(N: number): { A: number[][]; B: number[] } {
  const { A, B } = hippoLegS(N);
  return {
    A: Array.from({ length: N }, (_, n) => Array.from(A.data.subarray(n * N, (n + 1) * N))),
    B: Array.from(B.data),
  };
}

export const memoryExercises: Exercise[] = [
  {
    id: "hippo-legs",
    lesson: "04-memory-hippo-s4d",
    title:
      "the HiPPO-LegS matrices: A[n][k] = -sqrt(2n+1)·sqrt(2k+1) for n > k, -(n+1) for n = k, 0 for n < k; B[n] = sqrt(2n+1)",
    hint:
      "indices start at 0, so A[0][0] = -1 and B[0] = 1; the matrix is lower triangular (zeros above the " +
      "diagonal); return { A, B } with A as N rows of N numbers and B as a list of N numbers",
    reference: hippoLegSArrays,
    rtol: 1e-12,
    atol: 1e-12,
    cases: () => [1, 2, 3, 4, 8, 16].map((N) => ({ label: `N = ${N}`, args: [N] })),
  },
];
