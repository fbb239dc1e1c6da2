/**
 * State space duality (lesson 13): the segment sum and the three forms of one SSD operator (the
 * recurrence, the quadratic "masked attention" form, the chunked algorithm), checked, on tensors
 * in the layout of `state-spaces/mamba`'s `mamba_ssm/modules/ssd_minimal.py`:
 *
 *   X (b, l, h, p)   the input per head, already scaled by Δ (ssd_minimal's `X * dt`)
 *   A (b, l, h)      the log-decay per step, A·Δ ≤ 0 (ssd_minimal's `A * dt`)
 *   B, C (b, l, g, n)  g groups shared by h / g heads each (g = h: one per head)
 *   states (b, h, p, n)
 *
 * The algorithms are in `ops/reference/ssd.ts` (float64), where the model's `ssd` op runs them.
 */
import { type Tensor, allocate, dtypeOf } from "../tensor";
import { argumentError, checkArg, checkOptions, schema } from "../validate";
import { SimdMemory } from "../ops/simd/memory";
import { chunkedGemm } from "../ops/simd/ssd";
import {
  type SsdDims,
  segsumNaiveRaw,
  segsumRaw,
  ssdChunkedRaw,
  ssdQuadraticRaw,
  ssdRecurrenceRaw,
} from "../ops/reference/ssd";

/** The SSD operator's inputs (see the module comment for the layouts). */
export interface SsdInputs {
  X: Tensor;
  A: Tensor;
  B: Tensor;
  C: Tensor;
}

/** What {@link ssdChunked} and {@link ssdRecurrence} return. */
export interface SsdResult {
  /** (b, l, h, p), X's dtype. */
  y: Tensor;
  /** The state after the last position, (b, h, p, n), X's dtype. */
  finalState: Tensor;
}

/** Longest segment of {@link segsum} and sequence of {@link ssdQuadratic} (both are O(T²)). */
const MAX_QUADRATIC = 4096;

const SEGMENT = schema.tensor({ rank: 1, axes: ["T"] });

function segsumChecked(fn: string, a: unknown, naive: boolean): Tensor {
  const t = checkArg(fn, "a", a, SEGMENT);
  const T = t.shape[0];
  if (T > MAX_QUADRATIC)
    throw argumentError(fn, "a", `a segment of at most ${MAX_QUADRATIC} steps (got ${T})`);
  const out = new Float64Array(T * T);
  const round = t.data instanceof Float32Array ? Math.fround : undefined;
  (naive ? segsumNaiveRaw : segsumRaw)(t.data, out, round);
  const data = allocate(dtypeOf(t), T * T);
  data.set(out);
  return { shape: [T, T], data };
}

/**
 * The segment sums of a (T): out[i][j] = a_{j+1} + … + a_i for j ≤ i (0 on the diagonal), −∞
 * above it, so exp(out) is the SSD decay mask L. Stable: each entry sums its own segment
 * (upstream's `segsum`). Computed in a's dtype (float32 input: float32 sums).
 * @returns (T, T)
 */
export function segsum(a: Tensor): Tensor {
  return segsumChecked("segsum", a, false);
}

/**
 * The naive segment sums, cumsum_i − cumsum_j (upstream's `segsum_unstable`): equal to
 * {@link segsum} in exact arithmetic, but a short segment late in a long sequence loses its
 * digits to the cancellation of two large cumulative sums (lesson 13 measures it).
 * @returns (T, T)
 */
export function segsumNaive(a: Tensor): Tensor {
  return segsumChecked("segsumNaive", a, true);
}

/** The inputs' schema; `finite`: whether every value is read for NaN and ±∞. */
function ssdInputsSchema(finite: boolean) {
  const BC = schema.tensor({ rank: 4, axes: ["b", "l", "g", "n"], finite });
  return schema.options(
    {
      X: schema.tensor({ rank: 4, axes: ["b", "l", "h", "p"], finite }),
      A: schema.tensor({ rank: 3, axes: ["b", "l", "h"], finite }),
      B: BC,
      C: BC,
    },
    "{ X, A, B, C }",
  );
}
const SSD_INPUTS = ssdInputsSchema(true);
const SSD_INPUTS_SHAPES = ssdInputsSchema(false);

/**
 * Checks the inputs (an object { X, A, B, C }) of the SSD functions (also gpu/ssd.ts's), naming
 * `fn` and `inputs.<key>`; returns the sizes. `{ values: false }` leaves the values unread: a
 * caller that checks them elsewhere (gpu/ssd.ts on WebGPU, on the device after the upload).
 */
export function checkSsdInputs(
  fn: string,
  inputs: unknown,
  options: { values?: boolean } = {},
): { dims: SsdDims; t: SsdInputs } {
  const o = checkOptions(
    fn,
    "inputs",
    inputs,
    options.values === false ? SSD_INPUTS_SHAPES : SSD_INPUTS,
  );
  const t = o as SsdInputs;
  const [batch, length, heads, headDim] = t.X.shape;
  const want = (arg: string, got: Tensor, shape: number[], axes: string) => {
    if (got.shape.length !== shape.length || got.shape.some((s, i) => s !== shape[i]))
      throw argumentError(
        fn,
        `inputs.${arg}`,
        `a tensor of shape [${shape.join(", ")}] ${axes} matching X (got [${got.shape.join(", ")}])`,
      );
  };
  want("A", t.A, [batch, length, heads], "(b, l, h)");
  const [, , groups, dstate] = t.B.shape;
  want("B", t.B, [batch, length, groups, dstate], "(b, l, g, n)");
  want("C", t.C, [batch, length, groups, dstate], "(b, l, g, n) like B");
  if (groups < 1 || heads % groups !== 0)
    throw argumentError(
      fn,
      "inputs.B",
      `a number of groups g (axis 2) that divides the heads h = ${heads} (got g = ${groups})`,
    );
  return { dims: { batch, length, heads, headDim, groups, dstate }, t };
}

function checkInitialState(fn: string, state: Tensor | undefined, d: SsdDims): void {
  if (!state) return;
  const shape = [d.batch, d.heads, d.headDim, d.dstate];
  if (state.shape.length !== 4 || state.shape.some((s, i) => s !== shape[i]))
    throw argumentError(
      fn,
      "options.initialState",
      `a tensor of shape [${shape.join(", ")}] (b, h, p, n) (got [${state.shape.join(", ")}])`,
    );
}

function result(
  like: Tensor,
  y: ArrayLike<number>,
  yShape: number[],
  final: ArrayLike<number>,
  d: SsdDims,
) {
  const out = (data: ArrayLike<number>, shape: number[]): Tensor => {
    const t = allocate(dtypeOf(like), data.length);
    t.set(data);
    return { shape, data: t };
  };
  return {
    y: out(y, yShape),
    finalState: out(final, [d.batch, d.heads, d.headDim, d.dstate]),
  };
}

const STATE_OPTION = schema.optional(schema.tensor({ rank: 4, axes: ["b", "h", "p", "n"] }));
const RECURRENCE_OPTIONS = schema.options({ initialState: STATE_OPTION });

/**
 * The linear form (the recurrence, one position at a time, per head):
 *   h_t = exp(A_t) h_{t−1} + X_t B_tᵀ  (p × n),   y_t = h_t C_t  (p)
 * from `initialState` (b, h, p, n) or zeros. Float64 arithmetic.
 */
export function ssdRecurrence(
  inputs: SsdInputs,
  options: { initialState?: Tensor } = {},
): SsdResult {
  const fn = "ssdRecurrence";
  const { dims, t } = checkSsdInputs(fn, inputs);
  const o = checkOptions(fn, "options", options, RECURRENCE_OPTIONS);
  checkInitialState(fn, o.initialState, dims);
  const y = new Float64Array(t.X.data.length);
  const final = new Float64Array(dims.batch * dims.heads * dims.headDim * dims.dstate);
  ssdRecurrenceRaw(
    dims,
    t.X.data,
    t.A.data,
    t.B.data,
    t.C.data,
    o.initialState?.data ?? null,
    y,
    final,
  );
  return result(t.X, y, [...t.X.shape], final, dims);
}

/**
 * The quadratic form: y = M X per head, with the L × L matrix
 *   M[t, s] = (C_t · B_s) · exp(segsum(A)[t, s])   (0 above the diagonal),
 * masked attention whose mask is the cumulative decay. Zero initial state; O(l²) (l ≤ 4096).
 * @returns y (b, l, h, p)
 */
export function ssdQuadratic(inputs: SsdInputs): Tensor {
  const fn = "ssdQuadratic";
  const { dims, t } = checkSsdInputs(fn, inputs);
  if (dims.length > MAX_QUADRATIC)
    throw argumentError(
      fn,
      "inputs.X",
      `a sequence of at most ${MAX_QUADRATIC} positions (the quadratic form holds l × l numbers per head) (got ${dims.length})`,
    );
  const y = new Float64Array(t.X.data.length);
  ssdQuadraticRaw(dims, t.X.data, t.A.data, t.B.data, t.C.data, y);
  const data = allocate(dtypeOf(t.X), y.length);
  data.set(y);
  return { shape: [...t.X.shape], data };
}

const CHUNKED_OPTIONS = schema.options({
  chunkSize: schema.integer({ min: 1, max: MAX_QUADRATIC }),
  initialState: STATE_OPTION,
  engine: schema.optional(schema.oneOf(["typescript", "simd"] as const)),
});

/** The memory of {@link ssdChunked}'s "simd" engine (one per thread, reused by every call). */
let simdMemory: SimdMemory | null = null;

/**
 * The chunked SSD algorithm (`ssd_minimal_discrete`, the paper's Listing 1): the quadratic form
 * inside chunks of `chunkSize` positions, each chunk's state, the recurrence over the chunk
 * states, and the states' contribution to the outputs (see `ssdChunkedRaw` for the four steps).
 * A `chunkSize` that does not divide l leaves a shorter last chunk (upstream pads with zeros:
 * the same numbers). Equal to {@link ssdRecurrence} and {@link ssdQuadratic} up to rounding.
 *
 * `engine`: "typescript" (the default: float64 loops, `ssdChunkedRaw`) or "simd" (the same
 * algorithm with its products on the WebAssembly SIMD gemm, in float32: `ops/simd/ssd.ts`,
 * what Mamba-2's simd engines run); outputs in X's dtype either way.
 */
export function ssdChunked(
  inputs: SsdInputs,
  options: { chunkSize: number; initialState?: Tensor; engine?: "typescript" | "simd" },
): SsdResult {
  const fn = "ssdChunked";
  const { dims, t } = checkSsdInputs(fn, inputs);
  const o = checkOptions(fn, "options", options, CHUNKED_OPTIONS);
  checkInitialState(fn, o.initialState, dims);
  if (o.engine === "simd") {
    const m = (simdMemory ??= new SimdMemory());
    m.reset();
    const { batch, length: L, heads: H, headDim: P, groups: G, dstate: N } = dims;
    const state: Tensor = {
      shape: [batch, H, P, N],
      data: Float32Array.from(o.initialState?.data ?? new Float32Array(batch * H * P * N)),
    };
    const y = chunkedGemm(
      m,
      { batch, L, H, P, G, N, Q: o.chunkSize! },
      m.input(t.X),
      null,
      t.A.data,
      m.input(t.B),
      m.input(t.C),
      state,
    );
    return result(t.X, y.data, [...t.X.shape], state.data, dims);
  }
  const y = new Float64Array(t.X.data.length);
  const final = new Float64Array(dims.batch * dims.heads * dims.headDim * dims.dstate);
  ssdChunkedRaw(
    dims,
    t.X.data,
    t.A.data,
    t.B.data,
    t.C.data,
    o.chunkSize!,
    o.initialState?.data ?? null,
    y,
    final,
  );
  return result(t.X, y, [...t.X.shape], final, dims);
}
