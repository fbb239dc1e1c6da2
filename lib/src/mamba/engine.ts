/**
 * The engines of Mamba inference (`mambaForward`, `mambaMixer`, `mambaPrefill`, `mambaStep`,
 * `mambaGenerate`) and of Mamba-2's decoding (`mamba2Prefill`, `mamba2Step`, `mamba2Generate`),
 * the same names as training's (`mambaLossAndGrads`):
 *
 * - "typescript": the reference backend (`ops/reference/`): float64 sums, any dtype. What the
 *   tests compare every engine against.
 * - "simd": the inference backend (`ops/simd/infer.ts`): WebAssembly SIMD kernels in float32
 *   reading the weights in place, float32 or kept in 16 bits; the conv and scan continue from
 *   decoding states natively (Mamba-2's SSD continues from a state on the reference, in place
 *   in the same memory: a step's products dominate its time).
 * - "simd-threads": "simd" with its large ops split over a pool of worker threads
 *   (`ops/simd/infer-threads.ts`, `os.availableParallelism()` threads).
 *
 * The simd engines run a sequence in chunks of positions, carrying the conv and SSM states from
 * one chunk to the next (exactly what `mambaPrefill` then `mambaStep` do): the arena then holds
 * one chunk's activations, whatever the length.
 */
import type { Tensor } from "../tensor";
import { schema } from "../validate";
import { wasmSimdSupported } from "../ops/simd/wasm";
import type { Backend } from "../ops/backend";
import { Ops } from "../ops/tape";
import { reference } from "../ops/reference/index";
import { type InferenceParams, ModelMemory } from "../ops/simd/infer";
import { inferPool } from "../ops/simd/infer-threads";
import type { LayerState, MambaModel } from "./model";

/** How a Mamba model runs (see the module comment). */
export type MambaEngine = "typescript" | "simd" | "simd-threads";

export const ENGINE_OPTION = schema.optional(
  schema.oneOf<MambaEngine>(["typescript", "simd", "simd-threads"]),
);

/**
 * The engine a call runs: `option` when given, else `fallback` (the function's default), except
 * that a float64 model, or a JavaScript engine without WebAssembly SIMD, runs "typescript" by
 * default. An explicit simd engine on a float64 model is refused, naming `fn`.
 */
export function resolveEngine(
  fn: string,
  model: InferenceParams,
  option: MambaEngine | undefined,
  fallback: "simd" | "simd-threads",
): MambaEngine {
  const float64 = model.params.get("backbone.embeddings.weight")?.data instanceof Float64Array;
  if (option === undefined) return float64 || !wasmSimdSupported() ? "typescript" : fallback;
  if (option !== "typescript" && float64)
    throw new Error(
      `${fn}: argument 'options.engine' must be "typescript" for a float64 model (got "${option}", which computes in float32)`,
    );
  if (option !== "typescript" && !wasmSimdSupported())
    throw new Error(
      `${fn}: argument 'options.engine' must be "typescript" here: this JavaScript engine lacks WebAssembly SIMD (got "${option}")`,
    );
  return option;
}

/**
 * The backend of one call of `engine` on `model`, started (for the simd engines: the arena of
 * the model's memory emptied, its weights moved in where needed, and a cache's decoding
 * `states` too, updated in place from then on: `ops/simd/infer.ts`). A simd backend's tensors
 * are valid until the next call on the same model: copy out what is returned.
 */
export function startCall(
  fn: string,
  model: InferenceParams,
  engine: MambaEngine,
  states: readonly { conv: Tensor; ssm: Tensor }[] = [],
): Backend {
  if (engine === "typescript") return reference;
  let bytes = 0;
  for (const t of model.params.values()) bytes += t.data.byteLength;
  for (const t of model.half?.values() ?? []) bytes += t.data.byteLength;
  if (bytes > MAX_WEIGHT_BYTES)
    throw new Error(
      `${fn}: argument 'model' must fit the engine's memory (a WebAssembly memory holds 4 GiB: weights and a chunk's activations) (got ${(bytes / 2 ** 30).toFixed(2)} GiB of weights; keep a 16-bit checkpoint's matrices in 16 bits with loadMambaCheckpoint's keep, or use engine "typescript")`,
    );
  const backend = ModelMemory.of(model).backend(engine === "simd-threads" ? inferPool() : null);
  backend.start(
    fn,
    model,
    states.flatMap((s) => [s.conv, s.ssm]),
  );
  return backend;
}

/** The most weight bytes the simd engines take (3 GiB: a 4 GiB memory, room for activations). */
const MAX_WEIGHT_BYTES = 3 * 2 ** 30;

/** Positions of one chunk, all sequences of the batch together (see the module comment). */
const CHUNK_TOKENS = 256;

/** A decoding cache of Mamba or Mamba-2: per layer a conv state and an SSM state. */
export interface DecodingCache {
  batch: number;
  position: number;
  conv: Tensor<Float32Array>[];
  ssm: Tensor<Float32Array>[];
}

/** The cache's tensors as per-layer states (the same arrays: updated in place). */
export function cacheStates(cache: DecodingCache): { conv: Tensor; ssm: Tensor }[] {
  return cache.conv.map((conv, i) => ({ conv, ssm: cache.ssm[i] }));
}

/**
 * A prompt of (cache.batch, l) `ids` read into an empty cache, as `mambaPrefill` and
 * `mamba2Prefill` do: on the simd engines in chunks of positions (the whole prompt at once on
 * "typescript"), each chunk run by `forward` on the call's backend from the cache's states, which
 * it continues and leaves at the chunk's end. Returns the logits of the last position,
 * (b, vocab_size), in float32.
 */
export function prefillInChunks(
  fn: string,
  model: InferenceParams,
  engine: MambaEngine,
  cache: DecodingCache,
  ids: Int32Array,
  l: number,
  forward: (
    ops: Ops,
    chunk: Int32Array,
    length: number,
    states: { conv: Tensor; ssm: Tensor }[],
  ) => Tensor,
): Tensor<Float32Array> {
  const b = cache.batch;
  const chunks = engine === "typescript" ? [[0, l] as [number, number]] : chunksOf(b, l);
  let logits: Tensor | null = null;
  for (const [p0, p1] of chunks) {
    const chunk = p0 === 0 && p1 === l ? ids : idsColumns(ids, b, l, p0, p1);
    const states = cacheStates(cache);
    logits = forward(new Ops(startCall(fn, model, engine, states)), chunk, p1 - p0, states);
  }
  cache.position = l;
  const data = Float32Array.from(logits!.data);
  return { shape: [b, data.length / b], data };
}

/** The chunks [start, end) of l positions for a batch of b sequences. */
export function chunksOf(b: number, l: number): [number, number][] {
  const len = Math.max(1, Math.floor(CHUNK_TOKENS / b));
  const out: [number, number][] = [];
  for (let p = 0; p < l; p += len) out.push([p, Math.min(l, p + len)]);
  return out;
}

/** Columns [p0, p1) of (b, l) ids. */
export function idsColumns(
  ids: Int32Array,
  b: number,
  l: number,
  p0: number,
  p1: number,
): Int32Array {
  const n = p1 - p0;
  const out = new Int32Array(b * n);
  for (let i = 0; i < b; i++) out.set(ids.subarray(i * l + p0, i * l + p1), i * n);
  return out;
}

/** The number of layers of `model` and the shapes of a layer's states for b sequences. */
export function stateShapes(
  model: MambaModel,
  b: number,
): { layers: number; conv: [number, number, number]; ssm: [number, number, number] } {
  const {
    intermediate_size: E,
    conv_kernel: k,
    state_size: N,
    num_hidden_layers: layers,
  } = model.config;
  return { layers, conv: [b, E, k], ssm: [b, E, N] };
}

/** Zero states (float32) for every layer of `model` and b sequences: a fresh cache's. */
export function zeroStates(model: MambaModel, b: number): LayerState<Float32Array>[] {
  const { layers, conv, ssm } = stateShapes(model, b);
  return Array.from({ length: layers }, () => ({
    conv: { shape: [...conv], data: new Float32Array(conv[0] * conv[1] * conv[2]) },
    ssm: { shape: [...ssm], data: new Float32Array(ssm[0] * ssm[1] * ssm[2]) },
  }));
}

/** A float32 copy of t (out of a simd backend's arena, which the next call reuses). */
export function copyOut(t: Tensor, shape: number[] = t.shape): Tensor<Float32Array> {
  return { shape: [...shape], data: Float32Array.from(t.data) };
}
