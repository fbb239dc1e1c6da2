/**
 * Running a Mamba-2 LM forward (lesson 13): the public function around the one definition in
 * `./model.ts`. It checks its arguments once and runs the model on the reference backend.
 */
import type { Tensor } from "../tensor";
import { checkFiniteParams } from "../validate";
import { reference } from "../ops/reference/index";
import { Ops } from "../ops/tape";
import { type TokenBatch, readTokens } from "../lm/tokens";
import { checkMamba2Model } from "./checks";
import { type Mamba2Model, mamba2LM } from "./model";

/**
 * The logits of a Mamba-2 LM at every position (`./model.ts`: embedding, blocks, final norm,
 * head), the SSD by the chunked algorithm with chunks of `config.chunk_size`.
 *
 * @param model from `initMamba2` or `loadMamba2Checkpoint` (float32; float64 for gradient checks)
 * @param tokens (b, l) ids in [0, vocab_size): `{ shape: [b, l], data: Int32Array }` or number[][]
 * @returns logits (b, l, vocab_size) in the parameters' dtype
 */
export function mamba2Forward(model: Mamba2Model, tokens: TokenBatch): Tensor {
  const fn = "mamba2Forward";
  const m = checkMamba2Model(fn, model, ["float32", "float64"]);
  const { ids, shape } = readTokens(fn, tokens, m.config.vocab_size);
  checkFiniteParams(fn, m.params);
  return mamba2LM(new Ops(reference), m, ids, shape[0], shape[1]);
}
