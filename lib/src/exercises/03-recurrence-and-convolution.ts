/** Exercises of lesson 03-recurrence-and-convolution: the SSM kernel, and causal convolution by FFT. */
import type { Exercise } from "./check";
import { Rng } from "../rng";
import { tensor } from "../tensor";
import { ssmKernel } from "../conv/kernel";
import { fftConv } from "../conv/convolve";

/**
 * The kernel K_j = C Ā^j B̄ (j = 0 … L-1) of a single-input single-output system given as plain
 * arrays: Ā (N × N) as rows, B̄ and C as length-N lists.
 */
function ssmKernelArrays(Abar: number[][], Bbar: number[], C: number[], L: number): number[] {
  return Array.from(ssmKernel(tensor(Abar), tensor(Bbar), tensor(C), L).data);
}

/** Causal convolution y_t = Σ_{j<=t} K_j x_{t-j} of two equal-length lists, by FFT. */
function fftCausalConvArrays(x: number[], K: number[]): number[] {
  return Array.from(fftConv(tensor(x), tensor(K)).data);
}

/** A random stable Ā (N × N): ρ M/‖M‖_F has spectral radius below ρ. */
function stableMatrix(rng: Rng, n: number, rho: number): number[][] {
  const m = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
  const fro = Math.sqrt(m.flat().reduce((s, v) => s + v * v, 0));
  return m.map((row) => row.map((v) => (rho * v) / fro));
}

const randomList = (rng: Rng, n: number): number[] => Array.from({ length: n }, () => rng.normal());

export const recurrenceConvolutionExercises: Exercise[] = [
  {
    id: "ssm-kernel",
    lesson: "03-recurrence-and-convolution",
    title: "the SSM convolution kernel K = (C Bbar, C Abar Bbar, C Abar^2 Bbar, ...), L entries",
    hint:
      "keep a vector v, starting at v = Bbar; for j = 0 … L-1 push K_j = C·v (a dot product), then " +
      "replace v by Abar·v (row i of Abar dotted with v). Never form the matrix powers.",
    reference: ssmKernelArrays,
    rtol: 1e-9,
    atol: 1e-12,
    cases: (rng: Rng) => [
      { label: "one state: K_j = c·a^j·b", args: [[[0.5]], [2], [3], 6] },
      {
        label: "L = 1: just C·Bbar",
        args: [
          [
            [0.9, 0.1],
            [0, 0.8],
          ],
          [1, 2],
          [3, -1],
          1,
        ],
      },
      { label: "L = 0: an empty kernel", args: [[[0.9]], [1], [1], 0] },
      {
        label: "Abar = 0: only K_0 is non-zero",
        args: [
          [
            [0, 0],
            [0, 0],
          ],
          [1, 1],
          [1, 2],
          4,
        ],
      },
      {
        label: "a rotation by 90°: a kernel that oscillates",
        args: [
          [
            [0, -1],
            [1, 0],
          ],
          [1, 0],
          [1, 0],
          8,
        ],
      },
      {
        label: "a shift register: K picks one entry of Bbar per step",
        args: [
          [
            [0, 0, 0],
            [1, 0, 0],
            [0, 1, 0],
          ],
          [1, 2, 3],
          [0, 0, 1],
          5,
        ],
      },
      ...Array.from({ length: 5 }, (_, k) => {
        const n = 2 + rng.int(6);
        return {
          label: `random stable system ${k + 1} (N = ${n})`,
          args: [
            stableMatrix(rng, n, 0.97),
            randomList(rng, n),
            randomList(rng, n),
            5 + rng.int(40),
          ],
        };
      }),
    ],
  },
  {
    id: "fft-conv",
    lesson: "03-recurrence-and-convolution",
    title:
      "causal convolution by FFT: zero-pad x and K to a power of two >= 2L - 1, transform, multiply, invert, keep the first L",
    hint:
      "n = nextPow2(2 * L - 1); copy x and K into zero-filled arrays of length n; X = fft(xp), Kf = fft(kp); " +
      "multiply as complex numbers: (a + ib)(c + id) = (ac - bd) + i(ad + bc); y = ifft(re, im).re, first L " +
      "entries. Padding only to L would wrap the end of the sequence around onto its start.",
    reference: fftCausalConvArrays,
    rtol: 1e-9,
    atol: 1e-10,
    cases: (rng: Rng) => [
      { label: "L = 1", args: [[3], [2]] },
      {
        label: "an impulse input returns the kernel",
        args: [
          [1, 0, 0, 0, 0],
          [5, 4, 3, 2, 1],
        ],
      },
      {
        label: "an impulse kernel returns the input",
        args: [
          [1, -2, 3, -4, 5, -6],
          [1, 0, 0, 0, 0, 0],
        ],
      },
      {
        label: "a delay by one step",
        args: [
          [1, 2, 3, 4],
          [0, 1, 0, 0],
        ],
      },
      {
        label: "L = 8, a power of two (padding must still reach 16)",
        args: [randomList(rng, 8), randomList(rng, 8)],
      },
      ...[3, 13, 64, 100, 257].map((L) => ({
        label: `random, L = ${L}`,
        args: [randomList(rng, L), randomList(rng, L)],
      })),
    ],
  },
];
