/**
 * Kernel sources of Mamba-2's chunked SSD on gpu.js (lesson 13; the paper's Listing 1,
 * `ssd_minimal_discrete` in state-spaces/mamba's `mamba_ssm/modules/ssd_minimal.py`), generated
 * for one problem size, and the plan of launches with the values each writes and loads.
 *
 * Glossary: b batch, l positions, h heads of p channels, g groups of B and C (head hd reads group
 * ⌊hd / (h / g)⌋), n states, Q the chunk length, c = ⌈l / Q⌉ chunks (the last one shorter when Q
 * does not divide l: the same numbers as upstream's zero padding). Inputs as `ssdChunked` takes
 * them (discretised: X = Δx, a = ΔA ≤ 0).
 *
 * A gpu.js thread writes one value at its own output index, with no shared memory, so each of
 * Listing 1's steps is a kernel whose every thread computes one number of that step's tensor:
 *
 * 0. decays: thread (hd, row, k) returns exp of a segment sum of its chunk: k = 0, from the
 *    chunk's first position to t (Y_off's weight exp(A_cumsum)); k = 1, from t + 1 to the chunk's
 *    last position (the chunk state's weight exp(A_cumsum[-1] − A_cumsum)). Each sums its own
 *    segment: no difference of two cumulative sums (lesson 13's segsum point);
 * 1. scores: per group and chunk, CB[i][s] = C_i · B_s (Q × Q, 0 above the diagonal);
 * 2. output (Listing 1's Y_diag + Y_off in one kernel, so y is written once): thread (pp, hd, row)
 *    sums Σ_{s ≤ t in the chunk} CB[t][s] exp(a_{s+1} + … + a_t) X_s[pp], the segment sum grown
 *    one term per step of its loop (the stable segsum), then adds exp(A_cumsum_t) Σ_n C_t[n] H[pp][n]
 *    with H the state entering the chunk;
 * 3. chunk states: thread (pp, n, chunk·head) sums Σ_s exp(A_cumsum[-1] − A_cumsum_s) X_s[pp] B_s[n];
 * 4. chunk carry (Listing 1's inter-chunk recurrence): thread (pp, n, head·chunk) walks the
 *    chunks before its own, H ← exp(Σ a over chunk j) H + S_j, from a zero state;
 * 5. final state (when asked): the state after the last chunk, from its entry state.
 * They run in the order 0, 1, 3, 4, 2 (5).
 *
 * Layouts ([x, y, z], x fastest; row = b·l + t): X and y [p, h, b·l] (X[row][hd][pp], the
 * (b, l, h, p) layout as is); a [h, b·l]; B, C [n, g, b·l]; decays W [h, b·l, 2]; scores
 * [Q, Q, b·c·g] (CB[(b·c + chunk)·g + gr][i][s]); chunk states [p, n, b·c·h] (S[(b·c + chunk)·h +
 * hd][n][pp]); chunk-entry states [p, n, b·h·c] (H[(b·h + hd)·c + chunk][n][pp]: a head's chunks
 * next to each other, so the threads of neighbouring chunks read the same S_j close in time; pp
 * fastest, so the output kernel's neighbouring threads, neighbouring pp, read neighbouring values);
 * final state [n, p, b·h], the (b, h, p, n) layout.
 */
import type { SsdDims } from "../ops/reference/ssd";

/** The kernels of the chunked SSD, in the order of the glossary above. */
export type SsdKernelName =
  | "ssd-decays"
  | "ssd-scores"
  | "ssd-output"
  | "ssd-chunk-states"
  | "ssd-chunk-carry"
  | "ssd-final-state";

/** Largest chunk Q of the gpu.js SSD (a thread of the output kernel loops over its chunk). */
export const MAX_GPU_SSD_CHUNK = 256;

/** One launch of the SSD and the float32 values it writes and loads (every load counts). */
export interface SsdKernelLaunch {
  kernel: SsdKernelName;
  threads: number;
  valuesWritten: number;
  valuesRead: number;
}

const f = (n: number): string => `${n}.0`;

/** The number of chunks of a problem. */
export function ssdChunkCount(dims: SsdDims, chunk: number): number {
  return Math.ceil(dims.length / chunk);
}

/** The lines that name the batch element b, position t, chunk c and its start t0 of `row`. */
function positionLines(dims: SsdDims, chunk: number, row: string): string {
  return [
    `const b = Math.floor((${row} + 0.5) / ${f(dims.length)});`,
    `const t = ${row} - b * ${dims.length};`,
    `const c = Math.floor((t + 0.5) / ${f(chunk)});`,
    `const t0 = c * ${chunk};`,
  ].join("\n  ");
}

/** The group `gr` head `hd` reads. */
function groupLine(dims: SsdDims): string {
  return `const gr = Math.floor((hd + 0.5) / ${f(dims.heads / dims.groups)});`;
}

/** 0. The decays exp(segment sums) of every position, W[k][row][hd]; output [h, b·l, 2]. */
export function ssdDecaysSource(dims: SsdDims, chunk: number): string {
  const L = dims.length;
  return `function (A) {
  const hd = this.thread.x;
  const row = this.thread.y;
  const k = this.thread.z;
  ${positionLines(dims, chunk, "row")}
  const end = Math.min(t0 + ${chunk}, ${L});
  let s = 0.0;
  for (let j = 0; j < ${chunk}; j++) {
    const i = t0 + j;
    if (k == 0) {
      if (i <= t) {
        s = s + A[row - t + i][hd];
      }
    } else {
      if (i > t && i < end) {
        s = s + A[row - t + i][hd];
      }
    }
  }
  return Math.exp(s);
}`;
}

/** 1. The scores C_i · B_s of every group and chunk; output [Q, Q, b·c·g]. */
export function ssdScoresSource(dims: SsdDims, chunk: number): string {
  const { length: L, groups: G, dstate: N } = dims;
  const chunks = ssdChunkCount(dims, chunk);
  return `function (B, C) {
  const s = this.thread.x;
  const i = this.thread.y;
  const z = this.thread.z;
  const bc = Math.floor((z + 0.5) / ${f(G)});
  const gr = z - bc * ${G};
  const b = Math.floor((bc + 0.5) / ${f(chunks)});
  const c = bc - b * ${chunks};
  const ri = b * ${L} + c * ${chunk} + i;
  const rs = b * ${L} + c * ${chunk} + s;
  let v = 0.0;
  if (s <= i && c * ${chunk} + i < ${L}) {
    for (let n = 0; n < ${N}; n++) {
      v = v + C[ri][gr][n] * B[rs][gr][n];
    }
  }
  return v;
}`;
}

/** 2. y = Y_diag + Y_off, y[row][hd][pp]; output [p, h, b·l]. */
export function ssdOutputSource(dims: SsdDims, chunk: number): string {
  const { heads: H, groups: G, dstate: N } = dims;
  const chunks = ssdChunkCount(dims, chunk);
  return `function (W, CB, X, A, C, H) {
  const pp = this.thread.x;
  const hd = this.thread.y;
  const row = this.thread.z;
  ${positionLines(dims, chunk, "row")}
  ${groupLine(dims)}
  const i = t - t0;
  const sc = (b * ${chunks} + c) * ${G} + gr;
  let y = 0.0;
  let seg = 0.0;
  for (let k = 0; k < ${chunk}; k++) {
    const s = t - k;
    if (s >= t0) {
      y = y + CB[sc][i][s - t0] * Math.exp(seg) * X[row - k][hd][pp];
      seg = seg + A[row - k][hd];
    }
  }
  const hc = (b * ${H} + hd) * ${chunks} + c;
  let o = 0.0;
  for (let n = 0; n < ${N}; n++) {
    o = o + C[row][gr][n] * H[hc][n][pp];
  }
  return y + W[0][row][hd] * o;
}`;
}

/** 3. The chunk states S (what each chunk alone leaves); output [p, n, b·c·h]. */
export function ssdChunkStatesSource(dims: SsdDims, chunk: number): string {
  const { length: L, heads: H } = dims;
  const chunks = ssdChunkCount(dims, chunk);
  return `function (W, X, B) {
  const pp = this.thread.x;
  const n = this.thread.y;
  const z = this.thread.z;
  const bc = Math.floor((z + 0.5) / ${f(H)});
  const hd = z - bc * ${H};
  const b = Math.floor((bc + 0.5) / ${f(chunks)});
  const c = bc - b * ${chunks};
  ${groupLine(dims)}
  let s = 0.0;
  for (let j = 0; j < ${chunk}; j++) {
    const t = c * ${chunk} + j;
    if (t < ${L}) {
      const row = b * ${L} + t;
      s = s + W[1][row][hd] * X[row][hd][pp] * B[row][gr][n];
    }
  }
  return s;
}`;
}

/** The row of chunk `j`'s last position (of batch element b), as kernel source. */
function lastRow(dims: SsdDims, chunk: number, j: string): string {
  return `b * ${dims.length} + Math.min(${j} * ${chunk} + ${chunk}, ${dims.length}) - 1`;
}

/** 4. The state entering every chunk, H[(b·h + hd)·c + chunk]; output [p, n, b·h·c]. */
export function ssdChunkCarrySource(dims: SsdDims, chunk: number): string {
  const { heads: H } = dims;
  const chunks = ssdChunkCount(dims, chunk);
  return `function (W, S) {
  const pp = this.thread.x;
  const n = this.thread.y;
  const z = this.thread.z;
  const bh = Math.floor((z + 0.5) / ${f(chunks)});
  const c = z - bh * ${chunks};
  const b = Math.floor((bh + 0.5) / ${f(H)});
  const hd = bh - b * ${H};
  let v = 0.0;
  for (let j = 0; j < ${chunks}; j++) {
    if (j < c) {
      v = W[0][${lastRow(dims, chunk, "j")}][hd] * v + S[(b * ${chunks} + j) * ${H} + hd][n][pp];
    }
  }
  return v;
}`;
}

/** 5. The state after the last position, (b, h, p, n); output [n, p, b·h]. */
export function ssdFinalStateSource(dims: SsdDims, chunk: number): string {
  const { heads: H } = dims;
  const chunks = ssdChunkCount(dims, chunk);
  const last = chunks - 1;
  return `function (W, S, H) {
  const n = this.thread.x;
  const pp = this.thread.y;
  const bh = this.thread.z;
  const b = Math.floor((bh + 0.5) / ${f(H)});
  const hd = bh - b * ${H};
  return W[0][${lastRow(dims, chunk, String(last))}][hd] * H[bh * ${chunks} + ${last}][n][pp]
    + S[(b * ${chunks} + ${last}) * ${H} + hd][n][pp];
}`;
}

/**
 * The launches of the chunked SSD in the order they run, each with the values it writes and the
 * values its threads load (every load counts, also of values other threads load too).
 */
export function ssdLaunchPlan(
  dims: SsdDims,
  chunk: number,
  options: { finalState?: boolean } = {},
): SsdKernelLaunch[] {
  const { batch, length: L, heads: H, headDim: P, groups: G, dstate: N } = dims;
  const chunks = ssdChunkCount(dims, chunk);
  // per chunk of length q: Σ_t (t − t0 + 1) = q(q + 1)/2 (lower triangle), Σ q², Σ q = l
  let triangle = 0;
  let squares = 0;
  for (let c = 0; c < chunks; c++) {
    const q = Math.min(chunk, L - c * chunk);
    triangle += (q * (q + 1)) / 2;
    squares += q * q;
  }
  const states = batch * H * P * N;
  const plan: SsdKernelLaunch[] = [];
  const add = (kernel: SsdKernelName, threads: number, valuesRead: number) =>
    plan.push({ kernel, threads, valuesWritten: threads, valuesRead });
  // decays: k = 0 sums t − t0 + 1 values, k = 1 sums end − t − 1: q² per chunk and head
  add("ssd-decays", 2 * batch * L * H, batch * H * squares);
  // scores: 2n loads for each lower-triangle entry of a real position
  add("ssd-scores", batch * chunks * G * chunk * chunk, batch * G * 2 * N * triangle);
  // chunk states: W, X and B at every position of the chunk
  add("ssd-chunk-states", batch * chunks * H * P * N, 3 * states * L);
  // chunk carry: the state entering chunk c loads W and S of the c chunks before it
  add("ssd-chunk-carry", states * chunks, states * chunks * (chunks - 1));
  // output: CB, X and a for s ≤ t in the chunk, then 2n (C and H) and W
  add("ssd-output", batch * L * H * P, batch * H * P * (3 * triangle + L * (2 * N + 1)));
  if (options.finalState) add("ssd-final-state", states, 3 * states);
  return plan;
}
