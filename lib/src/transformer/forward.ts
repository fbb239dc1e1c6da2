/**
 * Running a Transformer++ forward (lessons 11-12): the public function around the one definition
 * in `./model.ts`. It checks its arguments once and runs the model on the engine's backend.
 */
import type { Tensor } from "../tensor";
import { checkOptions, schema } from "../validate";
import type { Backend } from "../ops/backend";
import { reference } from "../ops/reference/index";
import { simdBackend } from "../ops/simd/index";
import { runInference } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { checkActivationSize, checkTransformerModel } from "./checks";
import { type TransformerModel, llamaLM } from "./model";

/**
 * The implementations of the Transformer++'s inference functions (forward, prefill, decoding
 * steps, generation, last-position logits):
 * - "simd" (default): the simd backend (`ops/simd/`: WebAssembly SIMD kernels in float32, the
 *   projections and attention as register-blocked products), one thread;
 * - "typescript": the reference backend (plain loops, float64 sums), what the tests trust.
 * Both give the same logits up to float32 rounding (tests: relative 1e-4).
 */
export type InferenceEngine = "typescript" | "simd";

/** The `engine` option of the inference functions. */
export const ENGINE_OPTION = schema.optional(schema.oneOf(["simd", "typescript"] as const));

/** The backend of an inference engine (default "simd"). */
export function inferenceBackend(engine: InferenceEngine | undefined): Backend {
  return engine === "typescript" ? reference : simdBackend();
}

/** Options of {@link transformerForward}. */
export interface TransformerForwardOptions {
  /** "simd" (default) or "typescript" (see {@link InferenceEngine}). */
  engine?: InferenceEngine;
}

const FORWARD_OPTIONS = schema.options({ engine: ENGINE_OPTION });

/**
 * Logits of a Transformer++ for every position of every sequence (`./model.ts`: embedding,
 * decoder layers, final norm, head).
 *
 * @param model from `initTransformer` or `loadTransformerCheckpoint` (float32)
 * @param tokens (b, l) ids in [0, vocab_size): `{ shape: [b, l], data: Int32Array }` or number[][]
 * @param options engine: "simd" (default) or "typescript"
 * @returns logits (b, l, vocab_size) float32; position t sees tokens 0 … t only (causal)
 */
export function transformerForward(
  model: TransformerModel,
  tokens: TokenBatch,
  options: TransformerForwardOptions = {},
): Tensor {
  const fn = "transformerForward";
  const config = checkTransformerModel(fn, model, { finite: true });
  const o = checkOptions(fn, "options", options, FORWARD_OPTIONS);
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, config.vocab_size);
  checkActivationSize(fn, config, b * l);
  return runInference(inferenceBackend(o.engine), (ops) => llamaLM(ops, model, ids, b, l));
}
