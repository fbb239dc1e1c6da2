/**
 * Running one gpu.js kernel with the course's safe settings, and the float64 reference of the
 * chunked scan's first kernel (lesson 08's exercise).
 */
import { checkArg, describe, schema } from "../validate";
import { type GpuBackend, type GpuMode, GPU_MODES, createGpu, kernelBackend } from "./backends";

/** Settings of {@link runGpuKernel}. */
export interface RunGpuKernelSettings {
  /** Output size [x], [x, y] or [x, y, z] (x fastest: the result is indexed [z][y][x]). */
  output: number[];
  /** Values the kernel reads as `this.constants.name`. */
  constants?: Record<string, number>;
  /**
   * The largest number of iterations any loop of the kernel runs. Required: gpu.js silently
   * stops loops at this bound (its default is 1000).
   */
  loopMaxIterations: number;
  /** gpu.js mode (default "gpu"). */
  mode?: GpuMode;
}

/** Nested float32 rows as gpu.js returns them: Float32Array, or arrays of them. */
export type GpuKernelOutput = Float32Array | Float32Array[] | Float32Array[][];

/**
 * Compiles `kernel` with gpu.js (precision tactic, single precision, the given loop bound), runs
 * it once on `inputs` and frees it. Inside the kernel, `this.thread.x/y/z` is the output index and
 * `this.constants` the constants; each thread returns one number.
 *
 * @returns the output (indexed [z][y][x]) and the backend that actually ran it
 */
export function runGpuKernel(
  kernel: (...args: never[]) => number,
  settings: RunGpuKernelSettings,
  ...inputs: unknown[]
): { output: GpuKernelOutput; backend: GpuBackend } {
  const fn = "runGpuKernel";
  checkArg(fn, "kernel", kernel, schema.function());
  if (settings === null || typeof settings !== "object") {
    throw new Error(
      `${fn}: argument 'settings' must be { output, loopMaxIterations, constants?, mode? } (got ${describe(settings)})`,
    );
  }
  const out = settings.output;
  if (!Array.isArray(out) || out.length < 1 || out.length > 3) {
    throw new Error(
      `${fn}: argument 'settings.output' must be [x], [x, y] or [x, y, z] (got ${describe(out)})`,
    );
  }
  out.forEach((s, i) => checkArg(fn, `settings.output[${i}]`, s, schema.integer({ min: 1 })));
  const loopMax = checkArg(
    fn,
    "settings.loopMaxIterations",
    settings.loopMaxIterations,
    schema.integer({ min: 1 }),
  );
  const mode = checkArg(fn, "settings.mode", settings.mode ?? "gpu", schema.oneOf(GPU_MODES));
  if (
    settings.constants !== undefined &&
    (settings.constants === null || typeof settings.constants !== "object")
  ) {
    throw new Error(
      `${fn}: argument 'settings.constants' must be an object of numbers (got ${describe(settings.constants)})`,
    );
  }
  const gpu = createGpu(fn, mode);
  try {
    const k = gpu.createKernel(kernel, {
      output: out,
      constants: settings.constants ?? {},
      loopMaxIterations: loopMax,
      tactic: "precision",
      precision: "single",
    });
    const output = k(...inputs) as GpuKernelOutput;
    return { output, backend: kernelBackend(k) };
  } finally {
    gpu.destroy();
  }
}

/**
 * The chunk summaries of the chunked scan, in float64: for channel d, chunk c (positions
 * cT .. min(cT + T, l) - 1) and state n, the state the chunk produces from a zero start,
 *
 *   S[d][c][n] = Σ_{t in chunk} exp(A[d][n] · (Δ_{t+1} + ... + Δ_end)) · Δ_t · B[n][t] · u[d][t],
 *
 * computed by running s ← exp(Δ_t A[d][n]) s + Δ_t B[n][t] u[d][t] over the chunk.
 *
 * Shapes (one batch element, Δ already positive): u, delta (d, l); A (d, n); B (n, l); returns
 * (d, ⌈l/T⌉, n) as nested arrays.
 */
export function chunkSummaryReference(
  u: number[][],
  delta: number[][],
  A: number[][],
  B: number[][],
  T: number,
): number[][][] {
  const fn = "chunkSummaryReference";
  const mat = (name: string, m: unknown, rows?: number, cols?: number): number[][] => {
    if (!Array.isArray(m) || m.length < 1 || !m.every((r) => Array.isArray(r))) {
      throw new Error(
        `${fn}: argument '${name}' must be a non-empty array of rows (got ${describe(m)})`,
      );
    }
    const rs = m as number[][];
    if (rows !== undefined && rs.length !== rows) {
      throw new Error(
        `${fn}: argument '${name}' must be an array of ${rows} rows (got ${rs.length})`,
      );
    }
    const c = cols ?? rs[0].length;
    rs.forEach((r, i) => {
      if (r.length !== c)
        throw new Error(
          `${fn}: argument '${name}' must be an array of rows of ${c} values (got ${r.length} in row ${i})`,
        );
      r.forEach((v, j) => {
        if (typeof v !== "number" || !Number.isFinite(v)) {
          throw new Error(
            `${fn}: argument '${name}' must be finite numbers (got ${describe(v)} at [${i}][${j}])`,
          );
        }
      });
    });
    return rs;
  };
  const uu = mat("u", u);
  const D = uu.length;
  const L = uu[0].length;
  const dd = mat("delta", delta, D, L);
  const AA = mat("A", A, D);
  const N = AA[0].length;
  const BB = mat("B", B, N, L);
  const chunk = checkArg(fn, "T", T, schema.integer({ min: 1 }));
  const C = Math.ceil(L / chunk);
  const out: number[][][] = [];
  for (let d = 0; d < D; d++) {
    const rows: number[][] = [];
    for (let c = 0; c < C; c++) {
      const row: number[] = [];
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let t = c * chunk; t < Math.min(L, (c + 1) * chunk); t++) {
          s = Math.exp(dd[d][t] * AA[d][n]) * s + dd[d][t] * BB[n][t] * uu[d][t];
        }
        row.push(s);
      }
      rows.push(row);
    }
    out.push(rows);
  }
  return out;
}
