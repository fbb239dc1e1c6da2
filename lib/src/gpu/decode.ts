/**
 * Decoding one token at a time on gpu.js: the recurrent mode of the selective SSM.
 *
 * When a model generates text, position t + 1 is not known before position t has been produced,
 * so the scan cannot run over the whole sequence: each new token runs one step of the recurrence
 * from the state of the previous one. The state (b, d, n) is all a selective SSM remembers, so it
 * stays on the device between steps (a pipeline texture); a step uploads this token's u, Δ, B, C
 * (and z), runs two kernels and reads back only y (b, d):
 *
 *   h[b,d,n] ← exp(Δ A[d,n]) h[b,d,n] + Δ B[b,n] u[b,d]          (state kernel, n per thread)
 *   y[b,d]   = (Σ_n h[b,d,n] C[b,n] + D[d] u[b,d]) · silu(z[b,d])   (output kernel, unrolled n)
 *
 * with Δ = softplus(delta + deltaBias). Memory and time per token are constant in the sequence
 * length, unlike attention's growing key-value cache.
 */
import type { Tensor } from "../tensor";
import { MAX_ELEMENTS, checkArg, checkOptions, isAbsent, schema } from "../validate";
import {
  type GpuBackend,
  type GpuJsInstance,
  type GpuJsKernel,
  type GpuMode,
  GPU_MODES,
  createGpu,
  kernelBackend,
  loadGpuJs,
  releaseDeviceValue,
} from "./backends";
import { MAX_GPU_DSTATE } from "./scan-kernels";

/** Fixed parameters of a decoder (the layer's weights). */
export interface GpuDecoderOptions {
  /** (d, n). */
  A: Tensor;
  /** (d); default zeros. */
  D?: Tensor | null;
  /** (d); default zeros. */
  deltaBias?: Tensor | null;
  /** Apply softplus to delta + deltaBias (default false, as in the scan). */
  deltaSoftplus?: boolean;
  /** Batch size b. */
  batch: number;
  /** gpu.js mode (default "gpu"). */
  mode?: GpuMode;
}

/** One token's inputs. */
export interface GpuDecoderStepArgs {
  /** (b, d). */
  u: Tensor;
  /** (b, d), raw (before bias and softplus). */
  delta: Tensor;
  /** (b, n). */
  B: Tensor;
  /** (b, n). */
  C: Tensor;
  /** (b, d), optional gate. */
  z?: Tensor | null;
}

/** A running decoder; see {@link createGpuDecoder}. */
export interface GpuDecoder {
  /** Runs one token: updates the state on the device, returns y (b, d) and the backend that ran. */
  step(args: GpuDecoderStepArgs): { out: Tensor<Float32Array>; backend: GpuBackend };
  /** The current state (b, d, n), read back from the device. */
  state(): Tensor<Float32Array>;
  /** Sets the state back to zero. */
  reset(): void;
  /** Frees kernels, textures and the context. */
  destroy(): void;
}

const f = (n: number): string => `${n}.0`;

/**
 * A decoder for one selective-SSM layer on gpu.js: `step` consumes one token and returns its
 * output; running it over positions 0..l-1 from the zero state gives the outputs of
 * `selectiveScan` (same equations, float32).
 */
export function createGpuDecoder(options: GpuDecoderOptions): GpuDecoder {
  const fn = "createGpuDecoder";
  const o = checkOptions(fn, "", options, DECODER_OPTIONS);
  const A = checkArg(fn, "A", o.A, schema.tensor({ rank: 2, axes: ["d", "n"] }));
  const [dim, N] = A.shape;
  if (dim < 1 || N < 1 || N > MAX_GPU_DSTATE) {
    throw new Error(
      `${fn}: argument 'A' must be a (d, n) tensor with d >= 1 and 1 <= n <= ${MAX_GPU_DSTATE} (got shape [${A.shape.join(", ")}])`,
    );
  }
  const batch = checkArg(
    fn,
    "batch",
    o.batch,
    schema.integer({ min: 1, max: Math.floor(MAX_ELEMENTS / (dim * N)) }),
  );
  const perChannel = schema.tensor({ shape: [dim], axes: ["d"] });
  const D = o.D ? checkArg(fn, "D", o.D, perChannel) : null;
  const bias = o.deltaBias ? checkArg(fn, "deltaBias", o.deltaBias, perChannel) : null;
  const stepArgs = stepArgsSchema(batch, dim, N);
  const mode = o.mode ?? "gpu";
  const BD = batch * dim;
  let gpu: GpuJsInstance | null = createGpu(fn, mode);
  const g = loadGpuJs();
  const Aj = g.input(Float32Array.from(A.data), [N, dim]);
  const Dv = D ? Float32Array.from(D.data) : new Float32Array(dim);
  const bv = bias ? Float32Array.from(bias.data) : new Float32Array(dim);
  const settings = (output: number[], pipeline: boolean) => ({
    output,
    pipeline,
    immutable: true,
    tactic: "precision",
    precision: "single",
    optimizeFloatMemory: pipeline, // packed state texture; unpacked output (see selective-scan.ts)
    loopMaxIterations: 1,
  });
  const pre = `const b = Math.floor((bd + 0.5) / ${f(dim)});\n  const d = bd - b * ${dim};`;
  const sp = o.deltaSoftplus ? "if (x <= 20.0) { x = Math.log(1.0 + Math.exp(x)); }" : "";
  const live = (): GpuJsInstance => {
    if (!gpu) throw new Error("GpuDecoder: used after destroy()");
    return gpu;
  };
  const zero = live().createKernel(`function () { return 0.0; }`, settings([N, BD], true));
  const update = live().createKernel(
    `function (H, u, delta, A, B, bias) {
  const n = this.thread.x;
  const bd = this.thread.y;
  ${pre}
  let x = delta[b][d] + bias[d];
  ${sp}
  return Math.exp(x * A[d][n]) * H[bd][n] + x * B[b][n] * u[b][d];
}`,
    settings([N, BD], true),
  );
  const outputs = new Map<boolean, GpuJsKernel>();
  const outputKernel = (gate: boolean): GpuJsKernel => {
    let k = outputs.get(gate);
    if (!k) {
      const terms = Array.from({ length: N }, (_, n) => `H[bd][${n}] * C[b][${n}]`).join(" + ");
      k = live().createKernel(
        `function (H, u, C, Dv${gate ? ", z" : ""}) {
  const bd = this.thread.x;
  ${pre}
  let y = ${terms};
  y = y + Dv[d] * u[b][d];
  ${gate ? "const zz = z[b][d];\n  y = y * zz / (1.0 + Math.exp(-zz));" : ""}
  return y;
}`,
        settings([BD], false),
      );
      outputs.set(gate, k);
    }
    return k;
  };
  let H: unknown = zero();
  const f32 = (t: Tensor): Float32Array => Float32Array.from(t.data);
  return {
    step(args) {
      checkOptions("GpuDecoder.step", "", args, stepArgs);
      const u = g.input(f32(args.u), [dim, batch]);
      const delta = g.input(f32(args.delta), [dim, batch]);
      const B = g.input(f32(args.B), [N, batch]);
      const C = g.input(f32(args.C), [N, batch]);
      const z = isAbsent(args.z) ? null : g.input(f32(args.z), [dim, batch]);
      const gate = z !== null;
      const next = update(H, u, delta, Aj, B, bv);
      releaseDeviceValue(H);
      H = next;
      const k = outputKernel(gate);
      const y = gate ? k(H, u, C, Dv, z) : k(H, u, C, Dv);
      const backend = kernelBackend(k);
      if (kernelBackend(update) !== backend) {
        throw new Error(`GpuDecoder.step: the two kernels ran on different backends`);
      }
      if (mode !== "gpu" && backend !== mode) {
        throw new Error(`GpuDecoder.step: asked for mode "${mode}" but gpu.js ran "${backend}"`);
      }
      return {
        out: { shape: [batch, dim], data: Float32Array.from(y as ArrayLike<number>) },
        backend,
      };
    },
    state() {
      const t = H as { toArray?: () => unknown };
      const rows = (typeof t.toArray === "function" ? t.toArray() : H) as ArrayLike<
        ArrayLike<number>
      >;
      const data = new Float32Array(BD * N);
      for (let r = 0; r < BD; r++) for (let n = 0; n < N; n++) data[r * N + n] = rows[r][n];
      return { shape: [batch, dim, N], data };
    },
    reset() {
      releaseDeviceValue(H);
      H = zero();
    },
    destroy() {
      releaseDeviceValue(H);
      H = null;
      for (const k of [zero, update, ...outputs.values()]) k.destroy();
      outputs.clear();
      gpu?.destroy();
      gpu = null;
    },
  };
}

// The decoder's options; the batch is capped so that the state (b·d, n) stays within MAX_ELEMENTS.
const DECODER_OPTIONS = schema.options(
  {
    A: schema.present<Tensor>(),
    D: schema.optional(schema.present<Tensor>()),
    deltaBias: schema.optional(schema.present<Tensor>()),
    deltaSoftplus: schema.optional(schema.boolean()),
    batch: schema.present<number>(),
    mode: schema.optional(schema.oneOf(GPU_MODES)),
  },
  "decoder options",
);

// One token's arguments of GpuDecoder.step, for a decoder of batch b, d channels and n states.
function stepArgsSchema(batch: number, dim: number, N: number) {
  const bd = schema.tensor({ shape: [batch, dim], axes: ["b", "d"] });
  const bn = schema.tensor({ shape: [batch, N], axes: ["b", "n"] });
  return schema.options(
    { u: bd, delta: bd, B: bn, C: bn, z: schema.optional(bd) },
    "step arguments",
  );
}
