/**
 * Running a Transformer++ forward (lessons 11-12): the public function around the one definition
 * in `./model.ts`. It checks its arguments once and runs the model on the reference backend.
 */
import type { Tensor } from "../tensor";
import { reference } from "../ops/reference/index";
import { Ops } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { checkActivationSize, checkTransformerModel } from "./checks";
import { type TransformerModel, llamaLM } from "./model";

/**
 * Logits of a Transformer++ for every position of every sequence (`./model.ts`: embedding,
 * decoder layers, final norm, head).
 *
 * @param model from `initTransformer` or `loadTransformerCheckpoint` (float32)
 * @param tokens (b, l) ids in [0, vocab_size): `{ shape: [b, l], data: Int32Array }` or number[][]
 * @returns logits (b, l, vocab_size) float32; position t sees tokens 0 … t only (causal)
 */
export function transformerForward(model: TransformerModel, tokens: TokenBatch): Tensor {
  const fn = "transformerForward";
  const config = checkTransformerModel(fn, model, { finite: true });
  const {
    ids,
    shape: [b, l],
  } = readTokens(fn, tokens, config.vocab_size);
  checkActivationSize(fn, config, b * l);
  return llamaLM(new Ops(reference), model, ids, b, l);
}
