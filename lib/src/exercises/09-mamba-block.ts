/** Exercises of lesson 09-mamba-block. */
import type { Exercise } from "./check";
import type { Rng } from "../rng";
import { causalDepthwiseConv1d } from "../nn/conv1d";

/**
 * The causal depthwise conv1d of one sequence, on plain arrays, through lib's
 * `causalDepthwiseConv1d`: y[c][t] = bias[c] + Σ_j w[c][j] · x[c][t − (k−1) + j] (x = 0 before 0).
 *
 * @param x (d, l) one row per channel
 * @param w (d, k) the kernel of each channel (PyTorch's weight (d, 1, k) without the middle axis)
 * @param bias (d)
 * @returns y (d, l)
 */
export function causalConv1dArrays(x: number[][], w: number[][], bias: number[]): number[][] {
  const d = x.length;
  const l = d > 0 ? x[0].length : 0;
  const k = d > 0 ? w[0].length : 0;
  const y = causalDepthwiseConv1d(
    { shape: [1, d, l], data: Float64Array.from(x.flat()) },
    { shape: [d, 1, k], data: Float64Array.from(w.flat()) },
    { shape: [d], data: Float64Array.from(bias) },
  );
  return Array.from({ length: d }, (_, c) => Array.from(y.data.subarray(c * l, (c + 1) * l)));
}

/**
 * One decoding step of the conv: the state holds each channel's last k inputs, oldest first.
 * Shift it left by one, put the new input x[c] last, and return the conv output (before SiLU)
 * y[c] = bias[c] + Σ_j state'[c][j] · w[c][j].
 *
 * @param state (d, k), x (d), w (d, k), bias (d)
 * @returns the new state (d, k) and y (d)
 */
export function convStateStep(
  state: number[][],
  x: number[],
  w: number[][],
  bias: number[],
): { state: number[][]; y: number[] } {
  const next = state.map((row, c) => [...row.slice(1), x[c]]);
  const y = next.map((row, c) => row.reduce((s, v, j) => s + v * w[c][j], bias[c]));
  return { state: next, y };
}

const matrix = (rng: Rng, rows: number, cols: number): number[][] =>
  Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
const vector = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.normal());

export const mambaBlockExercises: Exercise[] = [
  {
    id: "mamba-causal-conv1d",
    lesson: "09-mamba-block",
    title:
      "the causal depthwise conv1d: y[c][t] = bias[c] + Σ_j w[c][j] · x[c][t - (k-1) + j], zero before t = 0",
    hint:
      "loop over channels c and positions t; for j = 0..k-1 the input index is t - (k - 1) + j: skip it when " +
      "negative (that is the left padding). w[c][k-1] multiplies the current input x[c][t] (PyTorch's Conv1d is a " +
      "cross-correlation). Each channel only ever reads its own row (depthwise)",
    reference: causalConv1dArrays as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      { label: "k = 1: a per-channel scale plus bias", args: [[[1, 2, 3]], [[2]], [0.5]] },
      {
        label: "an impulse at t = 0 reads the kernel backwards",
        args: [[[1, 0, 0, 0, 0]], [[1, 2, 3, 4]], [0]],
      },
      {
        label: "a sequence shorter than the kernel",
        args: [matrix(rng, 2, 2), matrix(rng, 2, 4), vector(rng, 2)],
      },
      ...Array.from({ length: 5 }, (_, i) => {
        const d = 1 + rng.int(6);
        const l = 1 + rng.int(20);
        const k = 1 + rng.int(5);
        return {
          label: `random d = ${d}, l = ${l}, k = ${k} (${i + 1})`,
          args: [matrix(rng, d, l), matrix(rng, d, k), vector(rng, d)],
        };
      }),
    ],
  },
  {
    id: "mamba-conv-state-step",
    lesson: "09-mamba-block",
    title:
      "one decoding step of the conv: shift the state left, append x, y = bias + Σ_j state[c][j] · w[c][j]",
    hint:
      "the new state row c is [...state[c].slice(1), x[c]] (drop the oldest input, the newest goes last); then " +
      "y[c] = bias[c] + sum over j of newState[c][j] * w[c][j]. Return { state: newState, y } and leave the input " +
      "arrays unchanged",
    reference: convStateStep as (...args: never[]) => unknown,
    cases: (rng: Rng) => [
      {
        label: "an empty state receives its first input",
        args: [[[0, 0, 0, 0]], [1], [[1, 2, 3, 4]], [0]],
      },
      { label: "k = 1: the state is just the current input", args: [[[5]], [2], [[3]], [1]] },
      ...Array.from({ length: 5 }, (_, i) => {
        const d = 1 + rng.int(6);
        const k = 1 + rng.int(5);
        return {
          label: `random d = ${d}, k = ${k} (${i + 1})`,
          args: [matrix(rng, d, k), vector(rng, d), matrix(rng, d, k), vector(rng, d)],
        };
      }),
    ],
  },
];
