/**
 * Kernel sources of the "fused" gpu.js selective scan (forward and backward), generated for one
 * problem size, and the plan of launches with the values each writes and loads.
 *
 * The fused design of Mamba's CUDA kernel is one program per (batch, channel block) that walks the
 * sequence once with the state in registers, reading every input once and writing every output
 * once. gpu.js's kernel language cannot express it: a gpu.js thread writes exactly one value (or
 * one Array(4) of four) at its own output index, and there is no shared (workgroup) memory, no
 * barrier and no way to choose the workgroup size (gpu.js's WebGPU backend fixes 64 threads, or
 * 8 × 8). A thread that walks a whole sequence can therefore not emit that sequence's outputs. The
 * closest gpu.js design, built here, keeps the recurrence in each thread's loop variables and
 * never writes anything of size (b, d, l, n); it costs a few extra passes over small tensors and
 * a short replay:
 *
 * 1. chunk states: thread (b, d, chunk c, n) runs the recurrence over the chunk's T positions
 *    from zero: S_c (plus, in slot n = N, the chunk's Σ Δ, from which the chunk's decay
 *    exp(A Σ Δ) follows): (b, d, l/T, n + 1) values, l·n/T per channel;
 * 2. superchunk states: the same over S chunks at a time, from the chunk states;
 * 3. superchunk carry: the state entering each superchunk, by a loop over the superchunks before;
 * 4. chunk carry: the state entering each chunk, by a loop over the chunks before it in its
 *    superchunk (these are the chunk-boundary states the backward pass starts from);
 * 5. output: thread (b, d, quad q) returns Array(4), the outputs of four consecutive positions:
 *    it starts from the state entering its chunk, replays the chunk's positions before 4q
 *    ((T/4 - 1)/2 quads on average) with the n states in registers h0 ... h{n-1}, then walks its
 *    four positions and contracts with C. With at most four outputs a thread, this replay (about
 *    (T/4 + 1)/2 steps per output) is the price of gpu.js's one-output rule.
 *
 * Δ = softplus(delta + bias) is computed once per position by the chunked scan's `delta` kernel.
 *
 * The backward pass (the adjoint h_l = Ā_{l+1} h_{l+1} + g_l C_l walks the sequence backwards,
 * see lib/src/ops/reference/backward.ts for the equations) uses the same four carry steps in
 * reverse to find the adjoint at every chunk end, then recomputes the forward states inside each
 * chunk from the stored chunk-boundary states (Mamba's recomputation):
 * - grads: thread (b, d, t) returns [du, dΔ-raw, dz, g·u] (Array(4)) after replaying the forward
 *   state from its chunk start to t and the adjoint from its chunk end back to t;
 * - grad-A: thread (b, d, c, n) walks its chunk forwards (states kept in T unrolled scalars) and
 *   backwards, summing h x_{l-1} Δ Ā; a reduction over (b, c) gives dA (d, n);
 * - grad-BC: thread (t, n, b·g) sums over the group's channels h Δ u (dB) or g x (dC), replaying
 *   each channel's adjoint or state; dD and dδ-bias are sums over (b, l) of the grads kernel.
 *
 * Layouts follow scan-kernels.ts ([x, y, z], x fastest): u, delta, z, dout [l, d, b]; A [n, d];
 * B, C [l, n, b·g]; Δ [l, b·d]; chunk tensors [n + 1, chunks, b·d]; carries [n, ·, b·d].
 */
import { argumentError, checkArg, schema } from "../validate";
import { type KernelLaunch, type ScanDims, checkScanDims } from "./scan-kernels";

/** The kernels of the fused forward and the backward. */
export type FusedKernelName =
  | "delta"
  | "chunk-state"
  | "super-state"
  | "super-carry"
  | "chunk-carry"
  | "fused-output"
  | "fused-last-state"
  | "grad-out"
  | "grad-z"
  | "adjoint-chunk-state"
  | "adjoint-super-state"
  | "adjoint-super-carry"
  | "adjoint-chunk-carry"
  | "grads"
  | "grad-A"
  | "reduce-A"
  | "reduce-D-bias"
  | "grad-BC";

/** Chunk T and superchunk S (chunks per superchunk) of the fused scan. */
export interface FusedTiling {
  /** Positions per chunk: a multiple of 4 (an output thread writes four positions). */
  chunk: number;
  /** Chunks per superchunk. */
  superChunk: number;
}

/** Largest chunk T of the fused scan (grad-A keeps 3T values per thread in scalars). */
export const MAX_FUSED_CHUNK = 64;

/** Largest superchunk S. */
export const MAX_FUSED_SUPERCHUNK = 1024;

/** Checks a {@link FusedTiling}. */
export function checkFusedTiling(fn: string, tiling: unknown): FusedTiling {
  const t = checkArg(
    fn,
    "tiling",
    tiling,
    schema.options(
      {
        chunk: schema.integer({ min: 4, max: MAX_FUSED_CHUNK }),
        superChunk: schema.integer({ min: 1, max: MAX_FUSED_SUPERCHUNK }),
      },
      "{ chunk, superChunk }",
    ),
  ) as FusedTiling;
  if (t.chunk % 4 !== 0) {
    throw argumentError(fn, "tiling.chunk", `a multiple of 4 (got ${t.chunk})`);
  }
  return t;
}

const f = (n: number): string => `${n}.0`;

/** Chunks and superchunks of a problem. */
export function fusedCounts(dims: ScanDims, tiling: FusedTiling): { C: number; SC: number } {
  const C = Math.ceil(dims.length / tiling.chunk);
  return { C, SC: Math.ceil(C / tiling.superChunk) };
}

function preamble(dims: ScanDims, bdExpr: string): string {
  const perGroup = dims.dim / dims.groups;
  return [
    `const bd = ${bdExpr};`,
    `const b = Math.floor((bd + 0.5) / ${f(dims.dim)});`,
    `const d = bd - b * ${dims.dim};`,
    dims.groups === 1
      ? "const bg = b;"
      : `const bg = b * ${dims.groups} + Math.floor((d + 0.5) / ${f(perGroup)});`,
  ].join("\n  ");
}

/** 1. chunk states S_c from zero, slot N: the chunk's Σ Δ; output [N + 1, C, BD]. */
export function chunkStateSource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("chunkStateSource", dims);
  const { chunk: T } = checkFusedTiling("chunkStateSource", tiling);
  const { length: L, dstate: N } = dims;
  return `function (Dt, u, A, B) {
  const n = this.thread.x;
  const c = this.thread.y;
  ${preamble(dims, "this.thread.z")}
  let s = 0.0;
  if (n == ${N}) {
    for (let k = 0; k < ${T}; k++) {
      const t = c * ${T} + k;
      if (t < ${L}) {
        s = s + Dt[bd][t];
      }
    }
  } else {
    const a = A[d][n];
    for (let k = 0; k < ${T}; k++) {
      const t = c * ${T} + k;
      if (t < ${L}) {
        const x = Dt[bd][t];
        s = Math.exp(x * a) * s + x * B[bg][n][t] * u[b][d][t];
      }
    }
  }
  return s;
}`;
}

/**
 * 2. (forward) superchunk states from the chunk states, or (reverse) the adjoint's superchunk
 * states from the adjoint chunk states; output [N + 1, SC, BD].
 */
export function superStateSource(dims: ScanDims, tiling: FusedTiling, reverse = false): string {
  checkScanDims("superStateSource", dims);
  const { superChunk: S } = checkFusedTiling("superStateSource", tiling);
  const { C } = fusedCounts(dims, tiling);
  const N = dims.dstate;
  // forward: s ← exp(a ΣΔ_j) s + S_j over j ascending; reverse: s ← R_j + exp(a W_j) s descending
  const j = reverse ? `sc * ${S} + ${S - 1} - k` : `sc * ${S} + k`;
  return `function (X, A) {
  const n = this.thread.x;
  const sc = this.thread.y;
  const bd = this.thread.z;
  const d = bd - Math.floor((bd + 0.5) / ${f(dims.dim)}) * ${dims.dim};
  let s = 0.0;
  let a = 0.0;
  if (n < ${N}) {
    a = A[d][n];
  }
  for (let k = 0; k < ${S}; k++) {
    const j = ${j};
    if (j < ${C}) {
      if (n == ${N}) {
        s = s + X[bd][j][${N}];
      } else {
        s = Math.exp(a * X[bd][j][${N}]) * s + X[bd][j][n];
      }
    }
  }
  return s;
}`;
}

/**
 * 3. The state entering each superchunk (forward: from the left; reverse: the adjoint at the
 * first position after it); output [N, SC, BD].
 */
export function superCarrySource(dims: ScanDims, tiling: FusedTiling, reverse = false): string {
  checkScanDims("superCarrySource", dims);
  checkFusedTiling("superCarrySource", tiling);
  const { SC } = fusedCounts(dims, tiling);
  const N = dims.dstate;
  const loop = reverse
    ? `for (let k = 0; k < ${SC}; k++) {
    const j = ${SC - 1} - k;
    if (j > sc) {
      h = Q[bd][j][n] + Math.exp(a * Q[bd][j][${N}]) * h;
    }
  }`
    : `for (let j = 0; j < ${SC}; j++) {
    if (j < sc) {
      h = Math.exp(a * Q[bd][j][${N}]) * h + Q[bd][j][n];
    }
  }`;
  return `function (Q, A) {
  const n = this.thread.x;
  const sc = this.thread.y;
  const bd = this.thread.z;
  const d = bd - Math.floor((bd + 0.5) / ${f(dims.dim)}) * ${dims.dim};
  const a = A[d][n];
  let h = 0.0;
  ${loop}
  return h;
}`;
}

/**
 * 4. The state entering each chunk (forward), or the adjoint at the first position after each
 * chunk (reverse); output [N, C, BD].
 */
export function chunkCarrySource(dims: ScanDims, tiling: FusedTiling, reverse = false): string {
  checkScanDims("chunkCarrySource", dims);
  const { superChunk: S } = checkFusedTiling("chunkCarrySource", tiling);
  const { C } = fusedCounts(dims, tiling);
  const N = dims.dstate;
  const loop = reverse
    ? `for (let k = 0; k < ${S}; k++) {
    const j = sc * ${S} + ${S - 1} - k;
    if (j > c && j < ${C}) {
      h = X[bd][j][n] + Math.exp(a * X[bd][j][${N}]) * h;
    }
  }`
    : `for (let k = 0; k < ${S}; k++) {
    const j = sc * ${S} + k;
    if (j < c) {
      h = Math.exp(a * X[bd][j][${N}]) * h + X[bd][j][n];
    }
  }`;
  return `function (X, Q, A) {
  const n = this.thread.x;
  const c = this.thread.y;
  const bd = this.thread.z;
  const d = bd - Math.floor((bd + 0.5) / ${f(dims.dim)}) * ${dims.dim};
  const sc = Math.floor((c + 0.5) / ${f(S)});
  const a = A[d][n];
  let h = Q[bd][sc][n];
  ${loop}
  return h;
}`;
}

const lines = (N: number, fn: (n: number) => string, sep = "\n    "): string =>
  Array.from({ length: N }, (_, n) => fn(n)).join(sep);

/**
 * 5. Output, four positions per thread: thread (q, bd) returns [y_4q, ..., y_4q+3] (positions past
 * l give 0); output [⌈l/4⌉, BD] of Array(4), the (b, d, l) layout when 4 divides l.
 */
export function fusedOutputSource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("fusedOutputSource", dims);
  const { chunk: T } = checkFusedTiling("fusedOutputSource", tiling);
  const { length: L, dstate: N, hasZ } = dims;
  const out = (k: number): string => `let o${k} = 0.0;
  if (t0 + ${k} < ${L}) {
    const uu = u[b][d][t0 + ${k}];
    o${k} = y${k} + Dv[d] * uu;${
      hasZ
        ? `
    const zz = z[b][d][t0 + ${k}];
    o${k} = o${k} * zz / (1.0 + Math.exp(-zz));`
        : ""
    }
  }`;
  return `function (H, Dt, u, A, B, C, Dv${hasZ ? ", z" : ""}) {
  const q = this.thread.x;
  ${preamble(dims, "this.thread.y")}
  const t0 = q * 4;
  const c = Math.floor((q + 0.5) / ${f(T / 4)});
  ${lines(N, (n) => `let h${n} = H[bd][c][${n}];`, "\n  ")}
  ${lines(N, (n) => `const a${n} = A[d][${n}];`, "\n  ")}
  let y0 = 0.0;
  let y1 = 0.0;
  let y2 = 0.0;
  let y3 = 0.0;
  for (let k = 0; k < ${T}; k++) {
    const s = c * ${T} + k;
    if (s < t0 + 4 && s < ${L}) {
      const x = Dt[bd][s];
      const xu = x * u[b][d][s];
      ${lines(N, (n) => `h${n} = Math.exp(x * a${n}) * h${n} + xu * B[bg][${n}][s];`, "\n      ")}
      if (s >= t0) {
        const y = ${lines(N, (n) => `h${n} * C[bg][${n}][s]`, "\n          + ")};
        if (s == t0) {
          y0 = y;
        } else if (s == t0 + 1) {
          y1 = y;
        } else if (s == t0 + 2) {
          y2 = y;
        } else {
          y3 = y;
        }
      }
    }
  }
  ${[0, 1, 2, 3].map(out).join("\n  ")}
  return [o0, o1, o2, o3];
}`;
}

/** The state after the last position, from the last chunk's entry state; output [N, BD]. */
export function fusedLastStateSource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("fusedLastStateSource", dims);
  const { chunk: T } = checkFusedTiling("fusedLastStateSource", tiling);
  const { C } = fusedCounts(dims, tiling);
  return `function (H, Dt, u, A, B) {
  const n = this.thread.x;
  ${preamble(dims, "this.thread.y")}
  const a = A[d][n];
  let h = H[bd][${C - 1}][n];
  for (let k = 0; k < ${T}; k++) {
    const t = ${(C - 1) * T} + k;
    if (t < ${dims.length}) {
      const x = Dt[bd][t];
      h = Math.exp(x * a) * h + x * B[bg][n][t] * u[b][d][t];
    }
  }
  return h;
}`;
}

// ---- backward ----

/** g = dout · silu(z) (dout without z); output [L, BD]. */
export function gradOutSource(dims: ScanDims): string {
  checkScanDims("gradOutSource", dims);
  return `function (dout${dims.hasZ ? ", z" : ""}) {
  const t = this.thread.x;
  ${preamble(dims, "this.thread.y")}
  ${dims.hasZ ? "const zz = z[b][d][t];\n  return dout[b][d][t] * zz / (1.0 + Math.exp(-zz));" : "return dout[b][d][t];"}
}`;
}

/**
 * Reverse chunk states: R_c = the adjoint at the chunk's first position from a zero adjoint after
 * its last, h ← exp(a Δ_{t+1}) h + g_t C_t for t descending; slot N: W_c = Σ Δ over positions
 * cT + 1 ... min(cT + T, l - 1), the exponent that carries an adjoint across the chunk; output
 * [N + 1, C, BD].
 */
export function adjointChunkStateSource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("adjointChunkStateSource", dims);
  const { chunk: T } = checkFusedTiling("adjointChunkStateSource", tiling);
  const { length: L, dstate: N } = dims;
  return `function (Dt, G, A, C) {
  const n = this.thread.x;
  const c = this.thread.y;
  ${preamble(dims, "this.thread.z")}
  let s = 0.0;
  if (n == ${N}) {
    for (let k = 1; k < ${T + 1}; k++) {
      const t = c * ${T} + k;
      if (t < ${L}) {
        s = s + Dt[bd][t];
      }
    }
  } else {
    const a = A[d][n];
    for (let k = 0; k < ${T}; k++) {
      const t = c * ${T} + ${T - 1} - k;
      if (t < ${L}) {
        if (k > 0 && t + 1 < ${L}) {
          s = Math.exp(a * Dt[bd][t + 1]) * s;
        }
        s = s + G[bd][t] * C[bg][n][t];
      }
    }
  }
  return s;
}`;
}

/** The forward state and the adjoint at one position, replayed inside its chunk (grads kernels). */
function replayLines(
  dims: ScanDims,
  T: number,
  stop: string,
  stateOnly = false,
  aName = "A",
): string {
  const { length: L, dstate: N } = dims;
  const fwd = `${lines(N, (n) => `let x${n} = H[bd][c][${n}];`, "\n  ")}
  ${lines(N, (n) => `let p${n} = 0.0;`, "\n  ")}
  ${lines(N, (n) => `const a${n} = ${aName}[d][${n}];`, "\n  ")}
  for (let k = 0; k < ${T}; k++) {
    const s = c * ${T} + k;
    if (s <= ${stop}) {
      const x = Dt[bd][s];
      const xu = x * u[b][d][s];
      ${lines(N, (n) => `p${n} = x${n};`, "\n      ")}
      ${lines(N, (n) => `x${n} = Math.exp(x * a${n}) * x${n} + xu * B[bg][${n}][s];`, "\n      ")}
    }
  }`;
  if (stateOnly) return fwd;
  return `${fwd}
  const end = Math.min(c * ${T} + ${T}, ${L});
  ${lines(N, (n) => `let h${n} = 0.0;`, "\n  ")}
  if (end < ${L}) {
    const xe = Dt[bd][end];
    ${lines(N, (n) => `h${n} = E[bd][c][${n}] * Math.exp(xe * a${n});`, "\n    ")}
  }
  for (let k = 0; k < ${T}; k++) {
    const s = c * ${T} + ${T - 1} - k;
    if (s >= ${stop} && s < end) {
      if (s < end - 1) {
        const xn = Dt[bd][s + 1];
        ${lines(N, (n) => `h${n} = h${n} * Math.exp(xn * a${n});`, "\n        ")}
      }
      const gs = G[bd][s];
      ${lines(N, (n) => `h${n} = h${n} + gs * C[bg][${n}][s];`, "\n      ")}
    }
  }`;
}

/**
 * Per-position gradients: thread (t, bd) returns [∂u, ∂delta, ∂z, g·u] (∂delta is ∂Δ times
 * softplus' when softplus is on; g·u sums to ∂D); output [L, BD] of Array(4).
 */
export function gradsSource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("gradsSource", dims);
  const { chunk: T } = checkFusedTiling("gradsSource", tiling);
  const { dstate: N, hasZ, softplus } = dims;
  // At most 9 arguments: WebGPU devices offer as few as 10 storage buffers per shader stage (the
  // output is one). So A and D arrive as one (d, n + 1) array AD, dout and z as the factor
  // F = dout σ(z) (1 + z (1 - σ(z))) (∂z = F o), and softplus' = σ(raw) = 1 - exp(-Δ) is
  // recomputed from Δ (with its series below 0.01, where 1 - exp(-Δ) would cancel).
  return `function (H, E, Dt, G, u, AD, B, C${hasZ ? ", F" : ""}) {
  const t = this.thread.x;
  ${preamble(dims, "this.thread.y")}
  const c = Math.floor((t + 0.5) / ${f(T)});
  ${replayLines({ ...dims }, T, "t", false, "AD")}
  const dt = Dt[bd][t];
  const ut = u[b][d][t];
  const g = G[bd][t];
  const skip = AD[d][${N}];
  let du = g * skip;
  let gdt = 0.0;
  ${lines(N, (n) => `du = du + h${n} * dt * B[bg][${n}][t];`, "\n  ")}
  ${lines(N, (n) => `gdt = gdt + h${n} * (a${n} * Math.exp(dt * a${n}) * p${n} + B[bg][${n}][t] * ut);`, "\n  ")}
  ${
    softplus
      ? `let sig = 1.0 - Math.exp(-dt);
  if (dt < 0.01) {
    sig = dt * (1.0 - dt * (0.5 - dt / 6.0));
  }
  gdt = gdt * sig;`
      : ""
  }
  let dz = 0.0;
  ${
    hasZ
      ? `const y = ${lines(N, (n) => `x${n} * C[bg][${n}][t]`, "\n    + ")};
  dz = F[bd][t] * (y + skip * ut);`
      : ""
  }
  return [du, gdt, dz, g * ut];
}`;
}

/** ∂z's factor F = dout σ(z) (1 + z (1 - σ(z))) (∂z = F · o); output [L, BD]. */
export function gradZSource(dims: ScanDims): string {
  checkScanDims("gradZSource", dims);
  return `function (dout, z) {
  const t = this.thread.x;
  ${preamble(dims, "this.thread.y")}
  const zz = z[b][d][t];
  const sg = 1.0 / (1.0 + Math.exp(-zz));
  return dout[b][d][t] * sg * (1.0 + zz * (1.0 - sg));
}`;
}

/**
 * dA per chunk: thread (n, c, bd) walks its chunk forwards from the chunk's entry state (x_{t-1},
 * Δ_t, Ā_t kept in 3T unrolled scalars) and backwards from the adjoint after it, summing
 * h_t x_{t-1} Δ_t Ā_t; output [N, C, BD].
 */
export function gradASource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("gradASource", dims);
  const { chunk: T } = checkFusedTiling("gradASource", tiling);
  const L = dims.length;
  const fwd = Array.from(
    { length: T },
    (_, k) => `let xb${k} = x;
  let dt${k} = 0.0;
  let ab${k} = 0.0;
  if (t0 + ${k} < ${L}) {
    dt${k} = Dt[bd][t0 + ${k}];
    ab${k} = Math.exp(dt${k} * a);
    x = ab${k} * x + dt${k} * B[bg][n][t0 + ${k}] * u[b][d][t0 + ${k}];
  }`,
  ).join("\n  ");
  const rev = Array.from({ length: T }, (_, i) => {
    const k = T - 1 - i;
    return `if (t0 + ${k} < ${L}) {
    h = h + G[bd][t0 + ${k}] * C[bg][n][t0 + ${k}];
    g = g + h * xb${k} * dt${k} * ab${k};
    h = h * ab${k};
  }`;
  }).join("\n  ");
  return `function (H, E, Dt, G, u, A, B, C) {
  const n = this.thread.x;
  const c = this.thread.y;
  ${preamble(dims, "this.thread.z")}
  const a = A[d][n];
  const t0 = c * ${T};
  let x = H[bd][c][n];
  ${fwd}
  let h = 0.0;
  if (t0 + ${T} < ${L}) {
    h = E[bd][c][n] * Math.exp(a * Dt[bd][t0 + ${T}]);
  }
  let g = 0.0;
  ${rev}
  return g;
}`;
}

/** dA (d, n): the sum over batch and chunks of grad-A; output [N, D]. */
export function reduceASource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("reduceASource", dims);
  checkFusedTiling("reduceASource", tiling);
  const { C } = fusedCounts(dims, tiling);
  return `function (GA) {
  const n = this.thread.x;
  const d = this.thread.y;
  let s = 0.0;
  for (let b = 0; b < ${dims.batch}; b++) {
    for (let c = 0; c < ${C}; c++) {
      s = s + GA[b * ${dims.dim} + d][c][n];
    }
  }
  return s;
}`;
}

/**
 * dD and dδ-bias (d): sums over batch and positions of the grads kernel's g·u (component 3) and
 * ∂delta (component 1), read as scalars [4L, BD]; thread (d, k): k = 0 gives dD, 1 dδ-bias;
 * output [D, 2].
 */
export function reduceDBiasSource(dims: ScanDims): string {
  checkScanDims("reduceDBiasSource", dims);
  return `function (G4) {
  const d = this.thread.x;
  const k = this.thread.y;
  const comp = 3 - 2 * k;
  let s = 0.0;
  for (let b = 0; b < ${dims.batch}; b++) {
    for (let t = 0; t < ${dims.length}; t++) {
      s = s + G4[b * ${dims.dim} + d][t * 4 + comp];
    }
  }
  return s;
}`;
}

/**
 * dB and dC: thread (t, n, w·BG + bg) sums over the channels d of group bg: w = 0: dB =
 * Σ h_t Δ_t u_t (the adjoint replayed from the chunk end), w = 1: dC = Σ g_t x_t (the state
 * replayed from the chunk start); output [L, N, 2·BG] (dB then dC, each in B's layout).
 */
export function gradBCSource(dims: ScanDims, tiling: FusedTiling): string {
  checkScanDims("gradBCSource", dims);
  const { chunk: T } = checkFusedTiling("gradBCSource", tiling);
  const { length: L, groups, batch } = dims;
  const BG = batch * groups;
  const perGroup = dims.dim / groups;
  return `function (H, E, Dt, G, u, A, B, C) {
  const t = this.thread.x;
  const n = this.thread.y;
  const wz = this.thread.z;
  const w = Math.floor((wz + 0.5) / ${f(BG)});
  const bg = wz - w * ${BG};
  const b = Math.floor((bg + 0.5) / ${f(groups)});
  const d0 = (bg - b * ${groups}) * ${perGroup};
  const c = Math.floor((t + 0.5) / ${f(T)});
  const end = Math.min(c * ${T} + ${T}, ${L});
  let s = 0.0;
  for (let j = 0; j < ${perGroup}; j++) {
    const d = d0 + j;
    const bd = b * ${dims.dim} + d;
    const a = A[d][n];
    if (w == 0) {
      let h = 0.0;
      if (end < ${L}) {
        h = E[bd][c][n] * Math.exp(a * Dt[bd][end]);
      }
      for (let k = 0; k < ${T}; k++) {
        const r = c * ${T} + ${T - 1} - k;
        if (r >= t && r < end) {
          if (r < end - 1) {
            h = h * Math.exp(a * Dt[bd][r + 1]);
          }
          h = h + G[bd][r] * C[bg][n][r];
        }
      }
      s = s + h * Dt[bd][t] * u[b][d][t];
    } else {
      let x = H[bd][c][n];
      for (let k = 0; k < ${T}; k++) {
        const r = c * ${T} + k;
        if (r <= t) {
          const xd = Dt[bd][r];
          x = Math.exp(xd * a) * x + xd * B[bg][n][r] * u[b][d][r];
        }
      }
      s = s + G[bd][t] * x;
    }
  }
  return s;
}`;
}

/** The launches of the fused forward (and, with `backward`, the backward) and their traffic. */
export function fusedLaunchPlan(
  dims: ScanDims,
  tiling: FusedTiling,
  options: { lastState?: boolean; backward?: boolean } = {},
): (Omit<KernelLaunch, "kernel"> & { kernel: FusedKernelName })[] {
  checkScanDims("fusedLaunchPlan", dims);
  const { chunk: T, superChunk: S } = checkFusedTiling("fusedLaunchPlan", tiling);
  const { batch, dim, length: L, dstate: N, groups, hasZ } = dims;
  const BD = batch * dim;
  const { C, SC } = fusedCounts(dims, tiling);
  const plan: (Omit<KernelLaunch, "kernel"> & { kernel: FusedKernelName })[] = [];
  const add = (kernel: FusedKernelName, threads: number, valuesRead: number, written = threads) =>
    plan.push({ kernel, offset: null, threads, valuesWritten: written, valuesRead });
  // chunk-length sums: positions L, chunks C, superchunks SC
  let carryReads = 0; // chunk-carry: Q, A + 2 per earlier chunk in the superchunk
  for (let c = 0; c < C; c++) carryReads += 2 + 2 * (c % S);
  let superCarryReads = 0;
  for (let sc = 0; sc < SC; sc++) superCarryReads += 1 + 2 * sc;
  add("delta", BD * L, 2 * BD * L);
  add("chunk-state", BD * C * (N + 1), BD * (N * (3 * L + C) + L));
  add("super-state", BD * SC * (N + 1), BD * (N * (SC + 2 * C) + C));
  add("super-carry", BD * SC * N, BD * N * superCarryReads);
  add("chunk-carry", BD * C * N, BD * N * carryReads);
  // output: quad q replays (4q - cT) + 4 positions (Δ, u, N of B each), contracts 4 (N of C, u,
  // D, z), and loads N entry states and N of A
  let outReads = 0;
  for (let q = 0; q < Math.ceil(L / 4); q++) {
    const t0 = 4 * q;
    const start = Math.floor(t0 / T) * T;
    const stop = Math.min(t0 + 4, L);
    outReads += 2 * N + (stop - start) * (N + 2) + (stop - t0) * (N + 2 + (hasZ ? 1 : 0));
  }
  add("fused-output", BD * Math.ceil(L / 4), BD * outReads, BD * 4 * Math.ceil(L / 4));
  if (options.lastState) {
    add("fused-last-state", BD * N, BD * N * (2 + 3 * (L - (C - 1) * T)));
  }
  if (options.backward) {
    const BG = batch * groups;
    add("grad-out", BD * L, BD * L * (hasZ ? 2 : 1));
    if (hasZ) add("grad-z", BD * L, 2 * BD * L);
    add("adjoint-chunk-state", BD * C * (N + 1), BD * (N * (3 * L + C) + L));
    add("adjoint-super-state", BD * SC * (N + 1), BD * (N * (SC + 2 * C) + C));
    add("adjoint-super-carry", BD * SC * N, BD * N * superCarryReads);
    add("adjoint-chunk-carry", BD * C * N, BD * N * carryReads);
    // grads: position t replays (t - cT + 1) forward steps and (end - t) adjoint steps
    let gradReads = 0;
    for (let t = 0; t < L; t++) {
      const c = Math.floor(t / T);
      const end = Math.min(c * T + T, L);
      gradReads += 3 * N + 1 + (t - c * T + 1) * (N + 2) + (end - t) * (N + 2) + 2 * N + 4;
    }
    add("grads", BD * L, BD * gradReads, BD * L * 4);
    add("grad-A", BD * C * N, BD * N * (2 * C + 5 * L));
    add("reduce-A", dim * N, dim * N * batch * C);
    add("reduce-D-bias", 2 * dim, 2 * BD * L);
    let bcReads = 0;
    for (let t = 0; t < L; t++) {
      const c = Math.floor(t / T);
      const end = Math.min(c * T + T, L);
      bcReads += 3 * (end - t) + 3 + (4 * (t - c * T + 1) + 3);
    }
    add("grad-BC", 2 * BG * N * L, (dim / groups) * BG * N * bcReads);
  }
  return plan;
}
